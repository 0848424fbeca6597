#!/usr/bin/env node
// P1 publish throughput against a real nginx (Nchan and the Push Stream Module) on loopback, as
// ratios to baselines measured in the same run, in interleaved rounds.
//
//   node bench/p1-publish.mjs [--quick] [--rounds N] [--servers nchan,push-stream] [--out DIR]
//   BENCH_MESSAGES=10000 BENCH_CONCURRENCY=32 BENCH_MAX_SECONDS=30 (environment, optional)
//
// Variants (each publishes BENCH_MESSAGES messages `{"message":["Foobar"]}` round-robin to 64
// channels, BENCH_CONCURRENCY in flight, except urllib):
//   baseline        a raw undici Pool POSTing the pre-encoded body with the library's headers
//   service-undici  PushStreamService.publish() with the default UndiciHttpClient
//   service-axios   PushStreamService with AxiosHttpClient on @nestjs/axios, keep-alive agent
//   autocannon      the same requests from autocannon: a load generator's ceiling on this machine
//   urllib          the original package's way: Python stdlib urllib, a new connection per
//                   message, sequential (fewer messages: it is slow)
// and publishing one message to 100 channels: publishMany(100 channels) against 100 publish()
// calls in parallel, in channel-messages per second.
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { Agent as HttpAgent } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { HttpModule } from '@nestjs/axios';
import { NestFactory } from '@nestjs/core';
import autocannon from 'autocannon';
import { Pool } from 'undici';
import {
  BENCH_DIR,
  describeMachine,
  templateHashes,
  fmt,
  fmtRatio,
  lib,
  loadAverage,
  onCleanup,
  pairedRatio,
  parseArgs,
  printLoad,
  printTargets,
  resultsDir,
  rotate,
  runMain,
  startNginx,
  summarize,
  target,
  writeResult,
  writeText,
} from './lib/common.mjs';
import { barChart } from './lib/svg.mjs';
import { writeSummary } from './lib/summary.mjs';

const { PushStreamModule, PushStreamService } = await lib('index.js');
const { AxiosHttpClient } = await lib('http/axios-http-client.js');

function intEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

const CHANNELS = 64;
const PREFIX = 'bench';
const DATA = { message: ['Foobar'] };
const SECRET = 'bench-secret-0123456789';
const channelName = (i) => `${PREFIX}__c__${i % CHANNELS}`;
const batchChannels = Array.from({ length: 100 }, (_, i) => `${PREFIX}__b__${i}`);

