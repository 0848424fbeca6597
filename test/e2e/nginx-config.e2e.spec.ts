// The shipped nginx templates as nginx itself reads them, with each module loaded.
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findNginx } from '../../nginx/nginx-tools.mjs';
import { moduleLoadLine, NGINX_CONFIG_DIR, NginxTestServer, renderTemplate } from '../../lib/testing/index.js';
import { SERVERS } from '../support/servers.js';

const run = promisify(execFile);
const read = (name: string) => readFile(join(NGINX_CONFIG_DIR, name), 'utf8');

describe.each(SERVERS)('the %s configuration as nginx reads it', (kind) => {
  let dir: string;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('passes nginx -t once rendered', async () => {
    dir = await mkdtemp(join(tmpdir(), 'nginx-config-spec-'));
    await mkdir(join(dir, 'logs'));
    await mkdir(join(dir, 'tmp'));
    const vars = {
      NGINX_LOAD_MODULES: moduleLoadLine(kind),
      NGINX_SERVER_CONF: join(dir, 'server.conf'),
      NGINX_LISTEN: '127.0.0.1:9',
      NGINX_PUB_LISTEN: '127.0.0.1:10',
      NGINX_PUB_ALLOW: '10.0.0.0/8',
      APP_UPSTREAM: '127.0.0.1:11',
    };
    await writeFile(vars.NGINX_SERVER_CONF, renderTemplate(await read(`${kind}.conf.template`), vars));
    await writeFile(join(dir, 'nginx.conf'), renderTemplate(await read('nginx.conf.template'), vars));
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
