// Shared pieces of the benchmark paths: arguments, statistics, the machine, cleanup, child
// processes, nginx from derived copies of the shipped templates, and the results files.
import { execFileSync, fork, spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = fileURLToPath(new URL('..', import.meta.url));
export const ROOT_DIR = join(BENCH_DIR, '..');

// ---------------------------------------------------------------------------------------------
// The library under test: a snapshot of dist/ and nginx/ taken once per run, so that a rebuild of
// dist/ while the bench runs (npm test does `rm -rf dist`) cannot pull it away mid-run, and the
// templates measured are the ones the library of the snapshot renders. It lives at
// bench/.snap-<pid>/dist and bench/.snap-<pid>/nginx, so that dist's relative paths (../../nginx/)
// and package imports (node_modules above) resolve as from dist/ itself. BENCH_LIB_DIR passes it
// to child processes and to the paths run.mjs starts; set it yourself to measure a library compiled
// elsewhere (`tsc -p tsconfig.build.json --outDir <dir>/dist`, with the nginx/ folder to measure
// at <dir>/nginx).

let libDirPromise;
export function libDir() {
  libDirPromise ??= (async () => {
    if (process.env.BENCH_LIB_DIR) return process.env.BENCH_LIB_DIR;
    const snap = join(BENCH_DIR, `.snap-${process.pid}`);
    const dist = join(ROOT_DIR, 'dist');
    for (let i = 0; !existsSync(join(dist, 'index.js')) || !existsSync(join(dist, 'testing', 'index.js')); i++) {
      if (i >= 120) throw new Error('dist/ is not built: run npm run build (npm run bench does)');
      await new Promise((r) => setTimeout(r, 500));
    }
    onCleanup(() => rm(snap, { recursive: true, force: true }));
    await mkdir(snap, { recursive: true });
    // JavaScript only: no .d.ts for a type-check of the repository (tsconfig includes bench/) to find.
    await cp(dist, join(snap, 'dist'), { recursive: true, filter: (src) => !/\.(d\.ts|map)$/.test(src) });
    await cp(join(ROOT_DIR, 'nginx'), join(snap, 'nginx'), { recursive: true });
    process.env.BENCH_LIB_DIR = join(snap, 'dist');
    return process.env.BENCH_LIB_DIR;
  })();
  return libDirPromise;
}

/** Imports a module of the library snapshot, e.g. lib('index.js'), lib('testing/index.js'). */
export async function lib(path) {
  return import(join(await libDir(), path));
}

// ---------------------------------------------------------------------------------------------
// Arguments: `--quick`, `--rounds N`, `--out DIR`, `--servers nchan,push-stream`, `--sizes 1000,5000`.

export function parseArgs(argv = process.argv.slice(2)) {
  const args = { quick: false, paths: [], rounds: undefined, out: undefined, servers: undefined, sizes: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') args.quick = true;
    else if (a === '--rounds') args.rounds = positiveInt(a, value());
    else if (a === '--out') args.out = value();
    else if (a === '--servers') args.servers = value().split(',').filter(Boolean);
    else if (a === '--sizes') args.sizes = value().split(',').map((s) => positiveInt(a, s));
    else if (/^p[123]$/i.test(a)) args.paths.push(a.toLowerCase());
    else throw new Error(`unknown argument ${JSON.stringify(a)} (use p1 p2 p3 --quick --rounds N --out DIR --servers LIST --sizes LIST)`);
  }
  for (const s of args.servers ?? []) if (s !== 'nchan' && s !== 'push-stream') throw new Error(`unknown server ${s}`);
  if (process.env.BENCH_QUICK === '1') args.quick = true;
  return args;
}

function positiveInt(name, raw) {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

/** Where results go: bench/results for a full run, a temporary folder for --quick unless --out says. */
export function resultsDir(args) {
  if (args.out) return args.out;
  return args.quick ? join(tmpdir(), 'nestjs-push-stream-bench-quick') : join(BENCH_DIR, 'results');
}

// ---------------------------------------------------------------------------------------------
// Statistics.

export function quantile(values, q) {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export const median = (values) => quantile(values, 0.5);

/** Median and spread (min, max) of per-round values. */
export function summarize(values) {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return { median: null, min: null, max: null, n: 0, values };
  return { median: median(finite), min: Math.min(...finite), max: Math.max(...finite), n: finite.length, values };
}

/** Per-round ratios a[i] / b[i] (the variants ran in the same round), summarized. */
export function pairedRatio(a, b) {
  return summarize(a.map((x, i) => x / b[i]));
}

/** Rotates `list` by `round` so that no variant always runs first (or last) in a round. */
export function rotate(list, round) {
  const k = round % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

export const fmt = (n, digits = 0) =>
  n === null || n === undefined || !Number.isFinite(n)
    ? 'n/a'
    : n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

export const fmtRatio = (s) => (s?.median == null ? 'n/a' : `${s.median.toFixed(2)} [${s.min.toFixed(2)}-${s.max.toFixed(2)}]`);

// ---------------------------------------------------------------------------------------------
// The machine.

function tryRun(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (err) {
    return (err.stderr ?? '').toString().trim() || null;
  }
}

function packageVersion(name) {
  try {
    return JSON.parse(readFileSync(join(ROOT_DIR, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

export function describeMachine() {
  const cpuList = cpus();
  const nginxV = tryRun('sh', ['-c', 'nginx -v 2>&1']);
  return {
    cpuModel: cpuList[0]?.model ?? 'unknown',
    cpus: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    nginx: nginxV ? nginxV.replace(/^nginx version: /, '') : null,
    nchan: tryRun('dpkg-query', ['-W', '-f', '${Version}', 'libnginx-mod-nchan']),
    njs: tryRun('dpkg-query', ['-W', '-f', '${Version}', 'libnginx-mod-http-js']),
    pushStreamModule: '0.6.0 (built from source by nginx/nginx-tools.mjs)',
    python: tryRun('python3', ['--version']),
    redis: tryRun('redis-server', ['--version'])?.match(/v=(\S+)/)?.[1] ?? null,
    openFilesLimit: Number(tryRun('sh', ['-c', 'ulimit -n'])) || null,
    packages: Object.fromEntries(
      ['undici', 'axios', 'autocannon', 'ws', '@nestjs/core', '@nestjs/websockets', 'socket.io', 'express-session', 'connect-redis', 'redis'].map(
        (p) => [p, packageVersion(p)],
      ),
    ),
    network: 'loopback only',
    // Where the library measured came from: a snapshot of dist/ (bench/.snap-<pid>) or BENCH_LIB_DIR.
    libraryDir: process.env.BENCH_LIB_DIR ?? null,
    repo: {
      commit: tryRun('git', ['-C', ROOT_DIR, 'rev-parse', '--short', 'HEAD']),
      // The templates measured are the working tree's: say when they differ from the commit.
      uncommittedChanges: (tryRun('git', ['-C', ROOT_DIR, 'status', '--porcelain', '--', 'nginx', 'lib']) ?? '')
        .split('\n')
        .filter(Boolean)
        .map((l) => l.trim().replace(/^\S+\s+/, '')),
    },
  };
}

export function loadAverage() {
  const [one, five, fifteen] = loadavg();
  return { one: round2(one), five: round2(five), fifteen: round2(fifteen) };
}

const round2 = (n) => Math.round(n * 100) / 100;

export function printLoad(label) {
  const l = loadAverage();
  const busy = l.one > availableParallelism() / 2;
  console.log(
    `load average (${label}): ${l.one} ${l.five} ${l.fifteen} on ${availableParallelism()} CPUs` +
      (busy ? '  note: the machine is busy; absolute numbers move a lot, ratios less' : ''),
  );
  return l;
}

// ---------------------------------------------------------------------------------------------
// Cleanup: everything started registers how to stop it; runs on normal end, error and signals.

const cleanups = [];
let cleaning = false;

export function onCleanup(fn) {
  cleanups.push(fn);
  return () => {
    const i = cleanups.indexOf(fn);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

export async function cleanupAll() {
  if (cleaning) return;
  cleaning = true;
  while (cleanups.length) {
    const fn = cleanups.pop();
    try {
      await fn();
    } catch (err) {
      console.error(`cleanup: ${err?.message ?? err}`);
    }
  }
  cleaning = false;
}

let handlersInstalled = false;
function installSignalHandlers() {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(sig, () => {
      console.error(`\n${sig}: cleaning up`);
      cleanupAll().finally(() => process.exit(130));
    });
  }
}

/** Runs `main` with cleanup on every way out; sets the exit code (0 pass, 1 target missed, 2 error). */
export function runMain(main) {
  installSignalHandlers();
  const hardStop = setTimeout(() => {
    console.error('bench: overall time limit reached, stopping');
    cleanupAll().finally(() => process.exit(2));
  }, Number(process.env.BENCH_HARD_LIMIT_SECONDS ?? 3600) * 1000);
  hardStop.unref();
  main()
    .then((ok) => {
      process.exitCode = ok === false ? 1 : 0;
    })
    .catch((err) => {
      console.error(`bench failed: ${err?.stack ?? err}`);
      process.exitCode = 2;
    })
    .finally(() => cleanupAll());
}

// ---------------------------------------------------------------------------------------------
// Child processes.

/** Kills `child` (by its pid) and waits for it to exit, SIGKILL after `graceMs`. */
export function killChild(child, graceMs = 3000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Forks a Node helper with an IPC channel. It must `process.send({ type: 'ready', ... })` once up.
 * `request(msg)` sends `{ ...msg, id }` and resolves with the reply `{ id, ... }`.
 */
export async function forkHelper(script, args = [], { execArgv = [], env, readyTimeoutMs = 30_000, name = script } = {}) {
  const child = fork(script, args, { execArgv, env: env ? { ...process.env, ...env } : undefined, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const remove = onCleanup(() => killChild(child));
  let nextId = 1;
  const pending = new Map();
  const listeners = new Set();
  child.on('message', (msg) => {
    if (msg && msg.id !== undefined && pending.has(msg.id)) {
      const { resolve, reject, timer } = pending.get(msg.id);
      pending.delete(msg.id);
      clearTimeout(timer);
      if (msg.error) reject(new Error(`${name}: ${msg.error}`));
      else resolve(msg);
    } else {
      for (const l of listeners) l(msg);
    }
  });
  child.on('exit', (code, signal) => {
    for (const { reject, timer } of pending.values()) {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal})`));
    }
    pending.clear();
  });
  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} not ready within ${readyTimeoutMs} ms`)), readyTimeoutMs);
    const onMessage = (msg) => {
      if (msg?.type === 'ready') {
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve(msg);
      } else if (msg?.type === 'fatal') {
        clearTimeout(timer);
        reject(new Error(`${name}: ${msg.error}`));
      }
    };
    child.on('message', onMessage);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited before ready (${code ?? signal})`));
    });
  }).catch(async (err) => {
    await killChild(child);
    remove();
    throw err;
  });
  return {
    child,
    pid: child.pid,
    ready,
    on: (fn) => listeners.add(fn),
    off: (fn) => listeners.delete(fn),
    request(msg, timeoutMs = 60_000) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${name}: no answer to ${msg.cmd} within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, { resolve, reject, timer });
        child.send({ ...msg, id });
      });
    },
    async stop() {
      await killChild(child);
      remove();
    },
  };
}

/** The child side of forkHelper: answers requests with `handlers[cmd](msg)`; exits with its parent. */
export function serveHelper(handlers) {
  process.on('disconnect', () => process.exit(0));
  process.on('message', async (msg) => {
    if (!msg || msg.id === undefined) return;
    const handler = handlers[msg.cmd];
    try {
      if (!handler) throw new Error(`unknown command ${msg.cmd}`);
      const result = await handler(msg);
      process.send({ ...(result ?? {}), id: msg.id });
    } catch (err) {
      process.send({ id: msg.id, error: err?.stack ?? String(err) });
    }
  });
}

/** Resident memory of a process in bytes (VmRSS), and its parts, from /proc. */
export async function processMemory(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(status.match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'))?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), shmem: kb('RssShmem'), file: kb('RssFile') };
}

/** CPU time a process has used so far, in µs (/proc/<pid>/schedstat: nanosecond resolution). */
export async function processCpuMicros(pid) {
  const text = await readFile(`/proc/${pid}/schedstat`, 'utf8');
  return Number(text.split(' ')[0]) / 1000;
}

/** Pids of the direct children of `pid` (Linux /proc). */
export async function childPids(pid) {
  const out = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(entry));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Redis, our own, on a free port.

export async function startRedis(findFreePort) {
  const port = await findFreePort();
  const dir = await mkdtemp(join(tmpdir(), 'nestjs-push-stream-bench-redis-'));
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const remove = onCleanup(async () => {
    await killChild(child);
    await rm(dir, { recursive: true, force: true });
  });
  const { isListening } = await lib('testing/index.js');
  const deadline = Date.now() + 10_000;
  while (!(await isListening(port))) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error('redis-server did not start within 10 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid,
    async stop() {
      await killChild(child);
      await rm(dir, { recursive: true, force: true });
      remove();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// nginx from the shipped templates, optionally derived (a copy in a temporary folder).

/**
 * A configDir for NginxTestServer: the shipped nginx/ folder (templates and push-stream-ticket.js),
 * changed only as asked.
 *   workerConnections  at least this many `worker_connections` (raised only if the shipped value is
 *                      lower: it caps a worker's connections, subscribers and auth subrequests together)
 *   stripAuth          no subscriber check at all: the `${NGINX_SUBSCRIBER_AUTH}` line (auth_request
 *                      in session mode) removed from every subscriber location (the "no auth" baseline)
 *   pushStreamShm      replaces push_stream_shared_memory_size
 *   authDirectives     extra directives for the auth subrequest's location (an experiment)
 *   liftRateLimit      (default on) makes per-address limit_req / limit_conn unreachable: all the
 *                      bench's simulated visitors come from 127.0.0.1
 * Returns null when nothing changes (use the shipped folder itself).
 */
export async function derivedConfigDir({ workerConnections, stripAuth = false, liftRateLimit = true, authDirectives = '', pushStreamShm } = {}) {
  if (!workerConnections && !stripAuth && !liftRateLimit && !authDirectives && !pushStreamShm) return null;
  const dir = await mkdtemp(join(tmpdir(), 'nestjs-push-stream-bench-conf-'));
  onCleanup(() => rm(dir, { recursive: true, force: true }));
  for (const [name, shipped] of Object.entries(await shippedTemplates())) {
    let text = shipped;
    if (!name.endsWith('.template')) {
      // push-stream-ticket.js (ticket mode loads it from the config folder): copied as shipped.
      await writeFile(join(dir, name), text);
      continue;
    }
    if (name === 'nginx.conf.template' && workerConnections) {
      const m = text.match(/worker_connections\s+(\d+);/);
      if (!m) throw new Error('nginx.conf.template: no worker_connections line to change');
      if (Number(m[1]) < workerConnections) text = text.replace(m[0], `worker_connections ${workerConnections};`);
    }
    if (liftRateLimit) {
      // Every simulated visitor shares 127.0.0.1: a per-address limit would measure the limit,
      // not the path. The directives stay (their cost is part of the shipped path), the rate and
      // burst become unreachable.
      text = text
        .replace(/(limit_req_zone\s[^;]*\brate=)\d+r\/[sm]/g, '$1100000r/s')
        .replace(/(limit_req\s+zone=\S+\s+burst=)\d+/g, '$1100000')
        .replace(/(limit_conn\s+\S+\s+)\d+;/g, '$1100000;');
    }
    if (name === 'push-stream.conf.template' && pushStreamShm) {
      const before = text;
      text = text.replace(/push_stream_shared_memory_size\s+\S+;/, `push_stream_shared_memory_size ${pushStreamShm};`);
      if (text === before) throw new Error(`${name}: no push_stream_shared_memory_size to change`);
    }
    if (name !== 'nginx.conf.template' && authDirectives) {
      const before = text;
      text = text.replace(/(location = \/_push_stream_auth \{\n)/, `$1    ${authDirectives}\n`);
      if (text === before) throw new Error(`${name}: no auth location to add directives to`);
    }
    if (name !== 'nginx.conf.template' && stripAuth) {
      // The subscriber locations' check is a placeholder the renderer fills (auth_request in
      // session mode, the ticket check in ticket mode); older templates wrote auth_request itself.
      const before = text;
      text = text.replace(/^[ \t]*(?:\$\{NGINX_SUBSCRIBER_AUTH\}|auth_request \/_push_stream_auth;)[ \t]*$/gm, '    # (bench: no subscriber check)');
      if (text === before) throw new Error(`${name}: no \${NGINX_SUBSCRIBER_AUTH} (or auth_request) line to strip`);
    }
    await writeFile(join(dir, name), text);
  }
  return dir;
}

/** The nginx/ folder next to the library measured (the snapshot's copy), else the repository's. */
export async function shippedNginxDir() {
  const next = join(dirname(await libDir()), 'nginx');
  return existsSync(join(next, 'nginx.conf.template')) ? next : join(ROOT_DIR, 'nginx');
}

let snapshot;
/**
 * The shipped nginx/ files a configuration is rendered from, read once per process: the templates
 * and the scripts they load (push-stream-ticket.js). Every nginx of a path runs the same
 * configuration even if nginx/ changes while the bench runs.
 */
export async function shippedTemplates() {
  snapshot ??= (async () => {
    const out = {};
    const shipped = await shippedNginxDir();
    for (const name of (await readdir(shipped)).sort()) {
      if (name.endsWith('.template') || name.endsWith('.js')) out[name] = await readFile(join(shipped, name), 'utf8');
    }
    return out;
  })();
  return snapshot;
}

/** sha256 (first 12 hex digits) of each shipped template and script, to tell which configuration a result measured. */
export async function templateHashes() {
  const { createHash } = await import('node:crypto');
  return Object.fromEntries(Object.entries(await shippedTemplates()).map(([n, t]) => [n, createHash('sha256').update(t).digest('hex').slice(0, 12)]));
}

/**
 * nginx worker processes in every bench run: 1. The rendered config's default is `auto` for the
 * Push Stream Module (one per core) and 1 for Nchan; on 2 shared cores a second worker would
 * compete with the app(s) and the load generator, make push-stream and Nchan incomparable, and
 * split P3's subscribers over workers. One worker, as the results before the default changed.
 */
export const NGINX_WORKERS = 1;

/** Starts NginxTestServer (from the library snapshot) with NGINX_WORKERS, and registers its disposal. */
export async function startNginx(options, derive = {}) {
  const { NginxTestServer } = await lib('testing/index.js');
  const configDir = (await derivedConfigDir(derive)) ?? undefined;
  const nginx = await NginxTestServer.start({ workers: NGINX_WORKERS, ...options, configDir });
  // A library whose NginxTestServer ignores `workers` would silently run `auto`: check what nginx runs.
  const workerLine = (await readFile(nginx.configFile, 'utf8')).match(/^\s*worker_processes\s+(\S+);/m)?.[1];
  if (workerLine !== String(options.workers ?? NGINX_WORKERS)) {
    await nginx.dispose();
    throw new Error(`nginx runs worker_processes ${workerLine}, the bench asked for ${options.workers ?? NGINX_WORKERS}`);
  }
  const remove = onCleanup(() => nginx.dispose());
  return {
    nginx,
    async masterPid() {
      return Number((await readFile(join(nginx.workDir, 'nginx.pid'), 'utf8')).trim());
    },
    /** CPU time of the worker processes so far, µs. */
    async workerCpuMicros() {
      let total = 0;
      for (const pid of await childPids(await this.masterPid())) total += await processCpuMicros(pid);
      return total;
    },
    /** VmRSS of master and workers together, in bytes. */
    async memory() {
      const master = await this.masterPid();
      const pids = [master, ...(await childPids(master))];
      let rss = 0;
      for (const pid of pids) rss += (await processMemory(pid)).rss;
      return { rss, pids };
    },
    async dispose() {
      await nginx.dispose();
      remove();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Ticket mode: subscriber locations that check a signed ticket in nginx and never ask the app.

/** The module secret the bench's ticket-mode nginx and its tickets are made from. */
export const BENCH_TICKET_SECRET = 'bench-ticket-secret-0123456789abcdef';

/**
 * The ticket flavors the library renders, for P2 and P3. Each: `key`, `label`, `available` (else
 * `reason`), `nginxOptions` (for NginxTestServer.start) and `query(channelPath, expiresAt)`, the
 * subscriber URL's query string that opens `channelPath` (the path after /lp/, /ws/, ...) until
 * `expiresAt` (unix seconds).
 *   ticket       `--auth ticket`: njs (nginx/push-stream-ticket.js), HMAC-SHA256
 *   secure-link  `--auth secure-link`: nginx's own secure_link module, MD5; the path is signed as
 *                is, and a path with a push-stream `.b<n>` suffix is refused
 * A flavor the library measured does not have yet is reported (not measured), not skipped silently.
 */
export async function ticketFlavors() {
  const testing = await lib('testing/index.js');
  const { validateNginxConfigValues } = await lib('nginx-config/nginx-config.js');
  const key = testing.deriveTicketKey?.(BENCH_TICKET_SECRET);
  /** Whether the renderer accepts this auth mode (validation names the modes it knows). */
  const renders = (mode) => {
    try {
      validateNginxConfigValues({ server: 'nchan', listen: '127.0.0.1:1', pubListen: '127.0.0.1:2', pubAllow: '127.0.0.1', app: '127.0.0.1:3', auth: { mode, ticketKey: key } });
      return true;
    } catch {
      return false;
    }
  };
  return [
    {
      key: 'ticket',
      label: 'ticket (njs, HMAC-SHA256)',
      available: typeof testing.signTicket === 'function' && renders('ticket'),
      reason: 'not available: the library has no ticket mode',
      nginxOptions: { ticketSecret: BENCH_TICKET_SECRET },
      query: (channelPath, expiresAt) => `ticket=${testing.signTicket(key, channelPath, expiresAt)}`,
    },
    {
      key: 'secure-link',
      label: 'ticket (secure_link, MD5)',
      // signTicket's 4th argument (the format) and NginxTestServer's `ticketFormat` came with it.
      available: typeof testing.signTicket === 'function' && renders('secure-link'),
      reason: 'not yet available: the renderer has no auth mode "secure-link"',
      nginxOptions: { ticketSecret: BENCH_TICKET_SECRET, ticketFormat: 'secure-link-md5' },
      query: (channelPath, expiresAt) => `ticket=${testing.signTicket(key, channelPath, expiresAt, 'secure-link-md5')}`,
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Results.

export async function writeResult(dir, name, result) {
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}

export async function writeText(dir, name, text) {
  await mkdir(dir, { recursive: true });
  const file = join(dir, name);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, text);
  return file;
}

/** One target: `value` (a summary of per-round values) compared with `threshold`. */
export function target(id, description, value, threshold, { op = '>=', extra = true, note } = {}) {
  if (value == null || value.median == null) {
    return { id, description, threshold, op, value: null, pass: null, status: 'not measured', note };
  }
  const ok = op === '>=' ? value.median >= threshold : value.median <= threshold;
  const pass = ok && extra === true;
  return { id, description, threshold, op, value, pass, status: pass ? 'PASS' : 'FAIL', note };
}

export function printTargets(targets) {
  console.log('\ntargets (median over rounds [min-max of the rounds])');
  for (const t of targets) {
    const v = t.value ? fmtRatio(t.value) : 'n/a';
    console.log(`  ${t.status.padEnd(12)} ${t.id.padEnd(34)} ${v.padEnd(22)} needs ${t.op} ${t.threshold}   ${t.description}${t.note ? ` (${t.note})` : ''}`);
  }
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
