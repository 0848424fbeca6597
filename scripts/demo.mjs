#!/usr/bin/env node
// `npm run demo`: the sample chat behind a real nginx, in one command.
//
//   1. installs what is missing: npm packages (npm ci); nginx with Nchan via apt-get when run as
//      root, otherwise prints the exact command and stops;
//   2. builds the package and the sample app;
//   3. starts nginx from the package's nginx/ templates on DEMO_PORT (default 9080, public) and
//      DEMO_PUB_PORT (default 9081, publisher, loopback only), in front of the app on a free port;
//      nginx's auth subrequests go to the app's auth listener (AUTH_PORT, another free port;
//      DEMO_AUTH_LISTENER=0: to the app's Express endpoint instead);
//   4. prints the chat URL and the seed's curl / WebSocket / CLI commands;
//   5. stops nginx and the app on Ctrl-C (SIGINT), SIGTERM or SIGHUP.
//
// Server: DEMO_SERVER=nchan|push-stream forces one; push-stream builds the Push Stream Module for
// this nginx on demand (about 10 s, cached). Otherwise push-stream when the module is already
// there (compiled in, NGINX_PUSH_STREAM_MODULE, the system's module folders or the build cache),
// Nchan in every other case.
// DEMO_SKIP_BUILD=1 reuses an existing dist/ (the sample app is still compiled).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { APT_NGINX_PACKAGES, aptCommand, buildPushStreamModule, findNginx, locateModule, NginxToolsError } from '../nginx/nginx-tools.mjs';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const APT_INSTALL = aptCommand(APT_NGINX_PACKAGES);

const env = process.env;
const log = (line = '') => process.stdout.write(`${line}\n`);
const fail = (message) => {
  process.stderr.write(`\ndemo: ${message}\n`);
  process.exit(1);
};

function run(command, args, options = {}) {
  log(`$ ${[command, ...args].join(' ')}`);
  const result = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit', ...options });
  if (result.error) fail(`${command} could not start: ${result.error.message}`);
  if (result.status !== 0) fail(`${[command, ...args].join(' ')} failed (exit ${result.status ?? result.signal})`);
}

