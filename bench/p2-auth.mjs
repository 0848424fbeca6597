#!/usr/bin/env node
// P2 authorization: real subscribe requests through the shipped nginx locations, authorized by
// auth_request, as ratios to baselines measured in the same run.
//
//   node bench/p2-auth.mjs [--quick] [--rounds N] [--servers nchan,push-stream] [--out DIR]
//
// The request: a long-polling subscription, `/lp/<channel>` (Nchan; replays the channel's oldest
// stored message) or `/lp/<channel>.b1` (Push Stream Module; the last stored message), with a
// valid session cookie. A message is stored in the channel before each run, so nginx authorizes,
// subscribes and answers at once on a keep-alive connection: a complete subscribe request. (A
// `return 204;` after auth_request would answer before nginx ever asks the app; a subscriber
// location does not, and the app counts the requests it is asked, checked against the answers.)
//
// Variants, one nginx each (shipped templates unless said), interleaved in every round:
//   no-auth         the templates with the auth_request lines removed: nginx never asks anyone
//   bare-204        auth_request to a bare Node http server that answers 204 to everything
//   session-memory  auth_request to NestJS + PushStreamModule's endpoint, express-session MemoryStore
//   session-redis   the same with connect-redis, sessions in our own redis-server
//   ticket          TODO: signed subscription tickets verified in nginx with njs (not built yet)
//   informational, derived template: auth subrequests over keep-alive upstream connections
//   bare-204+ka, session-memory+ka
// Load: autocannon (in this process; the apps and redis are child processes, nginx its own).
import { join } from 'node:path';
import autocannon from 'autocannon';
import { request } from 'undici';
import {
  BENCH_DIR,
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
  printTargets,
  resultsDir,
  rotate,
  runMain,
  startNginx,
  startRedis,
  summarize,
  target,
  writeResult,
  writeText,
} from './lib/common.mjs';
import { barChart } from './lib/svg.mjs';
import { writeSummary } from './lib/summary.mjs';

const AUTH_APP = join(BENCH_DIR, 'apps/auth-app.mjs');

/**
 * Ticket mode: when it exists, add its variant here (an nginx whose /lp/ location verifies a signed
 * ticket with njs, and a URL carrying a ticket) and set `available: true`; the target
 * "ticket / no-auth >= 0.9" then measures itself.
 */
const TICKET = { key: 'ticket', label: 'ticket (njs, nginx only)', available: false, reason: 'not yet available: ticket mode is not built yet' };

async function main() {
  const args = parseArgs();
  const quick = args.quick;
  const rounds = args.rounds ?? (quick ? 2 : 5);
  const seconds = quick ? 1 : 3;
  const warmSeconds = quick ? 0.5 : 1;
  const connections = 32;
  const servers = args.servers ?? ['nchan', 'push-stream'];
  const out = resultsDir(args);
  const startedAt = new Date().toISOString();
  const loadStart = printLoad('start');
  console.log(`P2 authorization: ${rounds} rounds x ${seconds}s per variant, ${connections} connections, servers ${servers.join(', ')}`);

  const { findFreePort } = await lib('testing/index.js');
  const redis = await startRedis(findFreePort);
  const perServer = {};
  const targets = [];
  try {
    for (const server of servers) {
      perServer[server] = await runServer(server, { rounds, seconds, warmSeconds, connections, redisUrl: redis.url });
      const r = perServer[server];
      const sm = r.ratios['session-memory / bare-204'];
      const sr = r.ratios['session-redis / bare-204'];
      targets.push(
        target(`p2.${server}.session-memory`, `${server}: session (MemoryStore) / bare Node 204`, sm, 0.6, { extra: r.clean }),
        target(`p2.${server}.session-redis`, `${server}: session (Redis) / bare Node 204`, sr, 0.6, { extra: r.clean }),
        target(`p2.${server}.ticket`, `${server}: ticket mode / no auth`, r.ratios['ticket / no-auth'] ?? null, 0.9, {
          note: TICKET.available ? undefined : 'TODO: ticket mode not yet available',
        }),
      );
    }
  } finally {
    await redis.stop();
  }
  const loadEnd = printLoad('end');
  printTargets(targets);

  const result = {
    path: 'p2',
    title: 'P2 authorization: subscribe requests per second through auth_request',
    startedAt,
    finishedAt: new Date().toISOString(),
    quick,
    machine: describeMachine(),
    nginxTemplates: await templateHashes(),
    load: { start: loadStart, end: loadEnd },
    settings: { rounds, secondsPerRun: seconds, connections, request: 'GET /lp/<session channel> (push-stream: .b1), keep-alive, valid session cookie' },
    servers: perServer,
    targets,
  };
  await writeResult(out, 'p2', result);
  await writeText(out, 'p2.svg', chart(result));
  await writeSummary(out);
  console.log(`\nresults: ${join(out, 'p2.json')}, ${join(out, 'p2.svg')}`);
  return targets.every((t) => t.pass !== false);
}