/** Runs `publishOne(i)` for i in [0, count) with `concurrency` in flight. */
async function drive(publishOne, count, concurrency, maxSeconds) {
  let next = 0;
  let done = 0;
  let failures = 0;
  let firstError;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + maxSeconds * 1000;
  async function worker() {
    while (next < count && performance.now() < deadline) {
      const i = next++;
      try {
        await publishOne(i);
        done++;
      } catch (err) {
        failures++;
        firstError ??= err;
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    rate: done / seconds,
    cpuMicros: (cpu.user + cpu.system) / Math.max(1, done + failures),
    done,
    failures,
    error: firstError ? String(firstError?.message ?? firstError) : undefined,
    seconds,
  };
}

/** The bytes and headers the library sends for one channel on `server`. */
function wire(server, channel) {
  return server === 'nchan'
    ? { body: JSON.stringify({ channel, text: DATA, eventid: '', type: '' }), headers: { 'content-type': 'application/json', accept: 'application/json' } }
    : { body: JSON.stringify(DATA), headers: { 'content-type': 'application/json' } };
}

const okStatus = (s) => s === 200 || s === 201 || s === 202;

async function makeVariants(server, nginx, cfg) {
  const url = new URL(nginx.publisherUrl);
  const variants = [];
  const pool = new Pool(url.origin, { connections: cfg.concurrency, pipelining: 1, keepAliveTimeout: 30_000 });
  onCleanup(() => pool.close());
  const wires = Array.from({ length: CHANNELS }, (_, i) => wire(server, channelName(i)));
  variants.push({
    key: 'baseline',
    label: 'raw undici Pool (baseline)',
    run: () =>
      drive(
        async (i) => {
          const w = wires[i % CHANNELS];
          const res = await pool.request({ origin: url.origin, path: `${url.pathname}?id=${channelName(i)}`, method: 'POST', headers: w.headers, body: w.body });
          const text = await res.body.text();
          if (!okStatus(res.statusCode)) throw new Error(`HTTP ${res.statusCode}: ${text}`);
        },
        cfg.messages,
        cfg.concurrency,
        cfg.maxSeconds,
      ),
  });

  const options = { server, publisherUrl: nginx.publisherUrl, statsUrl: nginx.statsUrl, prefix: PREFIX, secret: SECRET };
  const undiciApp = await NestFactory.createApplicationContext(PushStreamModule.forRoot({ ...options, authRoute: false }), { logger: false, abortOnError: false });
  onCleanup(() => undiciApp.close());
  const service = undiciApp.get(PushStreamService);
  variants.push({
    key: 'service-undici',
    label: 'PushStreamService (undici)',
    run: () => drive((i) => service.publish(channelName(i), DATA), cfg.messages, cfg.concurrency, cfg.maxSeconds),
  });

  const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: cfg.concurrency });
  const axiosApp = await NestFactory.createApplicationContext(
    PushStreamModule.forRootAsync({
      imports: [HttpModule.register({ httpAgent })],
      useFactory: () => options,
      httpClient: AxiosHttpClient,
      authRoute: false,
    }),
    { logger: false, abortOnError: false },
  );
  onCleanup(async () => {
    await axiosApp.close();
    httpAgent.destroy();
  });
  const axiosService = axiosApp.get(PushStreamService);
  variants.push({
    key: 'service-axios',
    label: 'PushStreamService (axios adapter)',
    run: () => drive((i) => axiosService.publish(channelName(i), DATA), cfg.messages, cfg.concurrency, cfg.maxSeconds),
  });

  variants.push({
    key: 'autocannon',
    label: 'autocannon (load generator)',
    run: async () => {
      const cpuBefore = process.cpuUsage();
      const started = performance.now();
      const r = await autocannon({
        url: url.origin,
        connections: cfg.concurrency,
        pipelining: 1,
        amount: cfg.messages,
        timeout: 10,
        requests: wires.map((w, i) => ({ method: 'POST', path: `${url.pathname}?id=${channelName(i)}`, headers: w.headers, body: w.body })),
      });
      const seconds = (performance.now() - started) / 1000;
      const cpu = process.cpuUsage(cpuBefore);
      const failures = r.non2xx + r.errors + r.timeouts;
      return { rate: r['2xx'] / seconds, cpuMicros: (cpu.user + cpu.system) / Math.max(1, r['2xx']), done: r['2xx'], failures, seconds };
    },
  });

  variants.push({
    key: 'urllib',
    label: 'Python urllib, new connection each, sequential',
    run: () => runUrllib(server, nginx.publisherUrl, cfg.urllibMessages, cfg.maxSeconds),
  });

  variants.push({
    key: 'publish-x100',
    label: '100 × publish() in parallel (per 100 channels)',
    batch: true,
    run: async () => {
      const r = await drive(
        () => Promise.all(batchChannels.map((c) => service.publish(c, DATA))),
        cfg.batches,
        cfg.batchConcurrency,
        cfg.maxSeconds,
      );
      return { ...r, rate: r.rate * 100, cpuMicros: r.cpuMicros / 100 };
    },
  });
  variants.push({
    key: 'publishMany-100',
    label: 'publishMany(100 channels)',
    batch: true,
    // Nchan refuses a joined channel id longer than 1024 bytes (403, "channel id is too long").
    mayFail: true,
    run: async () => {
      const r = await drive(() => service.publishMany(batchChannels, DATA), cfg.batches, cfg.batchConcurrency, cfg.maxSeconds);
      return { ...r, rate: r.rate * 100, cpuMicros: r.cpuMicros / 100 };
    },
  });
  if (server === 'nchan') {
    // What splitting into requests that fit Nchan's limit would give (informational).
    const chunks = [0, 25, 50, 75].map((i) => batchChannels.slice(i, i + 25));
    variants.push({
      key: 'publishMany-4x25',
      label: '4 × publishMany(25 channels) in parallel',
      batch: true,
      run: async () => {
        const r = await drive(() => Promise.all(chunks.map((c) => service.publishMany(c, DATA))), cfg.batches, cfg.batchConcurrency, cfg.maxSeconds);
        return { ...r, rate: r.rate * 100, cpuMicros: r.cpuMicros / 100 };
      },
    });
  }
  return variants;
}

function runUrllib(server, publisherUrl, count, maxSeconds) {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', [join(BENCH_DIR, 'apps/urllib_publish.py'), publisherUrl, server, String(count), String(maxSeconds), String(CHANNELS)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const remove = onCleanup(() => child.kill('SIGKILL'));
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      remove();
      try {
        const r = JSON.parse(out.trim().split('\n').pop());
        resolve({ rate: r.done / r.seconds, cpuMicros: null, done: r.done, failures: r.failures, error: r.error ?? undefined, seconds: r.seconds });
      } catch {
        reject(new Error(`urllib publisher exited with ${code}: ${out}`));
      }
    });
  });
}

/**
 * The Push Stream Module frees a message pushed out of a channel's store only 10-15 s later (its
 * trash), so sustained publishing needs shared memory for that many seconds of messages. P1 runs
 * push-stream with a larger zone (PUSH_STREAM_SHM) so that it measures the client side; this probe
 * publishes flat out against the shipped size and reports when publishes start failing.
 */