function intEnv(name, fallback) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 65535) fail(`${name} must be a port number, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

function portIsFree(port) {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

// ---------------------------------------------------------------- 1. what the demo needs
if (Number(process.versions.node.split('.')[0]) < 20) fail(`Node.js 20 or newer is needed, this is ${process.version}`);

if (!existsSync(join(ROOT, 'node_modules', '@nestjs', 'core', 'package.json')) || !existsSync(join(ROOT, 'node_modules', 'typescript'))) {
  log('Installing npm packages…');
  run('npm', existsSync(join(ROOT, 'package-lock.json')) ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund']);
}

if (!['', '0', '1'].includes(env.DEMO_AUTH_LISTENER ?? '')) {
  fail(`DEMO_AUTH_LISTENER must be 1 (the default: the auth listener answers nginx's auth subrequests) or 0 (the app's endpoint), got ${JSON.stringify(env.DEMO_AUTH_LISTENER)}`);
}
const useAuthListener = env.DEMO_AUTH_LISTENER !== '0';

const forced = env.DEMO_SERVER || undefined;
if (forced !== undefined && forced !== 'nchan' && forced !== 'push-stream') fail(`DEMO_SERVER must be "nchan" or "push-stream", got ${JSON.stringify(forced)}`);

let nginxBinary = findNginx();
const hasModule = (kind) => nginxBinary !== undefined && locateModule(kind, nginxBinary).missing === undefined;
const server = forced ?? (hasModule('push-stream') ? 'push-stream' : 'nchan');

// Both servers run on Debian's nginx: install it (with Nchan) first when it is missing.
if (!nginxBinary || (server === 'nchan' && !hasModule('nchan'))) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = existsSync('/usr/bin/apt-get');
  if (isRoot && hasApt) {
    log(`nginx with Nchan is missing; installing it: ${APT_INSTALL}`);
    log('(the Debian package also starts a system nginx on port 80; the demo leaves it alone)');
    run('sh', ['-c', APT_INSTALL], { env: { ...env, DEBIAN_FRONTEND: 'noninteractive' } });
    nginxBinary = findNginx();
    if (!nginxBinary || (server === 'nchan' && !hasModule('nchan'))) fail('nginx with Nchan is still missing after apt-get install');
  } else {
    fail(
      hasApt
        ? `nginx with the Nchan module is needed. Install it, then run npm run demo again:\n\n  sudo sh -c '${APT_INSTALL}'\n`
        : 'nginx with the Nchan module (https://nchan.io) or the Push Stream Module is needed; this is not a Debian/Ubuntu machine, so install it with your package manager.',
    );
  }
}
let modulePath;
if (server === 'push-stream') {
  const found = locateModule('push-stream', nginxBinary);
  if (found.missing === undefined) modulePath = found.loadModule || undefined;
  else if (env.NGINX_PUSH_STREAM_MODULE) fail(found.missing);
  else {
    try {
      modulePath = await buildPushStreamModule({ binary: nginxBinary, log: (line) => log(`push-stream module: ${line}`) });
    } catch (err) {
      fail(`the Push Stream Module could not be built:\n${err instanceof NginxToolsError ? err.message : err.stack}\n(DEMO_SERVER=nchan runs the demo on Nchan instead)`);
    }
  }
}

const port = intEnv('DEMO_PORT', 9080);
const pubPort = intEnv('DEMO_PUB_PORT', 9081);
if (port === pubPort) fail('DEMO_PORT and DEMO_PUB_PORT must differ');
for (const [name, p] of [['DEMO_PORT', port], ['DEMO_PUB_PORT', pubPort]]) {
  if (!(await portIsFree(p))) fail(`port ${p} is in use on 127.0.0.1; choose another with ${name}=<port>`);
}

// ---------------------------------------------------------------- 2. build
if (env.DEMO_SKIP_BUILD === '1' && existsSync(join(ROOT, 'dist', 'index.js'))) {
  log('DEMO_SKIP_BUILD=1: using the existing dist/');
} else {
  run('npm', ['run', 'build']);
}
run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'sample-app', 'tsconfig.json')]);

// ---------------------------------------------------------------- 3. nginx and the app
// Imported by the package's own name, as an application would: resolved through package.json "exports".
const { NginxTestServer, findFreePort } = await import('nestjs-push-stream/testing');

const secret = env.NGINX_PUSH_STREAM_SECRET || `demo-only-${randomBytes(16).toString('hex')}`;
const appPort = env.DEMO_APP_PORT ? intEnv('DEMO_APP_PORT', 0) : await findFreePort();
// The app's auth listener (nestjs-push-stream/auth-listener): nginx asks it before every
// subscription, outside Express. The app starts it on AUTH_PORT.
let authPort;
if (useAuthListener) {
  do authPort = await findFreePort();
  while ([appPort, port, pubPort].includes(authPort));
}

let nginx;
let app;
let stopping = false;

async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  log('\nStopping nginx and the app…');
  if (nginx) {
    await nginx.dispose().catch((err) => process.stderr.write(`nginx stop: ${err.message}\n`));
  }
  if (app && app.exitCode === null && app.signalCode === null) {
    const exited = new Promise((resolve) => app.once('exit', resolve));
    app.kill('SIGTERM');
    const timer = setTimeout(() => app.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
  log('Stopped.');
  process.exit(code);
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => void stopAll(0));

try {
  nginx = await NginxTestServer.start({
    server,
    appUpstream: `127.0.0.1:${appPort}`,
    authUpstream: authPort === undefined ? undefined : `127.0.0.1:${authPort}`,
    port,
    pubPort,
    binary: nginxBinary,
    modulePath,
  });
} catch (err) {
  fail(`nginx did not start: ${err.message}`);
}

app = spawn(process.execPath, [join(ROOT, 'sample-app', 'dist', 'main.js')], {
  cwd: ROOT,
  stdio: ['ignore', 'inherit', 'inherit'],
  env: {
    ...env,
    HOST: '127.0.0.1',
    PORT: String(appPort),
    // Empty: no listener, whatever the caller's environment says.
    AUTH_PORT: authPort === undefined ? '' : String(authPort),
    NGINX_PUSH_STREAM_SERVER: server,
    NGINX_PUSH_STREAM_PUB_URL: nginx.publisherUrl,
    NGINX_PUSH_STREAM_SECRET: secret,
  },
});
app.on('exit', (code, signal) => {
  if (stopping) return;
  // Ctrl-C reaches the app too (same process group); that is a stop, not a crash.
  if (signal === 'SIGINT' || signal === 'SIGTERM' || signal === 'SIGHUP') return void stopAll(0);
  process.stderr.write(`\ndemo: the app exited (${code ?? signal}); see its output above\n`);
  void stopAll(1);
});

// Ready when the app answers through nginx.
const deadline = Date.now() + 30_000;
for (;;) {
  if (stopping) await new Promise(() => undefined); // stopAll() exits the process
  const ok = await fetch(`${nginx.baseUrl}/api/health`).then((r) => r.ok, () => false);
  if (ok) break;
  if (Date.now() > deadline) {
    process.stderr.write(`demo: the app did not answer through nginx within 30 s\n${await nginx.errorLog()}\n`);
    await stopAll(1);
  }
  await new Promise((r) => setTimeout(r, 200));
}

// ---------------------------------------------------------------- 4. how to use it
const pubUrl = `http://127.0.0.1:${pubPort}/pub`;
const cliEnv = `NGINX_PUSH_STREAM_PUB_URL=${pubUrl} NGINX_PUSH_STREAM_SERVER=${server} NGINX_PUSH_STREAM_SECRET=${secret}`;
const serverName = server === 'nchan' ? 'Nchan' : 'the Nginx Push Stream Module';
log(`
================================================================================
 nestjs-push-stream demo is running: nginx with ${serverName} in front of the sample app

 Chat:  http://127.0.0.1:${port}/   <- open it in two windows and type in one
 Subscriptions: nginx asks ${authPort === undefined ? `the app (127.0.0.1:${appPort}/push-stream/auth)` : `the app's auth listener (127.0.0.1:${authPort}, AUTH_PORT)`} before each one

 Listen like the seed did (anonymous visitors may read my-app__all__):
   curl -s -v --no-buffer 'http://localhost:${port}/sub/my-app__all__'
   WebSocket: ws://localhost:${port}/ws/my-app__all__

 Publish from the command line (the publisher is on 127.0.0.1:${pubPort} only; this
 secret is generated for this run and is for the demo only):
   ${cliEnv} node dist/cli/main.js publish -q __all__ -d '{"message": ["Foobar"]}'
 In an application that depends on the package: the same variables, then
   npx nestjs-push-stream publish -q __all__ -d '{"message": ["Foobar"]}'

 nginx: ${nginx.configFile} (logs in ${join(nginx.workDir, 'logs')})
 Press Ctrl-C to stop nginx and the app.
================================================================================`);