async function runServer(server, { rounds, seconds, warmSeconds, connections, redisUrl }) {
  console.log(`\n== ${server}`);
  const apps = {
    bare: await forkHelper(AUTH_APP, ['bare', server], { name: 'bare-204 app' }),
    memory: await forkHelper(AUTH_APP, ['memory', server], { name: 'session-memory app' }),
    redis: await forkHelper(AUTH_APP, ['redis', server, redisUrl], { name: 'session-redis app' }),
  };
  const started = [];
  try {
    const upstream = (app) => `127.0.0.1:${app.ready.port}`;
    const mk = async (key, label, app, derive, { cookieFrom, informational = false } = {}) => {
      const n = await startNginx({ server, appUpstream: upstream(app) }, derive);
      started.push(n);
      return { key, label, app, nginx: n.nginx, cookieFrom, informational, expectAsked: !derive.stripAuth };
    };
    const variants = [
      await mk('no-auth', 'no auth (auth_request removed)', apps.bare, { stripAuth: true }),
      await mk('bare-204', 'bare Node 204', apps.bare, {}),
      await mk('session-memory', 'session, MemoryStore', apps.memory, {}, { cookieFrom: 'self' }),
      await mk('session-redis', 'session, Redis', apps.redis, {}, { cookieFrom: 'self' }),
      await mk('bare-204+ka', 'bare Node 204, keep-alive upstream*', apps.bare, { authKeepalive: 32 }, { informational: true }),
      await mk('session-memory+ka', 'session MemoryStore, keep-alive upstream*', apps.memory, { authKeepalive: 32 }, {
        cookieFrom: 'self',
        informational: true,
      }),
    ];
    // Sessions: log in through each session variant's own nginx (location / proxies to the app).
    let anyChannel;
    for (const v of variants.filter((x) => x.cookieFrom)) {
      const res = await request(`${v.nginx.baseUrl}/bench/login`, { method: 'POST' });
      const body = await res.body.json();
      const cookie = String(res.headers['set-cookie'] ?? '').split(';')[0];
      if (res.statusCode !== 200 || !cookie) throw new Error(`${v.key}: login failed (HTTP ${res.statusCode})`);
      v.cookie = cookie;
      v.channel = body.session;
      anyChannel ??= body.session;
    }
    for (const v of variants.filter((x) => !x.cookieFrom)) {
      v.cookie = variants.find((x) => x.cookieFrom).cookie;
      v.channel = anyChannel;
    }
    for (const v of variants) v.path = server === 'nchan' ? `/lp/${v.channel}` : `/lp/${v.channel}.b1`;

    // Proof that the auth is real before timing anything: without a cookie a session variant
    // refuses, with it nginx subscribes and answers the stored message, and the app was asked.
    for (const v of variants) {
      await storeMessage(v);
      const before = (await v.app.request({ cmd: 'count' })).auth;
      const withCookie = await request(`${v.nginx.baseUrl}${v.path}`, { headers: { cookie: v.cookie }, signal: AbortSignal.timeout(5000) });
      const text = await withCookie.body.text();
      const without = await request(`${v.nginx.baseUrl}${v.path}`, { signal: AbortSignal.timeout(5000) }).catch(() => null);
      await without?.body.text();
      const asked = (await v.app.request({ cmd: 'count' })).auth - before;
      v.check = { withCookie: withCookie.statusCode, withoutCookie: without?.statusCode ?? 'timeout', appAsked: asked };
      const expectWithout = v.cookieFrom ? 401 : 200;
      if (withCookie.statusCode !== 200 || !text.includes('bench-marker')) throw new Error(`${v.key}: subscribe answered ${withCookie.statusCode}: ${text.slice(0, 200)}`);
      if (without?.statusCode !== expectWithout) throw new Error(`${v.key}: without a cookie answered ${without?.statusCode}, expected ${expectWithout}`);
      if (asked !== (v.expectAsked ? 2 : 0)) throw new Error(`${v.key}: the app was asked ${asked} times for 2 subscriptions`);
      console.log(`  check ${v.key.padEnd(18)} with cookie ${v.check.withCookie}, without ${v.check.withoutCookie}, app asked ${asked}/2`);
    }

    const measured = [...variants];
    for (const v of measured) await drive(v, warmSeconds, connections);
    const runs = Object.fromEntries(measured.map((v) => [v.key, []]));
    let clean = true;
    for (let round = 0; round < rounds; round++) {
      for (const v of rotate(measured, round)) {
        await storeMessage(v);
        const r = await drive(v, seconds, connections);
        runs[v.key].push(r);
        const problems = [];
        if (r.non2xx || r.errors || r.timeouts) problems.push(`${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`);
        if (v.expectAsked && r.appAsked < r.ok) problems.push(`app asked ${r.appAsked} < ${r.ok} answers`);
        if (!v.expectAsked && r.appAsked !== 0) problems.push(`app asked ${r.appAsked}, expected 0`);
        if (problems.length && !v.informational) clean = false;
        console.log(
          `  round ${round + 1} ${v.key.padEnd(18)} ${fmt(r.rate).padStart(7)} subscribes/s  p50 ${r.p50} ms p99 ${r.p99} ms  ` +
            `app asked ${(r.appAsked / Math.max(1, r.ok)).toFixed(2)}/answer${r.appCpuMicrosPerAuth ? `, ${r.appCpuMicrosPerAuth} µs app CPU/auth` : ''}  load ${r.load}${problems.length ? `  PROBLEM: ${problems.join('; ')}` : ''}`,
        );
      }
    }
    const rates = Object.fromEntries(Object.entries(runs).map(([k, list]) => [k, list.map((r) => r.rate)]));
    const ratios = {
      'session-memory / bare-204': pairedRatio(rates['session-memory'], rates['bare-204']),
      'session-redis / bare-204': pairedRatio(rates['session-redis'], rates['bare-204']),
      'bare-204 / no-auth': pairedRatio(rates['bare-204'], rates['no-auth']),
      'session-memory / no-auth': pairedRatio(rates['session-memory'], rates['no-auth']),
      'bare-204+ka / bare-204': pairedRatio(rates['bare-204+ka'], rates['bare-204']),
      'session-memory+ka / session-memory': pairedRatio(rates['session-memory+ka'], rates['session-memory']),
      'session-memory+ka / bare-204': pairedRatio(rates['session-memory+ka'], rates['bare-204']),
    };
    if (TICKET.available) ratios['ticket / no-auth'] = pairedRatio(rates.ticket, rates['no-auth']);
    console.log('  ratios (median [min-max] over rounds):');
    for (const [k, s] of Object.entries(ratios)) console.log(`    ${k.padEnd(36)} ${fmtRatio(s)}`);
    return {
      clean,
      variants: [
        ...variants.map((v) => ({
          key: v.key,
          label: v.label,
          informational: v.informational,
          derivedTemplate: v.key === 'no-auth' ? 'auth_request removed' : v.key.endsWith('+ka') ? 'auth upstream with keepalive 32' : null,
          path: v.path.replace(/__session__[0-9a-f]+/, '__session__<token>'),
          check: v.check,
          rate: summarize(rates[v.key]),
          appCpuMicrosPerAuth: v.expectAsked ? summarize(runs[v.key].map((r) => r.appCpuMicrosPerAuth)) : null,
          runs: runs[v.key],
        })),
        { key: TICKET.key, label: TICKET.label, available: false, rate: null, note: TICKET.reason },
      ],
      ratios,
    };
  } finally {
    for (const n of started) await n.dispose().catch(() => undefined);
    for (const a of Object.values(apps)) await a.stop();
  }
}

