#!/usr/bin/env node
// P2 authorization: real subscribe requests through the shipped nginx locations, each way a
// subscription can be authorized, as ratios to baselines measured in the same run.
//
//   node bench/p2-auth.mjs [--quick] [--rounds N] [--servers nchan,push-stream] [--out DIR]
//
// The request: a long-polling subscription, `GET /lp/<channel>`, with a valid session cookie (and,
// in ticket mode, a valid `?ticket=`). A message is stored in the channel before each run, and the
// subscription asks for it: Nchan replays the channel's oldest stored message; the Push Stream
// Module answers what is newer than `If-Modified-Since` (a second before the message was stored,
// as pushstream.js resumes; not `.b1`, which the secure-link flavor refuses). So nginx
// authorizes, subscribes and answers at once on a keep-alive connection: a complete subscribe
// request. (A `return 204;` after auth_request would answer
// before nginx ever asks the app; a subscriber location does not, and the app counts the requests
// it is asked, checked against the answers.)
//
// Variants, one nginx each (shipped templates, rendered by the library, one worker), interleaved
// in every round:
//   no-auth         the subscriber check removed (${NGINX_SUBSCRIBER_AUTH}): nginx asks nobody
//   bare-204        auth_request to a bare Node http server that answers 204 to everything
//   session-memory-listener
//                   auth_request to the auth listener (PushStreamAuthListenerModule, nginx's
//                   authUpstream) of a NestJS app with PushStreamModule and express-session,
//                   MemoryStore: the shipped fast path for session mode
//   session-redis-listener
//                   the same with connect-redis, sessions in our own redis-server
//   session-memory  auth_request to the same app without the listener: PushStreamModule's endpoint
//                   behind Express, Nest's pipeline and express-session (the default; informational)
//   session-redis   the same with connect-redis (informational)
//   session-redis-listener-distinct
//                   session-redis-listener with 1,000 logged-in sessions taking turns, one per
//                   request, on the logged-in users' channel: no two requests in flight share a
//                   session, so none shares a store read with another (in the other session
//                   variants every request carries the same session). The cookie checks are still
//                   remembered (1,000 sessions < 4,096), and `__authorized__` needs no session
//                   token, which the other variants' session channel does (a remembered HMAC).
//                   Informational, against its own baseline:
//   bare-204-turns  bare-204 driven by the same client as the distinct variant (a cookie in turn per
//                   request): autocannon's setupRequest rebuilds every request, about doubling the
//                   client's CPU per request, which on 2 shared cores lowers every rate it drives
//   ticket          ticket mode, njs flavor: nginx checks ?ticket= (HMAC-SHA256) itself, never asks
//   secure-link     ticket mode, secure_link flavor (MD5): nginx's own secure_link module checks it
// (ticketFlavors() in lib/common.mjs; a flavor the library measured cannot render is "not measured")
// auth_request goes over the shipped upstream's kept-alive connections: the app counts the TCP
// connections it accepts, reported per auth request (about 0 when keep-alive works); with a
// listener, the listener's (and Express must not be asked: checked).
// Targets: session mode through the auth listener (each store) >= 0.6 x bare Node 204; ticket mode
// (each flavor) >= 0.9 x no auth. Session mode via the Express endpoint: ratios, no target.
// Load: autocannon (in this process; the apps and redis are child processes, nginx its own).
// BENCH_P2_CPU_PROF=DIR: the apps run with --cpu-prof and write their profiles there on exit.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { request } from 'undici';
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
  printTargets,
  resultsDir,
  rotate,
  runMain,
  startNginx,
  startRedis,
  summarize,
  target,
  ticketFlavors,
  writeResult,
  writeText,
} from './lib/common.mjs';
import { barChart } from './lib/svg.mjs';
import { writeSummary } from './lib/summary.mjs';

const AUTH_APP = join(BENCH_DIR, 'apps/auth-app.mjs');

/** Session stores measured, each via the Express endpoint and via the auth listener. */
const SESSION_STORES = [
  { key: 'memory', label: 'MemoryStore' },
  { key: 'redis', label: 'Redis' },
];

/** Sessions taking turns in the distinct-sessions variant: more than requests in flight, fewer than the cookies the listener remembers (4,096). */
const DISTINCT_SESSIONS = 1000;

