#!/usr/bin/env node
// P3 fan-out: N WebSocket subscribers on one channel through the shipped /ws/ location (Nchan and
// the Push Stream Module), against a NestJS socket.io gateway, in the same run, interleaved.
//
//   node bench/p3-fanout.mjs [--quick] [--rounds N] [--sizes 1000,5000,10000] [--servers nchan,push-stream] [--out DIR]
//
// One run = one system at one size, all fresh processes:
//   nginx     NginxTestServer from the shipped templates, one worker (NGINX_WORKERS in
//             lib/common.mjs), /ws/bench__all__ authorized by auth_request against NestJS +
//             PushStreamModule (express-session, no cookie needed for the `all` kind); messages
//             published with PushStreamService from this process
//   gateway   bench/apps/gateway-app.mjs: @WebSocketGateway({ transports: ['websocket'] }), every
//             client joins one room; the gateway emits to the room when told over IPC
//   clients   bench/apps/ws-clients.mjs: N lean `ws` clients in one child process (the same client
//             code for both sides; socket.io spoken directly, websocket transport)
// A warm-up message, then BENCH_P3_MESSAGES messages one at a time (the next when every subscriber
// has the previous one, or after a timeout). Latency = arrival at the subscriber minus t0, the
// moment the app starts sending (before PushStreamService.publish(), before server.emit()), both
// from CLOCK_MONOTONIC. Memory per subscriber = growth of resident memory (nginx master + worker;
// the gateway's process after a forced GC) from before connecting to after the warm-up message,
// divided by the subscribers.
//
// At the memory size (the largest by default; BENCH_P3_MEMORY_SIZE to choose one of the sizes),
// also, for memory per subscriber: nginx without any subscriber check (`<server>:noauth`, the
// floor) and in ticket mode, each flavor the library renders (`<server>:ticket`, njs HMAC;
// `<server>:secure-link`, nginx's secure_link, when available): the URL carries `?ticket=`, nginx
// checks it itself and no app is asked. The memory target is ticket mode's.
//
// worker_connections: at least 16384 (one worker holds every subscriber; the shipped 20480 is kept).
import 'reflect-metadata';
import { join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import {
  BENCH_DIR,
  NGINX_WORKERS,
  describeMachine,
  templateHashes,
  fmt,
  fmtRatio,
  lib,
  forkHelper,
  loadAverage,
  pairedRatio,
  parseArgs,
  printLoad,
  processCpuMicros,
  printTargets,
  resultsDir,
  rotate,
  runMain,
  sleep,
  startNginx,
  summarize,
  target,
  ticketFlavors,
  writeResult,
  writeText,
} from './lib/common.mjs';
import { barChart } from './lib/svg.mjs';
import { writeSummary } from './lib/summary.mjs';

const { PushStreamModule, PushStreamService } = await lib('index.js');
const AUTH_APP = join(BENCH_DIR, 'apps/auth-app.mjs');
const GATEWAY_APP = join(BENCH_DIR, 'apps/gateway-app.mjs');
const CLIENTS = join(BENCH_DIR, 'apps/ws-clients.mjs');
const CHANNEL = 'bench__all__';
const WORKER_CONNECTIONS = 16384;
const FLAVORS = await ticketFlavors();
const FLAVOR_BY_KEY = Object.fromEntries(FLAVORS.map((f) => [f.key, f]));

async function runOne(system, size, cfg) {
  const stops = [];
  const stopAll = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  try {
    let url;
    let publish;
    let memory;
    let errorLog;
    let serverCpu;
    if (system === 'gateway') {
      const gw = await forkHelper(GATEWAY_APP, [], { execArgv: ['--expose-gc'], name: 'gateway' });
      stops.push(() => gw.stop());
      url = `ws://127.0.0.1:${gw.ready.port}/socket.io/?EIO=4&transport=websocket`;
      publish = (seq) => gw.request({ cmd: 'publish', seq });
      memory = async () => (await gw.request({ cmd: 'memory' })).rss;
      serverCpu = () => processCpuMicros(gw.pid);
    } else {
      // `nchan:noauth`: no subscriber check, for memory without the auth subrequest.
      // `nchan:ticket`, `nchan:secure-link`: ticket mode, nginx checks ?ticket= and asks no app.
      const [server, variant] = system.split(':');
      const flavor = FLAVOR_BY_KEY[variant];
      let appUpstream = '127.0.0.1:9';
      if (!flavor) {
        const auth = await forkHelper(AUTH_APP, ['memory', server], { name: `${system} auth app` });
        stops.push(() => auth.stop());
        appUpstream = `127.0.0.1:${auth.ready.port}`;
      }
      const n = await startNginx(
        { server, appUpstream, ...(flavor?.nginxOptions ?? {}) },
        { workerConnections: WORKER_CONNECTIONS, stripAuth: variant === 'noauth' },
      );
      stops.push(() => n.dispose());
      const ctx = await NestFactory.createApplicationContext(
        PushStreamModule.forRoot({ server, publisherUrl: n.nginx.publisherUrl, prefix: 'bench', secret: 'bench-secret-0123456789', authRoute: false }),
        { logger: false, abortOnError: false },
      );
      stops.push(() => ctx.close());
      const service = ctx.get(PushStreamService);
      url = `ws://127.0.0.1:${n.nginx.port}/ws/${CHANNEL}`;
      if (flavor) url += `?${flavor.query(CHANNEL, Math.floor(Date.now() / 1000) + 3600)}`;
      publish = (seq) => service.publish(CHANNEL, { bseq: seq, t0: String(process.hrtime.bigint()) });
      memory = async () => (await n.memory()).rss;
      errorLog = () => n.nginx.errorLog();
      serverCpu = () => n.workerCpuMicros();
    }
    // Subscribers split over several client processes, so that receiving is not one event loop's
    // queue (the same for both sides).
    const parts = Math.min(cfg.clientProcesses, size);
    const clients = [];
    for (let i = 0; i < parts; i++) {
      const c = await forkHelper(CLIENTS, [], { name: `ws clients ${i + 1}` });
      stops.push(() => c.stop());
      clients.push(c);
    }
    let pendingAll = 0;
    let onAll = null;
    for (const c of clients) {
      c.on((msg) => {
        if (msg?.type === 'all-received' && --pendingAll === 0) onAll?.();
      });
    }
    const send = async (seq, counts) => {
      pendingAll = counts.filter((n) => n > 0).length;
      await Promise.all(clients.map((c, i) => c.request({ cmd: 'expect', seq, count: counts[i] })));
      const all = new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), cfg.deliveryTimeoutMs);
        onAll = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
      await publish(seq);
      const ok = await all;
      onAll = null;
      return ok;
    };

    const memBefore = await memory();
    const shares = clients.map((_, i) => Math.floor(size / parts) + (i < size % parts ? 1 : 0));
    const conns = await Promise.all(
      clients.map((c, i) =>
        c.request({ cmd: 'connect', url, count: shares[i], kind: system === 'gateway' ? 'socketio' : 'nginx', concurrency: Math.ceil(128 / parts), timeoutMs: 30_000 }, 300_000),
      ),
    );
    const conn = {
      connected: conns.reduce((n, c) => n + c.connected, 0),
      failed: conns.reduce((n, c) => n + c.failed, 0),
      errors: Object.assign({}, ...conns.map((c) => c.errors)),
      seconds: Math.max(...conns.map((c) => c.seconds)),
    };
    const counts = conns.map((c) => c.connected);
    if (conn.failed) console.log(`    ${system} ${size}: ${conn.failed} connects failed: ${JSON.stringify(conn.errors)}`);
    if (conn.failed && errorLog) console.log((await errorLog()).split('\n').filter((l) => /\[(error|crit|alert|emerg)\]/.test(l)).slice(0, 5).join('\n'));
    await sleep(300);
    const warmOk = await send(0, counts);
    const memAfter = await memory();
    const cpuBefore = await Promise.all(clients.map((c) => c.request({ cmd: 'cpu' })));
    const serverCpuBefore = await serverCpu();
    let timeouts = warmOk ? 0 : 1;
    for (let seq = 1; seq <= cfg.messages; seq++) {
      if (!(await send(seq, counts))) timeouts++;
      await sleep(cfg.gapMs);
    }
    await sleep(500);
    const serverCpuUsed = (await serverCpu()) - serverCpuBefore;
    const parts_ = await Promise.all(clients.map((c) => c.request({ cmd: 'collect', fromSeq: 1, toSeq: cfg.messages }, 120_000)));
    await Promise.all(clients.map((c) => c.request({ cmd: 'close' })));
    const latencies = Float64Array.from(parts_.flatMap((p) => p.latencies)).sort();
    const q = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * (latencies.length - 1)))] : null);
    const clientCpu = parts_.reduce((n, p, i) => n + p.cpuMicros - cpuBefore[i].cpuMicros, 0);
    const stats = {
      delivered: latencies.length,
      lost: parts_.reduce((n, p) => n + p.lost, 0),
      doubled: parts_.reduce((n, p) => n + p.doubled, 0),
      closedEarly: parts_.reduce((n, p) => n + p.closedEarly, 0),
      p50: q(0.5),
      p90: q(0.9),
      p99: q(0.99),
      max: latencies.length ? latencies[latencies.length - 1] : null,
      lastSubscriberPerMessage: parts_[0].lastSubscriberPerMessage.map((_, k) => Math.max(...parts_.map((p) => p.lastSubscriberPerMessage[k]))),
      // CPU of the client processes per delivered message (the receiving side's own cost).
      clientCpuMicrosPerDelivery: latencies.length ? Math.round((clientCpu / latencies.length) * 10) / 10 : null,
      // CPU of the server (nginx workers, or the gateway process) per delivered message.
      serverCpuMicrosPerDelivery: latencies.length ? Math.round((serverCpuUsed / latencies.length) * 100) / 100 : null,
    };
    const last = stats.lastSubscriberPerMessage.filter((v) => v > 0);
    return {
      system,
      size,
      connected: conn.connected,
      connectFailed: conn.failed,
      connectErrors: conn.errors,
      connectSeconds: Math.round(conn.seconds * 100) / 100,
      messages: cfg.messages,
      delivered: stats.delivered,
      // Not delivered to a subscriber that was meant to have it, connected or not.
      lost: stats.lost,
      doubled: stats.doubled,
      closedEarly: stats.closedEarly,
      deliveryTimeouts: timeouts,
      p50Ms: ms(stats.p50),
      p90Ms: ms(stats.p90),
      p99Ms: ms(stats.p99),
      maxMs: ms(stats.max),
      lastSubscriberMs: { median: ms(median(last)), max: ms(Math.max(...last, 0)) },
      clientProcesses: parts,
      clientCpuMicrosPerDelivery: stats.clientCpuMicrosPerDelivery,
      serverCpuMicrosPerDelivery: stats.serverCpuMicrosPerDelivery,
      memory: { before: memBefore, after: memAfter, perSubscriberBytes: Math.round((memAfter - memBefore) / Math.max(1, conn.connected)) },
    };
  } finally {
    await stopAll();
  }
}