const PUSH_STREAM_SHM = '1024M';

async function shmProbe(cfg) {
  const n = await startNginx({ server: 'push-stream', appUpstream: '127.0.0.1:9' });
  try {
    const url = new URL(n.nginx.publisherUrl);
    const pool = new Pool(url.origin, { connections: cfg.concurrency, pipelining: 1 });
    const wires = Array.from({ length: CHANNELS }, (_, i) => wire('push-stream', channelName(i)));
    let firstFailure = null;
    let ok = 0;
    const started = performance.now();
    const r = await drive(
      async (i) => {
        const w = wires[i % CHANNELS];
        const res = await pool.request({ origin: url.origin, path: `${url.pathname}?id=${channelName(i)}`, method: 'POST', headers: w.headers, body: w.body });
        await res.body.text();
        if (!okStatus(res.statusCode)) {
          firstFailure ??= { afterMessages: ok, afterSeconds: Math.round((performance.now() - started) / 100) / 10, status: res.statusCode };
          throw new Error(`HTTP ${res.statusCode}`);
        }
        ok++;
      },
      cfg.probeMessages,
      cfg.concurrency,
      cfg.probeSeconds,
    );
    await pool.close();
    const log = await n.nginx.errorLog();
    const probe = {
      sharedMemory: 'shipped (push_stream_shared_memory_size as in nginx/push-stream.conf.template)',
      attempted: r.done + r.failures,
      published: r.done,
      failed: r.failures,
      seconds: Math.round(r.seconds * 10) / 10,
      rate: Math.round(r.rate),
      firstFailure,
      errorLogAllocationFailures: (log.match(/unable to allocate message in shared memory/g) ?? []).length,
    };
    console.log(
      `  shm probe (shipped size): ${probe.published} published, ${probe.failed} failed in ${probe.seconds}s` +
        (firstFailure ? `; first failure (HTTP ${firstFailure.status}) after ${firstFailure.afterMessages} messages, ${firstFailure.afterSeconds}s` : '') +
        `; "unable to allocate message in shared memory" x${probe.errorLogAllocationFailures}`,
    );
    return probe;
  } finally {
    await n.dispose();
  }
}

async function runServer(server, cfg) {
  console.log(`\n== ${server}`);
  const n = await startNginx({ server, appUpstream: '127.0.0.1:9' }, server === 'push-stream' ? { pushStreamShm: PUSH_STREAM_SHM } : {});
  try {
    const all = await makeVariants(server, n.nginx, cfg);
    // Warm-up: connections, JIT, nginx channels.
    const unavailable = [];
    for (const v of all) {
      const r = await v.run();
      if (r.failures && v.mayFail) {
        unavailable.push({ key: v.key, label: v.label, unit: 'channel-messages/s', rate: null, error: r.error });
        console.log(`  ${v.key}: FAILS on ${server}: ${r.error} (reported, not timed)`);
      } else if (r.failures) throw new Error(`${v.key}: warm-up failed: ${r.error}`);
    }
    const variants = all.filter((v) => !unavailable.some((u) => u.key === v.key));
    const runs = Object.fromEntries(variants.map((v) => [v.key, []]));
    let failures = 0;
    for (let round = 0; round < cfg.rounds; round++) {
      for (const v of rotate(variants, round)) {
        const load = loadAverage().one;
        const r = await v.run();
        runs[v.key].push({ ...r, load });
        failures += r.failures;
        console.log(
          `  round ${round + 1} ${v.key.padEnd(16)} ${fmt(r.rate).padStart(8)} ${v.batch ? 'channel-msg/s' : 'msg/s        '}` +
            `${r.cpuMicros == null ? '' : `  ${r.cpuMicros.toFixed(1).padStart(6)} µs CPU/msg`}  n=${r.done}  load ${load}` +
            (r.failures ? `  ${r.failures} FAILED (${r.error})` : ''),
        );
      }
    }
    const rates = Object.fromEntries(Object.entries(runs).map(([k, list]) => [k, list.map((r) => r.rate)]));
    const ratios = {
      'service-undici / baseline': pairedRatio(rates['service-undici'], rates.baseline),
      'service-undici / urllib': pairedRatio(rates['service-undici'], rates.urllib),
      'service-axios / baseline': pairedRatio(rates['service-axios'], rates.baseline),
      'service-undici / autocannon': pairedRatio(rates['service-undici'], rates.autocannon),
      'baseline / autocannon': pairedRatio(rates.baseline, rates.autocannon),
    };
    if (rates['publishMany-100']) ratios['publishMany-100 / publish-x100'] = pairedRatio(rates['publishMany-100'], rates['publish-x100']);
    if (rates['publishMany-4x25']) ratios['publishMany-4x25 / publish-x100'] = pairedRatio(rates['publishMany-4x25'], rates['publish-x100']);
    console.log('  ratios (median [min-max] over rounds):');
    for (const [k, s] of Object.entries(ratios)) console.log(`    ${k.padEnd(34)} ${fmtRatio(s)}`);
    const probe = server === 'push-stream' ? await shmProbe(cfg) : undefined;
    return {
      derivedConfig: server === 'push-stream' ? `push_stream_shared_memory_size ${PUSH_STREAM_SHM} (shipped 64M, see sharedMemoryProbe)` : null,
      sharedMemoryProbe: probe,
      failures,
      variants: variants.map((v) => ({
        key: v.key,
        label: v.label,
        unit: v.batch ? 'channel-messages/s' : 'messages/s',
        rate: summarize(rates[v.key]),
        cpuMicrosPerMessage: v.key === 'urllib' ? null : summarize(runs[v.key].map((r) => r.cpuMicros)),
        runs: runs[v.key],
      })),
      unavailable,
      ratios,
    };
  } finally {
    await n.dispose();
  }
}