/** Stores one message in the variant's channel, so that a subscription answers at once. */
async function storeMessage(v) {
  const server = v.nginx.server;
  const body = JSON.stringify(server === 'nchan' ? { channel: v.channel, text: { m: 'bench-marker' }, eventid: '', type: '' } : { m: 'bench-marker' });
  const res = await request(`${v.nginx.publisherUrl}?id=${v.channel}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body,
  });
  await res.body.text();
  if (res.statusCode >= 300) throw new Error(`${v.key}: storing a message answered ${res.statusCode}`);
}

async function drive(v, seconds, connections) {
  const before = await v.app.request({ cmd: 'count' });
  const load = loadAverage().one;
  const started = performance.now();
  const result = await autocannon({
    url: `${v.nginx.baseUrl}${v.path}`,
    method: 'GET',
    headers: { cookie: v.cookie },
    connections,
    duration: seconds,
    timeout: 10,
  });
  const wall = (performance.now() - started) / 1000;
  const after = await v.app.request({ cmd: 'count' });
  const asked = after.auth - before.auth;
  const ok = result['2xx'];
  return {
    rate: ok / wall,
    ok,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    seconds: Math.round(wall * 1000) / 1000,
    p50: result.latency.p50,
    p99: result.latency.p99,
    appAsked: asked,
    // CPU time of the app process per auth request: less sensitive to other load than rates.
    appCpuMicrosPerAuth: asked > 0 ? Math.round((after.cpuMicros - before.cpuMicros) / asked) : null,
    load,
  };
}

function chart(result) {
  const groups = Object.entries(result.servers).map(([server, r]) => ({
    label: `${server} — subscribe requests/s (long-poll, keep-alive, valid session cookie)`,
    bars: r.variants.map((v, i) => ({
      label: v.label,
      value: v.rate?.median ?? null,
      lo: v.rate?.min,
      hi: v.rate?.max,
      color: v.informational ? '#9ca3af' : ['#4b5563', '#2563eb', '#16a34a', '#d97706', '#9333ea'][i % 5],
      text: v.rate ? `${fmt(v.rate.median)}/s` : v.note,
    })),
  }));
  return barChart({
    title: result.title,
    subtitle: `${result.machine.cpus} CPUs, load ${result.load.start.one}→${result.load.end.one}; ${result.settings.rounds} interleaved rounds × ${result.settings.secondsPerRun}s; * = derived template (informational)`,
    unit: 'subscribe requests per second',
    groups,
  });
}

runMain(main);
