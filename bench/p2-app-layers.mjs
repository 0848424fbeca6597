#!/usr/bin/env node
// Where the app's CPU time per auth answer goes (P2's session-mode target), layer by layer: the
// same auth request sent straight to each app (no nginx), interleaved rounds, CPU time of the app
// process per request. Informational: no target; the numbers behind P2's findings.
//
//   node bench/p2-app-layers.mjs [--rounds N] [--quick] [--out DIR]
//
// Layers (bench/apps/auth-layers-app.mjs): bare node:http; Express 5; Express + express-session;
// NestJS + PushStreamModule's auth endpoint, without and with body parsers; the same with
// express-session (MemoryStore; channel `all`, and the session's own channel as P2 asks); with
// connect-redis; and a lean path (node:http, the signed cookie checked by hand, MemoryStore.get and
// the library's ChannelAuthorizer) that makes the same decision without Express, Nest's pipeline
// or express-session. Results: <out>/p2-app-layers.json.
import { join } from 'node:path';
import autocannon from 'autocannon';
import { request } from 'undici';
import {
  BENCH_DIR,
  describeMachine,
  fmt,
  forkHelper,
  lib,
  loadAverage,
  parseArgs,
  printLoad,
  resultsDir,
  rotate,
  runMain,
  startRedis,
  summarize,
  writeResult,
} from './lib/common.mjs';

const APP = join(BENCH_DIR, 'apps/auth-layers-app.mjs');

const LAYERS = [
  { key: 'bare', label: 'bare node:http 204', layer: 'bare', channel: 'all' },
  { key: 'express', label: 'Express 5, one route (no session)', layer: 'express', channel: 'all' },
  { key: 'express-session', label: 'Express 5 + express-session (MemoryStore), logged in', layer: 'express-session', channel: 'all' },
  { key: 'nest', label: 'Nest auth endpoint, no session middleware', layer: 'nest', channel: 'all' },
  { key: 'nest-nobody', label: 'Nest auth endpoint, no session, bodyParser: false', layer: 'nest', channel: 'all', env: { NO_BODY_PARSER: '1' } },
  { key: 'nest-session-all', label: 'Nest + express-session (MemoryStore), channel `all`', layer: 'nest-session', channel: 'all' },
  { key: 'nest-session', label: 'Nest + express-session (MemoryStore), session channel (P2)', layer: 'nest-session', channel: 'session' },
  { key: 'nest-session-nobody', label: 'the same, bodyParser: false', layer: 'nest-session', channel: 'session', env: { NO_BODY_PARSER: '1' } },
  { key: 'nest-redis', label: 'Nest + express-session (connect-redis), session channel (P2)', layer: 'nest-redis', channel: 'session' },
  { key: 'lean-session', label: 'lean: node:http + cookie check + MemoryStore.get + ChannelAuthorizer', layer: 'lean-session', channel: 'session' },
];

async function main() {
  const args = parseArgs();
  const rounds = args.rounds ?? (args.quick ? 1 : 5);
  const seconds = args.quick ? 1 : 3;
  const connections = 32;
  const out = resultsDir(args);
  const startedAt = new Date().toISOString();
  const loadStart = printLoad('start');
  const { findFreePort } = await lib('testing/index.js');
  const redis = await startRedis(findFreePort);
  const apps = [];
  try {
    for (const l of LAYERS) {
      const app = await forkHelper(APP, [l.layer, redis.url], { name: l.key, env: l.env });
      const base = `http://127.0.0.1:${app.ready.port}`;
      const login = await request(`${base}/bench/login`, { method: 'POST' });
      const body = await login.body.json().catch(() => ({}));
      const cookie = String(login.headers['set-cookie'] ?? '').split(';')[0] || 'sample.sid=none';
      const channel = l.channel === 'session' ? body.session : 'bench__all__';
      if (!channel) throw new Error(`${l.key}: no session channel from login`);
      // The headers nginx's auth location sends (nginx/*.conf.template, /_push_stream_auth).
      const headers = {
        cookie,
        'x-push-stream-channels': channel,
        'x-push-stream-server': 'push-stream',
        host: 'bench.test',
        'x-forwarded-for': '127.0.0.1',
        'x-forwarded-proto': 'http',
        'x-real-ip': '127.0.0.1',
      };
      const probe = await request(`${base}/push-stream/auth`, { headers });
      await probe.body.text();
      if (probe.statusCode !== 204) throw new Error(`${l.key}: the auth request answered ${probe.statusCode}, expected 204`);
      const refused = await request(`${base}/push-stream/auth`, { headers: { ...headers, cookie: 'sample.sid=none' } });
      await refused.body.text();
      apps.push({ ...l, app, base, headers, refusedWithoutSession: refused.statusCode, runs: [] });
    }
    for (const a of apps) await drive(a, 1, connections);
    for (let round = 0; round < rounds; round++) {
      for (const a of rotate(apps, round)) {
        const r = await drive(a, seconds, connections);
        a.runs.push(r);
        console.log(`  round ${round + 1} ${a.key.padEnd(20)} ${fmt(r.cpuMicrosPerRequest).padStart(5)} µs CPU/request  ${fmt(r.rate).padStart(6)} requests/s  load ${r.load}`);
      }
    }
  } finally {
    for (const a of apps) await a.app.stop();
    await redis.stop();
  }
  const loadEnd = printLoad('end');
  const bare = summarize(apps[0].runs.map((r) => r.cpuMicrosPerRequest)).median;
  console.log('\nmedian over rounds: app CPU µs per auth request (× bare), requests/s');
  const layers = apps.map((a) => {
    const cpu = summarize(a.runs.map((r) => r.cpuMicrosPerRequest));
    const rate = summarize(a.runs.map((r) => r.rate));
    console.log(`  ${a.label.padEnd(72)} ${fmt(cpu.median).padStart(5)} µs (× ${(cpu.median / bare).toFixed(1)})  ${fmt(rate.median).padStart(6)}/s`);
    return { key: a.key, label: a.label, channel: a.channel, refusedWithoutSession: a.refusedWithoutSession, cpuMicrosPerRequest: cpu, rate, runs: a.runs };
  });
  const result = {
    path: 'p2-app-layers',
    title: 'P2 app layers: CPU time of the app per auth request, straight to the app (no nginx)',
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: describeMachine(),
    load: { start: loadStart, end: loadEnd },
    settings: { rounds, secondsPerRun: seconds, connections },
    layers,
  };
  await writeResult(out, 'p2-app-layers', result);
  console.log(`\nresults: ${join(out, 'p2-app-layers.json')}`);
}

async function drive(a, seconds, connections) {
  const cpu = async () => {
    const res = await request(`${a.base}/bench/cpu`);
    return res.body.json();
  };
  const before = await cpu();
  const load = loadAverage().one;
  const result = await autocannon({ url: `${a.base}/push-stream/auth`, headers: a.headers, connections, duration: seconds });
  const after = await cpu();
  const handled = after.handled - before.handled;
  return {
    rate: result['2xx'] / seconds,
    non2xx: result.non2xx,
    cpuMicrosPerRequest: handled > 0 ? Math.round((after.cpuMicros - before.cpuMicros) / handled) : null,
    load,
  };
}

runMain(main);
