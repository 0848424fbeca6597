// The shipped nginx templates as nginx itself reads them, with each module loaded.
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findNginx } from '../../nginx/nginx-tools.mjs';
import { renderMainConfig, renderServerConfig } from '../../lib/nginx-config/nginx-config.js';
import { NginxTestServer } from '../../lib/testing/index.js';
import { jsModuleLoadLine, moduleLoadLine } from '../../lib/testing/nginx-test-server.js';
import { deriveTicketKey } from '../../lib/tickets/subscription-ticket.js';
import { runNginxConfig } from '../../lib/cli/nginx-config-command.js';
import { SERVERS } from '../support/servers.js';

const run = promisify(execFile);
describe.each(SERVERS)('the %s configuration as nginx reads it', (kind) => {
  let dir: string;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['session mode', { mode: 'session' as const }],
    ['ticket mode, with njs loaded', { mode: 'ticket' as const, ticketKey: deriveTicketKey('e2e-nginx-config-secret') }],
    ['secure-link mode, without njs', { mode: 'secure-link' as const, ticketKey: deriveTicketKey('e2e-nginx-config-secret') }],
  ])('passes nginx -t once rendered (%s)', async (_mode, auth) => {
    dir ??= await mkdtemp(join(tmpdir(), 'nginx-config-spec-'));
    await mkdir(join(dir, 'logs'), { recursive: true });
    await mkdir(join(dir, 'tmp'), { recursive: true });
    const serverConf = join(dir, 'server.conf');
    const values = { server: kind, listen: '127.0.0.1:9', pubListen: '127.0.0.1:10', pubAllow: '10.0.0.0/8', app: '127.0.0.1:11', auth };
    await writeFile(serverConf, await renderServerConfig(values));
    const modules = [moduleLoadLine(kind), auth.mode === 'ticket' ? jsModuleLoadLine() : ''].filter(Boolean).join('\n');
    await writeFile(join(dir, 'nginx.conf'), await renderMainConfig(values, serverConf, modules));
    const { stderr } = await run(findNginx() ?? 'nginx', ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')]);
    expect(stderr).toContain('test is successful');
  });

  it('NginxTestServer.start leaves nothing behind when nginx refuses the configuration', async () => {
    const workRoot = await mkdtemp(join(tmpdir(), 'nginx-config-spec-root-'));
    try {
      await expect(
        NginxTestServer.start({ server: kind, appUpstream: '127.0.0.1:1; not_a_directive', workRoot }),
      ).rejects.toThrow(/nginx start failed: .*not_a_directive/);
      expect(await readdir(workRoot)).toEqual([]);
    } finally {
      await rm(workRoot, { recursive: true, force: true });
    }
  });
});

describe.each(SERVERS)('npx nestjs-push-stream nginx-config --server %s, as nginx -t reads it', (kind) => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nginx-config-cli-'));
    await mkdir(join(dir, 'logs'));
    await mkdir(join(dir, 'tmp'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const out = { stdout: '', stderr: '' };
    const env = { NGINX_PUSH_STREAM_SECRET: 'e2e-nginx-config-secret' };
    const code = await runNginxConfig(['--server', kind, ...argv], env, { stdout: (t) => void (out.stdout += t), stderr: (t) => void (out.stderr += t) });
    return { code, ...out };
  }

  const nginxT = (config: string) => run(findNginx() ?? 'nginx', ['-t', '-p', dir, '-c', config]).then((r) => r.stderr);

  const TICKET = ['--auth', 'ticket'];
  const SECURE_LINK = ['--auth', 'secure-link'];
  // The auth subrequests to their own upstream (the app's auth listener).
  const AUTH_APP = ['--auth-app', '127.0.0.1:3001', '--auth-app', '[::1]:3001'];

  it.each([[[]], [TICKET], [SECURE_LINK], [AUTH_APP]])('--check %j: the include variant and the stand-alone one pass nginx -t', async (auth) => {
    for (const variant of [[], ['--standalone']]) {
      const result = await cli([...auth, ...variant, '--listen', '127.0.0.1:8080', '--app', '127.0.0.1:3000', '--check']);
      expect({ variant, code: result.code, stderr: result.stderr }).toEqual({ variant, code: 0, stderr: 'nginx -t: the configuration is valid\n' });
    }
  });

  it.each([[[]], [TICKET], [SECURE_LINK], [AUTH_APP]])('%j: the printed include, saved to a file and included from nginx.conf with the load_module lines it names, passes nginx -t', async (auth) => {
    const { code, stdout } = await cli([...auth, '--listen', '[::1]:8080', '--pub-listen', '127.0.0.1:8081', '--pub-allow', '10.0.0.0/8']);
    expect(code).toBe(0);
    const load = [...stdout.matchAll(/^#\s+(load_module \S+;)$/gm)].map((m) => m[1]);
    // The server's module (unless compiled in), and njs in ticket mode.
    expect(load.some((l) => l.includes('ngx_http_js_module'))).toBe(auth === TICKET);
    await writeFile(join(dir, 'push-stream.conf'), stdout);
    await writeFile(join(dir, 'main.conf'), `${load.join('\n')}\npid nginx.pid;\nerror_log logs/error.log;\nevents {}\nhttp {\n  client_body_temp_path tmp/body;\n  proxy_temp_path tmp/proxy;\n  include ${join(dir, 'push-stream.conf')};\n}\n`);
    expect(await nginxT(join(dir, 'main.conf'))).toContain('test is successful');
  });

  it.each([[[]], [TICKET], [SECURE_LINK]])('%j: the stand-alone config, saved as printed, passes nginx -t', async (auth) => {
    const { code, stdout } = await cli([...auth, '--standalone']);
    expect(code).toBe(0);
    await writeFile(join(dir, 'standalone.conf'), stdout);
    expect(await nginxT(join(dir, 'standalone.conf'))).toContain('test is successful');
  });
});
