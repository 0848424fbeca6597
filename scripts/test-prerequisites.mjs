#!/usr/bin/env node
// What `npm test` needs, checked before the suites run (npm's `pretest`): the npm packages
// (npm ci on a fresh clone), and from the system what apt-get installs when run as root on
// Debian/Ubuntu (.ci/run relies on this too). Otherwise it prints the exact command and exits 1,
// instead of letting suites fail one by one.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
if (!existsSync(join(ROOT, 'node_modules', 'typescript')) || !existsSync(join(ROOT, 'node_modules', 'jest'))) {
  process.stdout.write('Installing npm packages: npm ci\n');
  const ci = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: ROOT, stdio: 'inherit' });
  if (ci.status !== 0) process.exit(ci.status ?? 1);
}

const NCHAN_SO = ['/usr/lib/nginx/modules/ngx_nchan_module.so', '/usr/share/nginx/modules/ngx_nchan_module.so'];

const has = (command) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
const nginxHasNchan = () =>
  NCHAN_SO.some((p) => existsSync(p)) || /nchan/i.test(spawnSync('nginx', ['-V'], { encoding: 'utf8' }).stderr ?? '');

/** Debian package for each thing the suites start or call. */
const NEEDS = [
  { what: 'nginx', pkg: 'nginx', ok: () => has('nginx') },
  { what: 'the Nchan module for nginx', pkg: 'libnginx-mod-nchan', ok: () => has('nginx') && nginxHasNchan() },
  { what: 'Chromium (browser suites)', pkg: 'chromium', ok: () => has('chromium') },
  { what: 'curl (the demo is probed with the seed\'s curl command)', pkg: 'curl', ok: () => has('curl') },
  { what: 'redis-server (Redis session suite)', pkg: 'redis-server', ok: () => has('redis-server') },
];

const missing = NEEDS.filter((n) => !n.ok());
if (missing.length === 0) process.exit(0);

const packages = missing.map((n) => n.pkg);
const command = `apt-get update && apt-get install -y --no-install-recommends ${packages.join(' ')}`;
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (isRoot && existsSync('/usr/bin/apt-get')) {
  process.stdout.write(`Installing what the tests need: ${missing.map((n) => n.what).join(', ')}\n$ ${command}\n`);
  // The Debian nginx package starts a system nginx on port 80; the tests never use it.
  const result = spawnSync('sh', ['-c', command], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  const still = NEEDS.filter((n) => !n.ok());
  if (result.status === 0 && still.length === 0) process.exit(0);
  process.stderr.write(`Still missing after apt-get: ${still.map((n) => n.what).join(', ') || '(install failed)'}\n`);
  process.exit(1);
}
process.stderr.write(
  `The tests need ${missing.map((n) => n.what).join(', ')}.\n` +
    (existsSync('/usr/bin/apt-get') ? `Install with:\n\n  sudo sh -c '${command}'\n\n` : 'Install them with your package manager.\n'),
);
process.exit(1);