/** How long the bench's tickets are valid: longer than any run. */
const TICKET_TTL_SECONDS = 3600;

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
  console.log(`P2 authorization: ${rounds} rounds x ${seconds}s per variant, ${connections} connections, servers ${servers.join(', ')}, nginx ${NGINX_WORKERS} worker`);

  const { findFreePort } = await lib('testing/index.js');
  const flavors = await ticketFlavors();
  for (const f of flavors.filter((x) => !x.available)) console.log(`  ${f.key}: ${f.reason}`);
  const redis = await startRedis(findFreePort);
  const perServer = {};
  const targets = [];
  const informational = [];
  try {
    for (const server of servers) {
      perServer[server] = await runServer(server, { rounds, seconds, warmSeconds, connections, redisUrl: redis.url, flavors });
      const r = perServer[server];
      targets.push(
        ...SESSION_STORES.map((store) =>
          target(
            `p2.${server}.session-${store.key}-listener`,
            `${server}: session (${store.label}, auth listener) / bare Node 204`,
            r.ratios[`session-${store.key}-listener / bare-204`],
            0.6,
            { extra: r.clean },
          ),
        ),
        ...flavors.map((f) =>
          target(`p2.${server}.${f.key}`, `${server}: ${f.label} / no auth`, r.ratios[`${f.key} / no-auth`] ?? null, 0.9, {
            extra: r.clean,
            note: f.available ? undefined : f.reason,
          }),
        ),
      );
      // Session mode via the Express endpoint (the default without the listener): no target.
      informational.push(
        ...SESSION_STORES.map((store) => ({
          id: `p2.${server}.session-${store.key}`,
          description: `${server}: session (${store.label}) via the Express endpoint (default) / bare Node 204`,
          value: r.ratios[`session-${store.key} / bare-204`],
        })),
        {
          id: `p2.${server}.session-redis-listener-distinct`,
          description: `${server}: session (Redis, auth listener), ${DISTINCT_SESSIONS.toLocaleString('en')} sessions in turn / bare Node 204 (the same client)`,
          value: r.ratios['session-redis-listener-distinct / bare-204-turns'],
        },
      );
    }
  } finally {
    await redis.stop();
  }
  const loadEnd = printLoad('end');
  printTargets(targets);
  console.log('\ninformational (no target)');
  for (const i of informational) console.log(`  ${i.id.padEnd(34)} ${fmtRatio(i.value).padEnd(22)} ${i.description}`);

  const result = {
    path: 'p2',
    title: 'P2 authorization: subscribe requests per second, by how nginx authorizes them',
    startedAt,
    finishedAt: new Date().toISOString(),
    quick,
    machine: describeMachine(),
    nginxTemplates: await templateHashes(),
    load: { start: loadStart, end: loadEnd },
    settings: {
      rounds,
      secondsPerRun: seconds,
      connections,
      nginxWorkers: NGINX_WORKERS,
      request:
        'GET /lp/<session channel>, keep-alive, valid session cookie (push-stream: If-Modified-Since a second before the stored message); ticket variants add ?ticket=; the 1,000-sessions variant and its baseline: GET /lp/<logged-in users channel>, a cookie in turn',
    },
    servers: perServer,
    targets,
    // Ratios reported without a target (summary.json gathers them too).
    informational,
  };
  await writeResult(out, 'p2', result);
  await writeText(out, 'p2.svg', chart(result));
  await writeSummary(out);
  console.log(`\nresults: ${join(out, 'p2.json')}, ${join(out, 'p2.svg')}`);
  return targets.every((t) => t.pass !== false);
}