const ms = (us) => (us == null ? null : Math.round(us) / 1000);
function median(list) {
  if (!list.length) return null;
  const s = [...list].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

async function main() {
  const args = parseArgs();
  const quick = args.quick;
  const cfg = {
    rounds: args.rounds ?? (quick ? 1 : 3),
    sizes: args.sizes ?? (quick ? [200, 1000] : [1000, 5000, 10000]),
    messages: Number(process.env.BENCH_P3_MESSAGES ?? (quick ? 3 : 10)),
    gapMs: 100,
    clientProcesses: Number(process.env.BENCH_P3_CLIENT_PROCESSES ?? 1),
    deliveryTimeoutMs: 15_000,
  };
  const servers = args.servers ?? ['nchan', 'push-stream'];
  const systems = [...servers, 'gateway'];
  const memorySize = Number(process.env.BENCH_P3_MEMORY_SIZE ?? Math.max(...cfg.sizes));
  if (!cfg.sizes.includes(memorySize)) throw new Error(`BENCH_P3_MEMORY_SIZE ${memorySize} is not one of the sizes ${cfg.sizes.join(', ')}`);
  const flavors = FLAVORS.filter((f) => f.available);
  for (const f of FLAVORS.filter((x) => !x.available)) console.log(`  ${f.key}: ${f.reason}`);
  // At the memory size only: nginx without a subscriber check (what the auth subrequest costs in
  // memory per subscriber, informational) and in ticket mode, each flavor (the memory target).
  const memorySystems = servers.flatMap((s) => [`${s}:noauth`, ...flavors.map((f) => `${s}:${f.key}`)]);
  const systemsAt = (size) => (size === memorySize ? [...systems, ...memorySystems] : systems);
  const out = resultsDir(args);
  const startedAt = new Date().toISOString();
  const loadStart = printLoad('start');
  console.log(
    `P3 fan-out: sizes ${cfg.sizes.join(', ')}, ${cfg.rounds} rounds, ${cfg.messages} messages per run, systems ${systems.join(', ')}; ` +
      `at ${memorySize} also ${memorySystems.join(', ')}; nginx ${NGINX_WORKERS} worker`,
  );

  const runs = [];
  for (let round = 0; round < cfg.rounds; round++) {
    for (const size of cfg.sizes) {
      for (const system of rotate(systemsAt(size), round)) {
        const load = loadAverage().one;
        const r = { round: round + 1, load, ...(await runOne(system, size, cfg)) };
        runs.push(r);
        console.log(
          `  round ${r.round} ${String(size).padStart(5)} ${system.padEnd(18)} p50 ${fmt(r.p50Ms, 1).padStart(7)} ms  p99 ${fmt(r.p99Ms, 1).padStart(7)} ms  ` +
            `max ${fmt(r.maxMs, 1).padStart(7)} ms  last ${fmt(r.lastSubscriberMs.median, 1)} ms  lost ${r.lost}  doubled ${r.doubled}  ` +
            `connected ${r.connected}/${size} in ${r.connectSeconds}s  CPU/delivery: server ${r.serverCpuMicrosPerDelivery} µs, clients ${r.clientCpuMicrosPerDelivery} µs  mem ${fmt(r.memory.perSubscriberBytes)} B/sub  load ${load}`,
        );
      }
    }
  }

  const bySizeSystem = {};
  for (const size of cfg.sizes) {
    bySizeSystem[size] = {};
    for (const system of systemsAt(size)) {
      const list = runs.filter((r) => r.size === size && r.system === system);
      bySizeSystem[size][system] = {
        p50Ms: summarize(list.map((r) => r.p50Ms)),
        p99Ms: summarize(list.map((r) => r.p99Ms)),
        maxMs: summarize(list.map((r) => r.maxMs)),
        lastSubscriberMs: summarize(list.map((r) => r.lastSubscriberMs.median)),
        memoryPerSubscriberBytes: summarize(list.map((r) => r.memory.perSubscriberBytes)),
        serverCpuMicrosPerDelivery: summarize(list.map((r) => r.serverCpuMicrosPerDelivery)),
        clientCpuMicrosPerDelivery: summarize(list.map((r) => r.clientCpuMicrosPerDelivery)),
        connectPerSecond: summarize(list.map((r) => r.connected / r.connectSeconds)),
        lost: list.reduce((n, r) => n + r.lost, 0),
        doubled: list.reduce((n, r) => n + r.doubled, 0),
        connectFailed: list.reduce((n, r) => n + r.connectFailed, 0),
      };
    }
  }
  const ratios = {};
  const targets = [];
  const roundsOf = (size, system) => runs.filter((r) => r.size === size && r.system === system).sort((a, b) => a.round - b.round);
  for (const server of servers) {
    for (const size of cfg.sizes) {
      const g = roundsOf(size, 'gateway');
      const s = roundsOf(size, server);
      const ratio = pairedRatio(
        g.map((r) => r.p99Ms),
        s.map((r) => r.p99Ms),
      );
      ratios[`${size} gateway p99 / ${server} p99`] = ratio;
      const clean = s.every((r) => r.lost === 0 && r.connectFailed === 0);
      const gatewayLost = g.reduce((n, r) => n + r.lost, 0);
      targets.push(
        target(`p3.${server}.${size}.p99`, `${server} ${size} subs: gateway p99 / nginx p99 (0 lost)`, ratio, 3, {
          extra: clean,
          note: clean ? (gatewayLost ? `gateway lost ${gatewayLost}` : undefined) : `nginx lost ${s.reduce((n, r) => n + r.lost, 0)}, connect failures ${s.reduce((n, r) => n + r.connectFailed, 0)}`,
        }),
      );
      ratios[`${size} ${server} (auth_request) memory / gateway memory`] = pairedRatio(
        s.map((r) => r.memory.perSubscriberBytes),
        g.map((r) => r.memory.perSubscriberBytes),
      );
    }
    for (const f of FLAVORS) {
      const ratio = f.available
        ? pairedRatio(
            roundsOf(memorySize, `${server}:${f.key}`).map((r) => r.memory.perSubscriberBytes),
            roundsOf(memorySize, 'gateway').map((r) => r.memory.perSubscriberBytes),
          )
        : null;
      if (ratio) ratios[`${memorySize} ${server} ${f.key} memory / gateway memory`] = ratio;
      const t = f.available ? roundsOf(memorySize, `${server}:${f.key}`) : [];
      const clean = t.every((r) => r.lost === 0 && r.connectFailed === 0);
      targets.push(
        target(`p3.${server}.memory.${f.key}`, `${server} ${memorySize} subs: nginx memory per subscriber, ${f.label} / gateway's`, ratio, 0.7, {
          op: '<=',
          extra: clean,
          note: !f.available ? f.reason : clean ? undefined : `ticket mode lost ${t.reduce((n, r) => n + r.lost, 0)}, connect failures ${t.reduce((n, r) => n + r.connectFailed, 0)}`,
        }),
      );
    }
  }
  for (const server of servers) {
    ratios[`${memorySize} ${server} without a subscriber check memory / gateway memory`] = pairedRatio(
      roundsOf(memorySize, `${server}:noauth`).map((r) => r.memory.perSubscriberBytes),
      roundsOf(memorySize, 'gateway').map((r) => r.memory.perSubscriberBytes),
    );
  }
  console.log('\nratios (median [min-max] over rounds):');
  for (const [k, s] of Object.entries(ratios)) console.log(`  ${k.padEnd(64)} ${fmtRatio(s)}`);
  const loadEnd = printLoad('end');
  printTargets(targets);

  const result = {
    path: 'p3',
    title: 'P3 fan-out to WebSocket subscribers on one channel',
    startedAt,
    finishedAt: new Date().toISOString(),
    quick,
    machine: describeMachine(),
    nginxTemplates: await templateHashes(),
    load: { start: loadStart, end: loadEnd },
    settings: {
      ...cfg,
      memorySize,
      nginxWorkers: NGINX_WORKERS,
      nginxWorkerConnections: `at least ${WORKER_CONNECTIONS} (the shipped value when larger)`,
      auth: 'auth_request to NestJS + PushStreamModule (kind `all`) on every subscribe; at the memory size also no check, and ticket mode (?ticket=, checked by nginx) per flavor',
      ticketFlavors: FLAVORS.map((f) => ({ key: f.key, label: f.label, available: f.available, reason: f.available ? undefined : f.reason })),
      gateway: 'NestJS @WebSocketGateway, socket.io, transports [websocket], one room, direct (no nginx in front)',
      clients: 'one child process, `ws` package, same lean client for both (socket.io protocol spoken directly)',
      message: '{"bseq":n,"t0":"<hrtime ns>"}',
    },
    summary: bySizeSystem,
    ratios,
    runs,
    targets,
  };
  await writeResult(out, 'p3', result);
  await writeText(out, 'p3.svg', chart(result));
  await writeSummary(out);
  console.log(`\nresults: ${join(out, 'p3.json')}, ${join(out, 'p3.svg')}`);
  return targets.every((t) => t.pass !== false);
}

function chart(result) {
  const colors = {
    nchan: '#2563eb',
    'push-stream': '#16a34a',
    gateway: '#dc2626',
    'nchan:noauth': '#93c5fd',
    'push-stream:noauth': '#86efac',
    'nchan:ticket': '#7c3aed',
    'push-stream:ticket': '#a855f7',
    'nchan:secure-link': '#be185d',
    'push-stream:secure-link': '#db2777',
  };
  const names = { gateway: 'NestJS socket.io gateway' };
  for (const server of ['nchan', 'push-stream']) {
    names[`${server}:noauth`] = `nginx ${server}, no subscriber check*`;
    for (const f of FLAVORS) names[`${server}:${f.key}`] = `nginx ${server}, ${f.key === 'ticket' ? 'njs ticket' : `${f.key} ticket`}`;
  }
  const groups = [];
  for (const [size, systems] of Object.entries(result.summary)) {
    groups.push({
      label: `${fmt(Number(size))} subscribers — p99 latency (p50 and max in the label)`,
      bars: Object.entries(systems).map(([system, s]) => ({
        label: names[system] ?? `nginx ${system}`,
        value: s.p99Ms.median,
        lo: s.p99Ms.min,
        hi: s.p99Ms.max,
        color: colors[system],
        text: `p99 ${fmt(s.p99Ms.median, 1)} ms (p50 ${fmt(s.p50Ms.median, 1)}, max ${fmt(s.maxMs.median, 1)}), lost ${s.lost}, ${fmt(s.memoryPerSubscriberBytes.median)} B/subscriber`,
      })),
    });
  }
  return barChart({
    title: result.title,
    subtitle: `${result.machine.cpus} CPUs, load ${result.load.start.one}→${result.load.end.one}; nginx ${result.settings.nginxWorkers} worker; ${result.settings.rounds} interleaved rounds × ${result.settings.messages} messages; memory = resident growth per subscriber; * informational`,
    unit: 'milliseconds from the app sending to the subscriber receiving (p99)',
    log: true,
    width: 1320,
    labelWidth: 290,
    textWidth: 400,
    groups,
  });
}

if (process.env.BENCH_REDRAW === '1') {
  // Redraw p3.svg from p3.json (after a change to the chart), without running anything.
  const out = resultsDir(parseArgs());
  const { readFile } = await import('node:fs/promises');
  await writeText(out, 'p3.svg', chart(JSON.parse(await readFile(join(out, 'p3.json'), 'utf8'))));
  console.log(`redrawn: ${join(out, 'p3.svg')}`);
} else {
  runMain(main);
}
