// The shipped nginx templates as nginx itself reads them, with each module loaded.
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findNginx } from '../../nginx/nginx-tools.mjs';
import { renderMainConfig, renderServerConfig } from '../../lib/nginx-config/nginx-config.js';
import { NginxTestServer } from '../../lib/testing/index.js';
import { moduleLoadLine } from '../../lib/testing/nginx-test-server.js';
import { runNginxConfig } from '../../lib/cli/nginx-config-command.js';
import { SERVERS } from '../support/servers.js';

const run = promisify(execFile);
describe.each(SERVERS)('the %s configuration as nginx reads it', (kind) => {
  let dir: string;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('passes nginx -t once rendered', async () => {
    dir = await mkdtemp(join(tmpdir(), 'nginx-config-spec-'));
    await mkdir(join(dir, 'logs'));
    await mkdir(join(dir, 'tmp'));
    const serverConf = join(dir, 'server.conf');
    await writeFile(serverConf, await renderServerConfig({ server: kind, listen: '127.0.0.1:9', pubListen: '127.0.0.1:10', pubAllow: '10.0.0.0/8', app: '127.0.0.1:11' }));
    await writeFile(join(dir, 'nginx.conf'), await renderMainConfig(serverConf, moduleLoadLine(kind)));
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
    const code = await runNginxConfig(['--server', kind, ...argv], {}, { stdout: (t) => void (out.stdout += t), stderr: (t) => void (out.stderr += t) });
    return { code, ...out };
  }

  const nginxT = (config: string) => run(findNginx() ?? 'nginx', ['-t', '-p', dir, '-c', config]).then((r) => r.stderr);

  it('--check: the include variant and the stand-alone one pass nginx -t', async () => {
    for (const variant of [[], ['--standalone']]) {
      const result = await cli([...variant, '--listen', '127.0.0.1:8080', '--app', '127.0.0.1:3000', '--check']);
      expect({ variant, code: result.code, stderr: result.stderr }).toEqual({ variant, code: 0, stderr: 'nginx -t: the configuration is valid\n' });
    }
  });

  it('the printed include, saved to a file and included from nginx.conf with the load_module line it names, passes nginx -t', async () => {
    const { code, stdout } = await cli(['--listen', '[::1]:8080', '--pub-listen', '127.0.0.1:8081', '--pub-allow', '10.0.0.0/8']);
    expect(code).toBe(0);
    const load = /^#\s+(load_module \S+;)$/m.exec(stdout)?.[1] ?? '';
    await writeFile(join(dir, 'push-stream.conf'), stdout);
    await writeFile(join(dir, 'main.conf'), `${load}\npid nginx.pid;\nerror_log logs/error.log;\nevents {}\nhttp {\n  client_body_temp_path tmp/body;\n  proxy_temp_path tmp/proxy;\n  include ${join(dir, 'push-stream.conf')};\n}\n`);
    expect(await nginxT(join(dir, 'main.conf'))).toContain('test is successful');
  });

  it('the stand-alone config, saved as printed, passes nginx -t', async () => {
    const { code, stdout } = await cli(['--standalone']);
    expect(code).toBe(0);
    await writeFile(join(dir, 'standalone.conf'), stdout);
    expect(await nginxT(join(dir, 'standalone.conf'))).toContain('test is successful');
  });
});
