#!/usr/bin/env node
// What `npm test` needs, checked before the suites run (npm's `pretest`): the npm packages
// (npm ci on a fresh clone), from the system what apt-get installs when run as root on
// Debian/Ubuntu (.ci/run relies on this too), and the Push Stream Module built for that nginx
// (cached; SKIP_PUSH_STREAM=1 leaves it out, and the test run says so loudly). Otherwise it prints
// the exact command and exits 1, instead of letting suites fail one by one.
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

const { APT_JS_PACKAGE, aptCommand, buildPushStreamModule, findNginx, locateJsModule, locateModule, NginxToolsError } = await import('../nginx/nginx-tools.mjs');

const has = (command) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
const nginxHasNchan = () => locateModule('nchan', findNginx()).missing === undefined;

/** Debian package for each thing the suites start or call. */
const NEEDS = [
  { what: 'nginx', pkg: 'nginx', ok: () => findNginx() !== undefined },
  { what: 'the Nchan module for nginx', pkg: 'libnginx-mod-nchan', ok: () => findNginx() !== undefined && nginxHasNchan() },
  { what: 'njs for nginx (signed-ticket suites)', pkg: APT_JS_PACKAGE, ok: () => findNginx() !== undefined && locateJsModule(findNginx()).missing === undefined },
  { what: 'Chromium (browser suites)', pkg: 'chromium', ok: () => has('chromium') },
  { what: 'curl (the demo is probed with the seed\'s curl command)', pkg: 'curl', ok: () => has('curl') },
  { what: 'redis-server (Redis session suite)', pkg: 'redis-server', ok: () => has('redis-server') },
];

/** The Push Stream Module for this nginx: built once from ../shared/vendor/ or the upstreams, then cached. */
async function pushStreamModule() {
  if (process.env.SKIP_PUSH_STREAM === '1') {
    process.stdout.write('SKIP_PUSH_STREAM=1: the Push Stream Module is not built and its suites will not run.\n');
    return;
  }
  if (locateModule('push-stream', findNginx()).missing === undefined) return;
  try {
    const path = await buildPushStreamModule({ log: (line) => process.stdout.write(`push-stream module: ${line}\n`) });
    process.stdout.write(`push-stream module: ${path}\n`);
  } catch (err) {
    process.stderr.write(
      `The tests run on both servers, and the Push Stream Module could not be built:\n${err instanceof NginxToolsError ? err.message : err.stack}\n` +
        'Fix that, or run the tests on Nchan only with SKIP_PUSH_STREAM=1 (reported as not tested).\n',
    );
    process.exit(1);
  }
}

const missing = NEEDS.filter((n) => !n.ok());
if (missing.length === 0) {
  await pushStreamModule();
  process.exit(0);
}

const command = aptCommand(missing.map((n) => n.pkg));
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (isRoot && existsSync('/usr/bin/apt-get')) {
  process.stdout.write(`Installing what the tests need: ${missing.map((n) => n.what).join(', ')}\n$ ${command}\n`);
  // The Debian nginx package starts a system nginx on port 80; the tests never use it.
  const result = spawnSync('sh', ['-c', command], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  const still = NEEDS.filter((n) => !n.ok());
  if (result.status === 0 && still.length === 0) {
    await pushStreamModule();
    process.exit(0);
  }
  process.stderr.write(`Still missing after apt-get: ${still.map((n) => n.what).join(', ') || '(install failed)'}\n`);
  process.exit(1);
}
process.stderr.write(
  `The tests need ${missing.map((n) => n.what).join(', ')}.\n` +
    (existsSync('/usr/bin/apt-get') ? `Install with:\n\n  sudo sh -c '${command}'\n\n` : 'Install them with your package manager.\n'),
);
process.exit(1);
