#!/usr/bin/env node
// Publish throughput against a real nginx + Nchan on loopback, as ratios to a raw undici baseline
// measured in the same run (absolute numbers depend on the machine; ratios much less).
//
//   npm run bench                      (builds, then runs this file)
//   BENCH_MESSAGES=10000 BENCH_ROUNDS=5 BENCH_CONCURRENCY=32 BENCH_TARGET=0.7 node bench/publish.bench.mjs
//
// Variants, each with BENCH_CONCURRENCY publishes in flight:
//   baseline       undici Pool, POST of a pre-encoded envelope: the floor of HTTP work per message
//   service-undici PushStreamService with the default UndiciHttpClient (validation, encoding, parsing)
//   service-axios  PushStreamService with AxiosHttpClient on @nestjs/axios and a keep-alive agent
// Exit code 0 when service-undici / baseline >= BENCH_TARGET and no publish failed, else 1.
import 'reflect-metadata';
import { Agent as HttpAgent } from 'node:http';
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { HttpModule } from '@nestjs/axios';
import { NestFactory } from '@nestjs/core';
import { Pool } from 'undici';
import { PushStreamModule, PushStreamService } from '../dist/index.js';
import { AxiosHttpClient } from '../dist/http/axios-http-client.js';
import { NginxTestServer } from '../dist/testing/index.js';

function intEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

const MESSAGES = intEnv('BENCH_MESSAGES', 10_000);
const CONCURRENCY = intEnv('BENCH_CONCURRENCY', 32);
const ROUNDS = intEnv('BENCH_ROUNDS', 5);
const WARMUP = Math.min(2_000, Math.ceil(MESSAGES / 10));
/** Upper bound of one measured run; a run that hits it reports what it did in that time. */
const MAX_SECONDS = intEnv('BENCH_MAX_SECONDS', 30);
const TARGET = Number(process.env.BENCH_TARGET ?? '0.7');
const CHANNELS = 64;
const PREFIX = 'bench';
const DATA = { message: ['Foobar'] };
const SECRET = 'bench-secret-0123456789';

const channelName = (i) => `${PREFIX}__c__${i % CHANNELS}`;

/** Runs `publishOne(i)` for i in [0, count) with `concurrency` in flight; returns messages/s and failures. */
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
  // CPU time of this Node process per message: less sensitive to other load than msg/s.
  const cpuMicros = (cpu.user + cpu.system) / Math.max(1, done + failures);
  return { rate: done / seconds, cpuMicros, done, failures, firstError, seconds, truncated: done + failures < count };
}

async function baselineVariant(nginx) {
  const url = new URL(nginx.publisherUrl);
  const pool = new Pool(url.origin, { connections: CONCURRENCY, pipelining: 1, keepAliveTimeout: 30_000 });
  // The same bytes the library sends on Nchan: the JSON envelope, with the same headers.
  const bodies = Array.from({ length: CHANNELS }, (_, i) =>
    JSON.stringify({ channel: channelName(i), text: DATA, eventid: '', type: '' }),
  );
  return {
    name: 'baseline (raw undici Pool)',
    key: 'baseline',
    publishOne: async (i) => {
      const res = await pool.request({
        origin: url.origin,
        path: `${url.pathname}?id=${channelName(i)}`,
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: bodies[i % CHANNELS],
      });
      const text = await res.body.text();
      if (res.statusCode !== 201 && res.statusCode !== 202) throw new Error(`HTTP ${res.statusCode}: ${text}`);
    },
    close: () => pool.close(),
  };
}

function moduleOptions(nginx) {
  return { server: 'nchan', publisherUrl: nginx.publisherUrl, statsUrl: nginx.statsUrl, prefix: PREFIX, secret: SECRET };
}