async function main() {
  const args = parseArgs();
  const quick = args.quick;
  const cfg = {
    rounds: args.rounds ?? (quick ? 2 : 5),
    messages: intEnv('BENCH_MESSAGES', quick ? 2_000 : 10_000),
    urllibMessages: quick ? 300 : 2_000,
    concurrency: intEnv('BENCH_CONCURRENCY', 32),
    maxSeconds: intEnv('BENCH_MAX_SECONDS', 30),
    batches: quick ? 20 : 100,
    batchConcurrency: 4,
    probeMessages: quick ? 30_000 : 200_000,
    probeSeconds: quick ? 8 : 25,
  };
  const servers = args.servers ?? ['nchan', 'push-stream'];
  const out = resultsDir(args);
  const startedAt = new Date().toISOString();
  const loadStart = printLoad('start');
  console.log(
    `P1 publish: ${cfg.messages} messages (urllib ${cfg.urllibMessages}) x ${cfg.rounds} rounds, ${cfg.concurrency} in flight, ` +
      `${CHANNELS} channels; batches ${cfg.batches} x 100 channels, ${cfg.batchConcurrency} in flight; servers ${servers.join(', ')}`,
  );
  const perServer = {};
  const targets = [];
  for (const server of servers) {
    const r = await runServer(server, cfg);
    perServer[server] = r;
    targets.push(
      target(`p1.${server}.service-vs-undici`, `${server}: service / raw undici pool`, r.ratios['service-undici / baseline'], 0.9, { extra: r.failures === 0 }),
      target(`p1.${server}.service-vs-urllib`, `${server}: service / Python urllib (original way)`, r.ratios['service-undici / urllib'], 10, { extra: r.failures === 0 }),
    );
  }
  const loadEnd = printLoad('end');
  printTargets(targets);
  const result = {
    path: 'p1',
    title: 'P1 publish throughput',
    startedAt,
    finishedAt: new Date().toISOString(),
    quick,
    machine: describeMachine(),
    nginxTemplates: await templateHashes(),
    load: { start: loadStart, end: loadEnd },
    settings: { ...cfg, channels: CHANNELS, message: DATA, nginxWorkers: 1 },
    servers: perServer,
    targets,
  };
  await writeResult(out, 'p1', result);
  await writeText(out, 'p1.svg', chart(result));
  await writeSummary(out);
  console.log(`\nresults: ${join(out, 'p1.json')}, ${join(out, 'p1.svg')}`);
  return targets.every((t) => t.pass !== false);
}

function chart(result) {
  const groups = Object.entries(result.servers).map(([server, r]) => ({
    label: `${server}`,
    bars: [
      ...r.variants.map((v, i) => ({
        label: v.label,
        value: v.rate.median,
        lo: v.rate.min,
        hi: v.rate.max,
        color: ['#4b5563', '#2563eb', '#d97706', '#9ca3af', '#dc2626', '#0891b2', '#16a34a', '#9333ea'][i % 8],
        text: `${fmt(v.rate.median)} ${v.unit === 'messages/s' ? 'msg/s' : 'channel-msg/s'}`,
      })),
      ...r.unavailable.map((u) => ({ label: u.label, value: null, text: `fails: ${u.error}`.slice(0, 70) })),
    ],
  }));
  return barChart({
    title: result.title,
    subtitle: `${result.machine.cpus} CPUs, load ${result.load.start.one}→${result.load.end.one}; ${result.settings.rounds} interleaved rounds; ${result.settings.concurrency} in flight (urllib: 1, new connection each)`,
    unit: 'messages per second',
    log: true,
    groups,
  });
}

runMain(main);