async function runServer(server, { rounds, seconds, warmSeconds, connections, redisUrl, flavors }) {
  console.log(`\n== ${server}`);
  const execArgv = process.env.BENCH_P2_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_P2_CPU_PROF}`] : [];
  const apps = {
    bare: await forkHelper(AUTH_APP, ['bare', server], { name: 'bare-204 app', execArgv }),
    memory: await forkHelper(AUTH_APP, ['memory', server], { name: 'session-memory app', execArgv }),
    redis: await forkHelper(AUTH_APP, ['redis', server, redisUrl], { name: 'session-redis app', execArgv }),
    memoryListener: await forkHelper(AUTH_APP, ['memory-listener', server], { name: 'session-memory-listener app', execArgv }),
    redisListener: await forkHelper(AUTH_APP, ['redis-listener', server, redisUrl], { name: 'session-redis-listener app', execArgv }),
  };
  for (const a of [apps.memoryListener, apps.redisListener]) {
    if (!a.ready.listener || !(a.ready.authPort > 0) || a.ready.authPort === a.ready.port) {
      throw new Error(`a listener app reported no auth listener of its own: ${JSON.stringify(a.ready)}`);
    }
  }
  const started = [];
  try {
    const upstream = (app) => `127.0.0.1:${app.ready.port}`;
    const mk = async (key, label, app, { derive = {}, nginxOptions = {}, session = false, listener = false, flavor = null, distinct = false, turns = false } = {}) => {
      // With the listener, nginx sends the auth subrequests to it (authUpstream) and the rest to Express.
      const authAt = `127.0.0.1:${listener ? app.ready.authPort : app.ready.port}`;
      const n = await startNginx({ server, appUpstream: upstream(app), ...(listener ? { authUpstream: authAt } : {}), ...nginxOptions }, derive);
      started.push(n);
      const serverConf = await readFile(join(n.nginx.workDir, 'server.conf'), 'utf8');
      const keepAlive = authKeepAlive(serverConf);
      // The auth upstream must hold exactly the server that is to answer (the listener, or the app).
      keepAlive.expectedServer = authAt;
      keepAlive.ok &&= keepAlive.servers.length === 1 && keepAlive.servers[0] === authAt;
      return {
        key,
        label,
        app,
        nginx: n.nginx,
        nginxCpuMicros: () => n.workerCpuMicros(),
        session,
        listener,
        flavor,
        distinct,
        turns: turns || distinct,
        expectAsked: session || (app === apps.bare && !derive.stripAuth && !flavor),
        keepAlive,
      };
    };
    const variants = [
      await mk('no-auth', 'no auth (subscriber check removed)', apps.bare, { derive: { stripAuth: true } }),
      await mk('bare-204', 'bare Node 204', apps.bare),
      await mk('bare-204-turns', 'bare Node 204, cookies in turn (client of the 1,000-session variant)', apps.bare, { turns: true }),
      await mk('session-memory-listener', 'session, MemoryStore, auth listener', apps.memoryListener, { session: true, listener: true }),
      await mk('session-redis-listener', 'session, Redis, auth listener', apps.redisListener, { session: true, listener: true }),
      await mk('session-memory', 'session, MemoryStore, via the Express endpoint (default)', apps.memory, { session: true }),
      await mk('session-redis', 'session, Redis, via the Express endpoint (default)', apps.redis, { session: true }),
      await mk('session-redis-listener-distinct', `session, Redis, auth listener, ${DISTINCT_SESSIONS.toLocaleString('en')} sessions in turn`, apps.redisListener, {
        session: true,
        listener: true,
        distinct: true,
      }),
    ];
    for (const f of flavors.filter((x) => x.available)) {
      // The app is never asked in ticket mode: the bare app stands by to prove it (0 requests).
      variants.push(await mk(f.key, f.label, apps.bare, { nginxOptions: f.nginxOptions, flavor: f }));
    }
    for (const v of variants.filter((x) => x.expectAsked)) {
      if (!v.keepAlive.ok) throw new Error(`${v.key}: the rendered auth location does not keep connections to the app alive: ${JSON.stringify(v.keepAlive)}`);
    }
    // Sessions: log in through each session variant's own nginx (location / proxies to the app).
    let anyChannel;
    let anyCookie;
    for (const v of variants.filter((x) => x.session && !x.distinct)) {
      const { cookie, body } = await login(v);
      v.cookie = cookie;
      v.channel = body.session;
      anyChannel ??= body.session;
      anyCookie ??= cookie;
    }
    // Distinct sessions: as many logins, and the channel every logged-in session may open.
    for (const v of variants.filter((x) => x.distinct)) {
      v.cookies = [];
      for (let i = 0; i < DISTINCT_SESSIONS; i++) {
        const { cookie, body } = await login(v);
        v.cookies.push(cookie);
        v.channel = body.authorized;
      }
      if (new Set(v.cookies).size !== DISTINCT_SESSIONS) throw new Error(`${v.key}: the logins did not give ${DISTINCT_SESSIONS} distinct sessions`);
      v.cookie = v.cookies[0];
    }
    // Its baseline sends the same cookies in the same way (the bare app ignores them).
    const distinct = variants.find((x) => x.distinct);
    for (const v of variants.filter((x) => x.turns && !x.distinct)) {
      v.cookies = distinct.cookies;
      v.cookie = distinct.cookie;
      v.channel = distinct.channel;
    }
    // The others send a cookie too (the same request, byte for byte, but for a ticket).
    for (const v of variants.filter((x) => !x.session && !x.turns)) {
      v.cookie = anyCookie;
      v.channel = anyChannel;
    }
    const expiresAt = Math.floor(Date.now() / 1000) + TICKET_TTL_SECONDS;
    for (const v of variants) {
      const channelPath = v.channel;
      v.bare = `/lp/${channelPath}`;
      v.path = v.flavor ? `${v.bare}?${v.flavor.query(channelPath, expiresAt)}` : v.bare;
      // A ticket for another channel, to show that a wrong one is refused.
      v.wrongPath = v.flavor ? `${v.bare}?${v.flavor.query(`${v.channel}x`, expiresAt)}` : null;
    }

    // Proof that the check is real before timing anything: without a cookie (session) or a ticket
    // (ticket mode) nginx refuses; with it nginx subscribes and answers the stored message, and
    // the app was asked (or, no-auth and ticket mode, not).
    for (const v of variants) {
      await storeMessage(v);
      const beforeCount = await v.app.request({ cmd: 'count' });
      const before = beforeCount.auth;
      const good = await request(`${v.nginx.baseUrl}${v.path}`, { headers: headers(v), signal: AbortSignal.timeout(5000) });
      const text = await good.body.text();
      // session: no cookie; ticket: the cookie but no ticket; no-auth and bare-204: no cookie, still 200.
      const { cookie: _cookie, ...noCookie } = headers(v);
      const without = await request(`${v.nginx.baseUrl}${v.bare}`, { headers: v.flavor ? headers(v) : noCookie, signal: AbortSignal.timeout(5000) }).catch(() => null);
      await without?.body.text();
      let wrong = null;
      if (v.wrongPath) {
        wrong = await request(`${v.nginx.baseUrl}${v.wrongPath}`, { headers: headers(v), signal: AbortSignal.timeout(5000) }).catch(() => null);
        await wrong?.body.text();
      }
      const afterCount = await v.app.request({ cmd: 'count' });
      const asked = afterCount.auth - before;
      // With the listener: how often Express was asked instead (must be 0).
      const expressAsked = v.listener ? afterCount.expressAuth - beforeCount.expressAuth : undefined;
      v.check = {
        withCredentials: good.statusCode,
        withoutCredentials: without?.statusCode ?? 'timeout',
        wrongTicket: wrong?.statusCode,
        appAsked: asked,
        ...(v.listener ? { answeredBy: 'auth listener', listenerAsked: asked, expressAsked } : {}),
      };
      const expectWithout = v.session ? 401 : v.flavor ? 403 : 200;
      if (good.statusCode !== 200 || !text.includes('bench-marker')) throw new Error(`${v.key}: subscribe answered ${good.statusCode}: ${text.slice(0, 200)}`);
      if (without?.statusCode !== expectWithout) throw new Error(`${v.key}: without credentials answered ${without?.statusCode}, expected ${expectWithout}`);
      if (v.wrongPath && wrong?.statusCode !== 403) throw new Error(`${v.key}: a ticket for another channel answered ${wrong?.statusCode}, expected 403`);
      if (asked !== (v.expectAsked ? 2 : 0)) {
        throw new Error(`${v.key}: the ${v.listener ? 'auth listener' : 'app'} was asked ${asked} times for 2 subscriptions, expected ${v.expectAsked ? 2 : 0}`);
      }
      if (v.listener && expressAsked !== 0) throw new Error(`${v.key}: Express was asked ${expressAsked} times, expected 0 (the listener answers)`);
      console.log(
        `  check ${v.key.padEnd(24)} with credentials ${good.statusCode}, without ${v.check.withoutCredentials}${wrong ? `, other channel's ticket ${wrong.statusCode}` : ''}, ` +
          (v.listener ? `auth listener asked ${asked}/2, Express ${expressAsked}` : `app asked ${asked}/2`),
      );
    }

    for (const v of variants) await drive(v, warmSeconds, connections);
    const runs = Object.fromEntries(variants.map((v) => [v.key, []]));
    let clean = true;
    for (let round = 0; round < rounds; round++) {
      for (const v of rotate(variants, round)) {
        await storeMessage(v);
        // Every answer is the one message just stored: the same work for every run and variant.
        const answer = await request(`${v.nginx.baseUrl}${v.path}`, { headers: headers(v), signal: AbortSignal.timeout(5000) });
        const markers = (await answer.body.text()).split('bench-marker').length - 1;
        const r = await drive(v, seconds, connections);
        runs[v.key].push(r);
        const problems = [];
        if (answer.statusCode !== 200 || markers !== 1) problems.push(`a subscription answered ${answer.statusCode} with ${markers} messages, expected 200 with 1`);
        // A socket error is rare noise (nginx closes a keep-alive connection after 1000 requests,
        // and a request can race it): reported, a problem only past 1 in 10,000 answers.
        if (r.non2xx || r.timeouts || r.errors > r.ok / 10_000) problems.push(`${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`);
        else if (r.errors) console.log(`  (${v.key}: ${r.errors} socket error(s) in ${r.ok} answers)`);
        if (v.expectAsked && r.appAsked < r.ok) problems.push(`app asked ${r.appAsked} < ${r.ok} answers`);
        if (!v.expectAsked && r.appAsked !== 0) problems.push(`app asked ${r.appAsked}, expected 0`);
        if (v.listener && r.expressAsked !== 0) problems.push(`Express asked ${r.expressAsked}, expected 0 (the listener answers)`);
        if (problems.length) clean = false;
        console.log(
          `  round ${round + 1} ${v.key.padEnd(24)} ${fmt(r.rate).padStart(7)} subscribes/s  p50 ${r.p50} ms p99 ${r.p99} ms  nginx ${r.nginxCpuMicrosPerAnswer} µs CPU/answer  ` +
            `app asked ${(r.appAsked / Math.max(1, r.ok)).toFixed(2)}/answer` +
            (r.appCpuMicrosPerAuth ? `, ${r.appCpuMicrosPerAuth} µs app CPU/auth, ${r.appConnectionsPerAuth} new connections/auth` : '') +
            `  load ${r.load}${problems.length ? `  PROBLEM: ${problems.join('; ')}` : ''}`,
        );
      }
    }
    const rates = Object.fromEntries(Object.entries(runs).map(([k, list]) => [k, list.map((r) => r.rate)]));
    const ratios = {
      // Targets (>= 0.6): session mode through the auth listener.
      'session-memory-listener / bare-204': pairedRatio(rates['session-memory-listener'], rates['bare-204']),
      'session-redis-listener / bare-204': pairedRatio(rates['session-redis-listener'], rates['bare-204']),
      // Informational: session mode via the Express endpoint (the default).
      'session-memory / bare-204': pairedRatio(rates['session-memory'], rates['bare-204']),
      'session-redis / bare-204': pairedRatio(rates['session-redis'], rates['bare-204']),
      'session-memory-listener / session-memory': pairedRatio(rates['session-memory-listener'], rates['session-memory']),
      'session-redis-listener / session-redis': pairedRatio(rates['session-redis-listener'], rates['session-redis']),
      // Informational: no request in flight shares its session with another.
      'session-redis-listener-distinct / bare-204-turns': pairedRatio(rates['session-redis-listener-distinct'], rates['bare-204-turns']),
      'session-redis-listener-distinct / bare-204': pairedRatio(rates['session-redis-listener-distinct'], rates['bare-204']),
      'bare-204-turns / bare-204': pairedRatio(rates['bare-204-turns'], rates['bare-204']),
      'session-redis-listener-distinct / session-redis-listener': pairedRatio(rates['session-redis-listener-distinct'], rates['session-redis-listener']),
      'bare-204 / no-auth': pairedRatio(rates['bare-204'], rates['no-auth']),
      'session-memory-listener / no-auth': pairedRatio(rates['session-memory-listener'], rates['no-auth']),
      'session-memory / no-auth': pairedRatio(rates['session-memory'], rates['no-auth']),
    };
    for (const f of flavors.filter((x) => x.available)) ratios[`${f.key} / no-auth`] = pairedRatio(rates[f.key], rates['no-auth']);
    // The same comparison in nginx's own CPU time per answer (less sensitive to other load than
    // rates): no-auth's CPU / the variant's, so that 1.0 means "costs nginx nothing more".
    const nginxCpu = Object.fromEntries(Object.entries(runs).map(([k, list]) => [k, list.map((r) => r.nginxCpuMicrosPerAnswer)]));
    for (const k of ['bare-204', ...flavors.filter((x) => x.available).map((f) => f.key)]) {
      ratios[`nginx CPU: no-auth / ${k}`] = pairedRatio(nginxCpu['no-auth'], nginxCpu[k]);
    }
    console.log('  ratios (median [min-max] over rounds):');
    for (const [k, s] of Object.entries(ratios)) console.log(`    ${k.padEnd(44)} ${fmtRatio(s)}`);
    return {
      clean,
      variants: [
        ...variants.map((v) => ({
          key: v.key,
          label: v.label,
          derivedTemplate: v.key === 'no-auth' ? 'subscriber check (${NGINX_SUBSCRIBER_AUTH}) removed' : null,
          path: v.path.replace(/__session__[0-9a-f]+/, '__session__<token>').replace(/(ticket|md5|expires)=[^&]+/g, '$1=<…>'),
          check: v.check,
          answeredBy: v.listener ? 'auth listener (PushStreamAuthListenerModule)' : v.session ? 'Express endpoint (PushStreamModule)' : undefined,
          authKeepAlive: v.expectAsked ? v.keepAlive : undefined,
          rate: summarize(rates[v.key]),
          nginxCpuMicrosPerAnswer: summarize(runs[v.key].map((r) => r.nginxCpuMicrosPerAnswer)),
          appCpuMicrosPerAuth: v.expectAsked ? summarize(runs[v.key].map((r) => r.appCpuMicrosPerAuth)) : null,
          appConnectionsPerAuth: v.expectAsked ? summarize(runs[v.key].map((r) => r.appConnectionsPerAuth)) : null,
          runs: runs[v.key],
        })),
        ...flavors.filter((f) => !f.available).map((f) => ({ key: f.key, label: f.label, available: false, rate: null, note: f.reason })),
      ],
      ratios,
    };
  } finally {
    for (const n of started) await n.dispose().catch(() => undefined);
    for (const a of Object.values(apps)) await a.stop();
  }
}

/** A logged-in session through the variant's nginx (location / proxies to the app): its cookie and the channels it may open. */
async function login(v) {
  const res = await request(`${v.nginx.baseUrl}/bench/login`, { method: 'POST' });
  const body = await res.body.json();
  const cookie = String(res.headers['set-cookie'] ?? '').split(';')[0];
  if (res.statusCode !== 200 || !cookie) throw new Error(`${v.key}: login failed (HTTP ${res.statusCode})`);
  return { cookie, body };
}

/** Whether the rendered config sends auth subrequests over kept-alive upstream connections. */
function authKeepAlive(serverConf) {
  const location = serverConf.match(/location = \/_push_stream_auth \{([^}]*)\}/)?.[1] ?? '';
  // The upstream the auth location proxies to (push_stream_auth since the auth listener came).
  const name = location.match(/proxy_pass http:\/\/([A-Za-z0-9_]+)\//)?.[1] ?? null;
  const block = name ? serverConf.match(new RegExp(`upstream\\s+${name}\\s*\\{([^}]*)\\}`))?.[1] : undefined;
  const keepalive = Number(block?.match(/\bkeepalive\s+(\d+);/)?.[1] ?? 0);
  const servers = [...(block ?? '').matchAll(/^\s*server\s+([^\s;]+)[^;]*;/gm)].map((m) => m[1]);
  const passesToUpstream = block !== undefined;
  const http11 = /proxy_http_version 1\.1;/.test(location);
  const noClose = /proxy_set_header Connection "";/.test(location);
  return { upstream: name, servers, keepalive, passesToUpstream, http11, noClose, ok: keepalive > 0 && passesToUpstream && http11 && noClose };
}

/** The subscribe request's headers: the cookie, and on push-stream where to resume from. */
function headers(v) {
  return v.nginx.server === 'push-stream' ? { cookie: v.cookie, 'if-modified-since': v.since, 'if-none-match': '0' } : { cookie: v.cookie };
}

/**
 * Stores one message in the variant's channel, so that a subscription answers at once. On
 * push-stream, `v.since` becomes a second before it: the subscription gets this message only (the
 * one stored before the previous run is older: every run lasts longer than a second).
 */
async function storeMessage(v) {
  const server = v.nginx.server;
  v.since = new Date(Date.now() - 1000).toUTCString();
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
  const nginxBefore = await v.nginxCpuMicros();
  const load = loadAverage().one;
  const started = performance.now();
  const result = await autocannon({
    url: `${v.nginx.baseUrl}${v.path}`,
    method: 'GET',
    headers: headers(v),
    connections,
    duration: seconds,
    timeout: 10,
    // Distinct sessions: each request, on any connection, takes the next session's cookie.
    ...(v.turns ? { requests: [{ setupRequest: nextSession(v) }] } : {}),
  });
  const wall = (performance.now() - started) / 1000;
  const after = await v.app.request({ cmd: 'count' });
  const nginxCpu = (await v.nginxCpuMicros()) - nginxBefore;
  const asked = after.auth - before.auth;
  const ok = result['2xx'];
  // With the listener: Express's own count, which must not move (the listener answers).
  const expressAsked = v.listener ? after.expressAuth - before.expressAuth : undefined;
  const expressConnections = v.listener ? after.expressConnections - before.expressConnections : undefined;
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
    ...(v.listener ? { expressAsked, expressConnections } : {}),
    // CPU time of the nginx worker per answer (the auth subrequest or ticket check included).
    nginxCpuMicrosPerAnswer: ok > 0 ? Math.round((nginxCpu / ok) * 10) / 10 : null,
    // CPU time of the app process per auth request: less sensitive to other load than rates.
    appCpuMicrosPerAuth: asked > 0 ? Math.round((after.cpuMicros - before.cpuMicros) / asked) : null,
    // TCP connections the app accepted per auth request: about 0 when nginx keeps them alive
    // (with the listener, the listener's; Express's are expressConnections, about 0 too).
    appConnectionsPerAuth: asked > 0 ? Math.round(((after.connections - before.connections) / asked) * 10000) / 10000 : null,
    load,
  };
}

/** autocannon's setupRequest for the distinct-sessions variant and its baseline: the sessions' cookies in turn, shared by all connections. */
function nextSession(v) {
  let turn = 0;
  return (req) => {
    turn = (turn + 1) % v.cookies.length;
    return { ...req, headers: { ...req.headers, cookie: v.cookies[turn] } };
  };
}

const COLORS = {
  'no-auth': '#4b5563',
  'bare-204': '#2563eb',
  'bare-204-turns': '#93c5fd',
  'session-memory-listener': '#15803d',
  'session-redis-listener': '#b45309',
  'session-memory': '#86efac',
  'session-redis': '#fcd34d',
  'session-redis-listener-distinct': '#f59e0b',
  ticket: '#9333ea',
  'secure-link': '#db2777',
};

function chart(result) {
  const groups = Object.entries(result.servers).map(([server, r]) => ({
    label: `${server} — subscribe requests/s (long-poll, keep-alive, valid cookie or ticket)`,
    bars: r.variants.map((v) => ({
      label: v.label,
      value: v.rate?.median ?? null,
      lo: v.rate?.min,
      hi: v.rate?.max,
      color: COLORS[v.key] ?? '#9ca3af',
      text: v.rate ? `${fmt(v.rate.median)}/s` : v.note,
    })),
  }));
  return barChart({
    title: result.title,
    subtitle: `${result.machine.cpus} CPUs, load ${result.load.start.one}→${result.load.end.one}; nginx ${result.settings.nginxWorkers} worker; ${result.settings.rounds} interleaved rounds × ${result.settings.secondsPerRun}s`,
    unit: 'subscribe requests per second',
    groups,
    // Room for the longest label ("session, MemoryStore, via the Express endpoint (default)").
    width: 1060,
    labelWidth: 400,
  });
}

runMain(main);