async function serviceVariant(key, name, module, dispose = () => undefined) {
  const app = await NestFactory.createApplicationContext(module, { logger: false, abortOnError: false });
  const service = app.get(PushStreamService);
  return {
    name,
    key,
    publishOne: (i) => service.publish(channelName(i), DATA),
    close: async () => {
      await app.close();
      dispose();
    },
  };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const fmt = (n) => Math.round(n).toLocaleString('en-US');

async function main() {
  const nginx = await NginxTestServer.start({ server: 'nchan', appUpstream: '127.0.0.1:9' });
  const variants = [];
  try {
    const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: CONCURRENCY });
    variants.push(await baselineVariant(nginx));
    variants.push(
      await serviceVariant(
        'undici',
        'PushStreamService + UndiciHttpClient',
        PushStreamModule.forRoot({ ...moduleOptions(nginx), authRoute: false }),
      ),
    );
    variants.push(
      await serviceVariant(
        'axios',
        'PushStreamService + AxiosHttpClient (keep-alive)',
        PushStreamModule.forRootAsync({
          imports: [HttpModule.register({ httpAgent })],
          useFactory: () => moduleOptions(nginx),
          httpClient: AxiosHttpClient,
          authRoute: false,
        }),
        () => httpAgent.destroy(),
      ),
    );

    console.log(
      `nginx ${nginx.publisherUrl} (Nchan), ${MESSAGES} messages x ${ROUNDS} rounds, ${CONCURRENCY} in flight, ` +
        `${CHANNELS} channels, warm-up ${WARMUP}, node ${process.version}`,
    );
    const [load] = loadavg();
    if (load > availableParallelism() / 2) {
      console.log(`  note: load average ${load.toFixed(2)} on ${availableParallelism()} CPUs; other work skews absolute numbers, ratios less so`);
    }
    const rates = Object.fromEntries(variants.map((v) => [v.key, []]));
    const cpu = Object.fromEntries(variants.map((v) => [v.key, []]));
    let failures = 0;
    for (const v of variants) {
      const warm = await drive(v.publishOne, WARMUP, CONCURRENCY, MAX_SECONDS);
      if (warm.failures) throw new Error(`${v.name}: warm-up failed: ${warm.firstError?.message ?? warm.firstError}`);
    }
    // Rounds interleave the variants so that drift (CPU frequency, nginx memory) hits all alike.
    for (let round = 1; round <= ROUNDS; round++) {
      for (const v of variants) {
        const r = await drive(v.publishOne, MESSAGES, CONCURRENCY, MAX_SECONDS);
        rates[v.key].push(r.rate);
        cpu[v.key].push(r.cpuMicros);
        failures += r.failures;
        const note = [
          r.failures ? `${r.failures} FAILED (${r.firstError?.message ?? r.firstError})` : '',
          r.truncated ? `stopped at ${MAX_SECONDS}s` : '',
        ]
          .filter(Boolean)
          .join(', ');
        console.log(
          `  round ${round}  ${v.name.padEnd(48)} ${fmt(r.rate).padStart(8)} msg/s  ${r.cpuMicros.toFixed(1).padStart(6)} µs CPU/msg ${note}`,
        );
      }
    }

    const m = Object.fromEntries(Object.entries(rates).map(([k, list]) => [k, median(list)]));
    const c = Object.fromEntries(Object.entries(cpu).map(([k, list]) => [k, median(list)]));
    // Ratios per round (the variants ran back to back), then their median: drift in machine load
    // between rounds cancels out better than in a ratio of medians.
    const paired = (key, base) => median(rates[key].map((rate, i) => rate / rates[base][i]));
    const ratioUndici = paired('undici', 'baseline');
    const ratioAxios = paired('axios', 'baseline');
    console.log('\nratios (median over rounds of the per-round ratio)');
    console.log(`  service-undici / baseline        ${ratioUndici.toFixed(2)}   target >= ${TARGET}`);
    console.log(`  service-axios  / baseline        ${ratioAxios.toFixed(2)}   (informational)`);
    console.log(`  service-axios  / service-undici  ${paired('axios', 'undici').toFixed(2)}   (informational)`);
    console.log(`  CPU per message, baseline / service-undici  ${(c.baseline / c.undici).toFixed(2)}   (informational, load-insensitive)`);

    const pass = ratioUndici >= TARGET && failures === 0;
    console.log(
      `\n${pass ? 'PASS' : 'FAIL'}: service-undici / baseline = ${ratioUndici.toFixed(2)} (target ${TARGET})` +
        (failures ? `, ${failures} publishes failed` : ''),
    );
    process.exitCode = pass ? 0 : 1;
  } finally {
    for (const v of variants) await v.close().catch(() => undefined);
    await nginx.dispose();
  }
}

main().catch((err) => {
  console.error(`bench failed: ${err?.stack ?? err}`);
  process.exitCode = 1;
});
