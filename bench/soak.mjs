// Soak: a bounded run publishing with event ids at a steady rate to many WebSocket subscribers
// through real nginx, under churn (subscribers reconnecting) and `nginx -s reload`, on Nchan and
// on the Push Stream Module. Reports sent, deliveries expected/delivered, lost, beyond buffer,
// doubled, reconnects, reloads, p50/p99 delivery latency, and nginx and app RSS over time.
// Exit code: 0 nothing lost or doubled, 1 lost or doubled (or the run could not measure: failed
// publishes, subscribers that never connected), 2 the soak itself failed.
//
//   npm run soak -- --minutes 5
//   node bench/soak.mjs --server nchan --minutes 1 --subscribers 1000 --rate 20 --churn 0.01 --reload-every 20 --json out.json
//
// The library comes from a snapshot of dist/ (run `npm run build` first); see bench/README.md, "Soak".
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ROOT_DIR, describeMachine, lib, printLoad, runMain, sleep } from './lib/common.mjs';
import { SOAK_DEFAULTS, formatReports, runSoak } from './lib/soak.mjs';

const MAX_MINUTES = 60;

const USAGE = `usage: node bench/soak.mjs [options]   (npm run soak -- [options])
  --server nchan|push-stream|both   default both (one after the other)
  --minutes M                       per server, 0 < M <= ${MAX_MINUTES}, default 1 (fractions allowed)
  --seconds S                       instead of --minutes
  --subscribers N                   default ${SOAK_DEFAULTS.subscribers}
  --rate R                          messages per second, default ${SOAK_DEFAULTS.rate}
  --churn F                         fraction of subscribers reconnecting per second, default ${SOAK_DEFAULTS.churn}
  --reload-every S                  nginx -s reload every S seconds (0: never), default ${SOAK_DEFAULTS.reloadEverySeconds}
  --reload-mode steady|quiet        steady (default): publishing goes on through reloads; quiet: no
                                    publishing from 1.5 s before each reload to 1 s after it completed
  --channels C                      subscribers and messages spread over C channels, default ${SOAK_DEFAULTS.channels}
  --sample-every S                  memory sample interval, default duration/60 within [1, 10] s
  --json FILE                       report file, default $TMPDIR/nestjs-push-stream-soak.json
  --quiet                           no progress lines`;

function parse(argv) {
  const a = { servers: ['nchan', 'push-stream'], seconds: 60, json: join(tmpdir(), 'nestjs-push-stream-soak.json'), quiet: false, ...SOAK_DEFAULTS };
  const num = (name, raw, { min = 0, max = Infinity, int = false, open = false } = {}) => {
    const n = Number(raw);
    if (raw === undefined || !Number.isFinite(n) || (int && !Number.isInteger(n)) || n > max || (open ? n <= min : n < min)) {
      throw new Error(`${name} must be a ${int ? 'whole ' : ''}number ${open ? '>' : '>='} ${min}${max < Infinity ? ` and <= ${max}` : ''}, got ${JSON.stringify(raw)}`);
    }
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => argv[++i];
    if (k === '--server' || k === '--servers') {
      const s = v();
      if (s === 'both') a.servers = ['nchan', 'push-stream'];
      else if (s === 'nchan' || s === 'push-stream') a.servers = [s];
      else throw new Error(`--server must be nchan, push-stream or both, got ${JSON.stringify(s)}`);
    } else if (k === '--minutes') a.seconds = num(k, v(), { min: 0, max: MAX_MINUTES, open: true }) * 60;
    else if (k === '--seconds') a.seconds = num(k, v(), { min: 0, max: MAX_MINUTES * 60, open: true });
    else if (k === '--subscribers') a.subscribers = num(k, v(), { min: 1, max: 10_000, int: true });
    else if (k === '--rate') a.rate = num(k, v(), { min: 0, max: 1000, open: true });
    else if (k === '--churn') a.churn = num(k, v(), { min: 0, max: 1 });
    else if (k === '--reload-every') a.reloadEverySeconds = num(k, v(), { min: 0 });
    else if (k === '--reload-mode') {
      a.reloadMode = v();
      if (a.reloadMode !== 'steady' && a.reloadMode !== 'quiet') throw new Error(`--reload-mode must be steady or quiet, got ${JSON.stringify(a.reloadMode)}`);
    } else if (k === '--channels') a.channels = num(k, v(), { min: 1, max: 1000, int: true });
    else if (k === '--sample-every') a.sampleEveryMs = num(k, v(), { min: 0.2 }) * 1000;
    else if (k === '--json') a.json = resolve(v() ?? '');
    else if (k === '--quiet') a.quiet = true;
    else if (k === '--help' || k === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown argument ${JSON.stringify(k)}\n${USAGE}`);
  }
  return a;
}

let args;
try {
  args = parse(process.argv.slice(2));
} catch (err) {
  console.error(err.message);
  process.exit(2);
}

// The whole run is bounded: the soaks, startup and drain, with room to spare.
process.env.BENCH_HARD_LIMIT_SECONDS ??= String(Math.ceil(args.servers.length * (args.seconds + 180)));

runMain(async () => {
  // dist/ is what is measured (copied once, so that a rebuild during the run cannot pull it away).
  // Wait briefly in case another build is writing it.
  const dist = join(ROOT_DIR, 'dist');
  for (let i = 0; !existsSync(join(dist, 'index.js')) || !existsSync(join(dist, 'testing', 'index.js')); i++) {
    if (i >= 20) throw new Error('dist/ is missing: run npm run build first');
    await sleep(500);
  }
  const [{ NginxTestServer }, { PushStreamModule, PushStreamService }, { NestFactory }] = await Promise.all([
    lib('testing/index.js'),
    lib('index.js'),
    import('@nestjs/core'),
  ]);
  const library = { NginxTestServer, PushStreamModule, PushStreamService, NestFactory };
  const log = args.quiet ? undefined : (line) => console.log(line);
  console.log(
    `soak: ${args.servers.join(', ')}; ${args.seconds} s each, ${args.subscribers} subscribers, ${args.rate} msg/s, churn ${args.churn}/s, ` +
      `reload every ${args.reloadEverySeconds || '-'} s (${args.reloadMode}), ${args.channels} channel(s)`,
  );
  const load = { start: printLoad('start') };
  const reports = [];
  for (const server of args.servers) {
    reports.push(
      await runSoak(
        {
          server,
          durationMs: args.seconds * 1000,
          subscribers: args.subscribers,
          rate: args.rate,
          churn: args.churn,
          reloadEverySeconds: args.reloadEverySeconds,
          reloadMode: args.reloadMode,
          channels: args.channels,
          sampleEveryMs: args.sampleEveryMs,
          log,
        },
        library,
      ),
    );
  }
  load.end = printLoad('end');
  console.log(`\n${formatReports(reports)}`);
  await mkdir(dirname(args.json), { recursive: true });
  await writeFile(args.json, `${JSON.stringify({ machine: describeMachine(), loadAverage: load, args: process.argv.slice(2), reports }, null, 2)}\n`);
  console.log(`\nreport: ${args.json}`);
  return reports.every((r) => r.ok);
});
