// The soak itself, for one server: a real nginx from the shipped templates (NginxTestServer),
// a stub app answering its auth subrequests (204), PushStreamService publishing with event ids at
// a steady rate, and N WebSocket subscribers in a child process (soak-subscribers.mjs) under churn
// and `nginx -s reload`. Used by bench/soak.mjs (the library from a snapshot of dist/) and by
// test/e2e/soak.e2e.spec.ts (the library from lib/): the caller passes the library's classes in.
//
// Every loop is bounded: publishing by count (rate × duration), reloads and samples by the run's
// deadline, the drain by its timeout, the subscribers' reconnects by the run (they stop when it
// ends). Everything started is stopped in `finally`, and registered with common.mjs's cleanup so
// that Ctrl-C in bench/soak.mjs stops it too.
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childPids, forkHelper, onCleanup, processMemory, sleep } from './common.mjs';

const SUBSCRIBERS_SCRIPT = fileURLToPath(new URL('./soak-subscribers.mjs', import.meta.url));
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
/** Quiet reloads: no publishing from this long before the signal ... */
const QUIET_BEFORE_MS = 1500;
/** ... until this long after the old workers have exited. */
const QUIET_AFTER_MS = 1000;

export const SOAK_DEFAULTS = Object.freeze({
  subscribers: 1000,
  rate: 20,
  churn: 0.01,
  reloadEverySeconds: 20,
  channels: 1,
  reloadMode: 'steady',
  drainTimeoutMs: 10_000,
  maxInFlight: 64,
});

/**
 * Runs one soak and returns its report (see bench/README.md, "Soak", for every field).
 * @param {import('./soak.d.mts').SoakOptions} options
 * @param {import('./soak.d.mts').SoakLibrary} library
 */
export async function runSoak(options, library) {
  const o = { ...SOAK_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  const { NginxTestServer, PushStreamModule, PushStreamService, NestFactory } = library;
  if (o.server !== 'nchan' && o.server !== 'push-stream') throw new Error(`unknown server ${o.server}`);
  if (!(o.durationMs > 0)) throw new Error('durationMs must be positive');
  if (o.reloadMode !== 'steady' && o.reloadMode !== 'quiet') throw new Error(`reloadMode must be steady or quiet, got ${o.reloadMode}`);
  if (o.reloadMode === 'quiet' && o.reloadEverySeconds > 0 && o.reloadEverySeconds < QUIET_BEFORE_MS / 1000 + 3) {
    throw new Error(`quiet reloads need --reload-every of at least ${QUIET_BEFORE_MS / 1000 + 3} s`);
  }
  const log = o.log ?? (() => undefined);
  const sampleEveryMs = o.sampleEveryMs ?? Math.min(10_000, Math.max(1000, Math.round(o.durationMs / 60)));
  const stops = [];
  const stopAll = async () => {
    while (stops.length) {
      const fn = stops.pop();
      await Promise.resolve()
        .then(fn)
        .catch((err) => log(`cleanup: ${err?.message ?? err}`));
    }
  };
  const unregister = onCleanup(stopAll);
  const startedAt = new Date().toISOString();
  let finished = false; // set on the way out: the loops below stop at their next step
  try {
    // The app nginx asks about every subscription: allow everyone.
    let authRequests = 0;
    const auth = createServer((req, res) => {
      if (req.url?.split('?')[0] === '/push-stream/auth') {
        authRequests++;
        res.writeHead(204).end();
      } else res.writeHead(404).end();
    });
    await new Promise((resolve, reject) => {
      auth.once('error', reject);
      auth.listen(0, '127.0.0.1', resolve);
    });
    stops.push(
      () =>
        new Promise((resolve) => {
          auth.closeAllConnections();
          auth.close(() => resolve());
        }),
    );

    const nginx = await NginxTestServer.start({ server: o.server, appUpstream: `127.0.0.1:${auth.address().port}` });
    stops.push(() => nginx.dispose());
    const store = await storeLimits(nginx.workDir, o.server);

    const ctx = await NestFactory.createApplicationContext(
      PushStreamModule.forRoot({ server: o.server, publisherUrl: nginx.publisherUrl, prefix: 'soak', secret: 'soak-secret-0123456789abcdef', authRoute: false }),
      { logger: false, abortOnError: false },
    );
    stops.push(() => ctx.close());
    const service = ctx.get(PushStreamService);
    const channels = Array.from({ length: o.channels }, (_, i) => (i === 0 ? service.channels.all() : service.channels.custom('room', i)));

    const clients = await forkHelper(SUBSCRIBERS_SCRIPT, [], { execArgv: [], name: `${o.server} soak subscribers` });
    // Ctrl-C reaches the child too: a send on its closed channel must not throw during cleanup.
    clients.child.on('error', () => undefined);
    stops.push(() => clients.stop());
    stops.push(() => (clients.child.connected ? clients.request({ cmd: 'close' }, 10_000).catch(() => undefined) : undefined));

    const nginxMemory = async () => {
      const master = Number((await readFile(join(nginx.workDir, 'nginx.pid'), 'utf8').catch(() => '')).trim());
      if (!master) return { rss: null, processes: 0 };
      const pids = [master, ...(await childPids(master))];
      let rss = 0;
      for (const pid of pids) rss += (await processMemory(pid).catch(() => ({ rss: 0 }))).rss;
      return { rss, processes: pids.length };
    };

    log(`${o.server}: nginx on ${nginx.baseUrl} (${nginx.workDir}), connecting ${o.subscribers} subscribers`);
    const connected = await clients.request(
      { cmd: 'start', host: '127.0.0.1', port: nginx.port, server: o.server, channels, count: o.subscribers, churn: 0, bufferSize: store.bufferSize },
      120_000,
    );
    log(`${o.server}: ${connected.connected}/${o.subscribers} subscribed in ${connected.seconds.toFixed(1)} s`);

    // --- the run -----------------------------------------------------------------------------
    const samples = [];
    const sent = []; // [seq, channel, t0, t1] of every acknowledged publish
    let publishFailed = 0;
    const publishErrors = {};
    let reloads = 0;
    const reloadErrors = [];
    const reloadTimes = [];
    let quiet = false; // quiet reloads: publishing pauses around each one
    let skippedQuiet = 0;
    const start = nowMs();
    const end = start + o.durationMs;
    const sample = async (phase) => {
      const [n, c] = await Promise.all([nginxMemory(), clients.request({ cmd: 'stats' }, 10_000)]);
      const s = {
        t: Math.round((nowMs() - start) / 100) / 10,
        phase,
        nginxRss: n.rss,
        nginxProcesses: n.processes,
        appRss: process.memoryUsage().rss,
        appHeapUsed: process.memoryUsage().heapUsed,
        subscribersRss: c.rss,
        open: c.open,
        sent: sent.length,
        received: c.received,
        reconnects: c.reconnects,
        doubled: c.doubled,
        reloads,
      };
      samples.push(s);
      log(
        `${o.server} t=${s.t.toFixed(0)}s ${phase}: sent ${s.sent}, received ${s.received}, open ${s.open}/${o.subscribers}, reconnects ${s.reconnects}, ` +
          `reloads ${reloads}, nginx ${mib(s.nginxRss)} MiB (${s.nginxProcesses} proc), app ${mib(s.appRss)} MiB`,
      );
    };
    await sample('start');
    await clients.request({ cmd: 'setChurn', churn: o.churn });

    const inFlight = new Set();
    const publishing = (async () => {
      const total = Math.floor((o.durationMs / 1000) * o.rate);
      let nextSeq = 0;
      for (let slot = 0; slot < total && !finished; slot++) {
        const wait = start + (slot * 1000) / o.rate - nowMs();
        if (wait > 0) await sleep(wait);
        if (quiet) {
          skippedQuiet++;
          continue;
        }
        while (inFlight.size >= o.maxInFlight) await Promise.race(inFlight);
        const seq = nextSeq++;
        const channel = seq % channels.length;
        const t0 = nowMs();
        const p = service
          .publish(channels[channel], { seq, t0 }, { eventId: `soak-${seq}`, eventType: 'soak' })
          .then(
            () => sent.push([seq, channel, t0, nowMs()]),
            (err) => {
              publishFailed++;
              const key = err?.name ?? 'Error';
              publishErrors[key] = (publishErrors[key] ?? 0) + 1;
            },
          )
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      await Promise.all(inFlight);
    })();

    const reloading = (async () => {
      if (!(o.reloadEverySeconds > 0)) return;
      for (let k = 1; start + k * o.reloadEverySeconds * 1000 < end && !finished; k++) {
        const due = start + k * o.reloadEverySeconds * 1000;
        if (o.reloadMode === 'quiet') {
          if (due - QUIET_BEFORE_MS > nowMs()) await sleep(due - QUIET_BEFORE_MS - nowMs());
          quiet = true;
          // Publishes still in flight finish before the reload (bounded: they time out anyway).
          for (let i = 0; i < 200 && inFlight.size > 0; i++) await sleep(25);
        }
        if (due > nowMs()) await sleep(due - nowMs());
        if (finished) return;
        try {
          const at = nowMs();
          await nginx.reload();
          reloads++;
          reloadTimes.push({ signalledMs: Math.round(at), oldWorkersGoneMs: Math.round(nowMs()) });
          if (quiet) {
            await sleep(QUIET_AFTER_MS);
            quiet = false;
          }
        } catch (err) {
          quiet = false;
          reloadErrors.push(String(err?.message ?? err).slice(0, 500));
          return;
        }
      }
    })();

    const sampling = (async () => {
      for (let k = 1; start + k * sampleEveryMs < end && !finished; k++) {
        const wait = start + k * sampleEveryMs - nowMs();
        if (wait > 0) await sleep(wait);
        await sample('run');
      }
    })();

    await Promise.all([publishing, reloading, sampling]);
    const runSeconds = (nowMs() - start) / 1000;

    // --- drain: no more churn, every subscriber back and caught up (bounded) ---------------------
    await clients.request({ cmd: 'setChurn', churn: 0 });
    sent.sort((a, b) => a[0] - b[0]);
    const lastSeqPerChannel = channels.map(() => -1);
    for (const m of sent) lastSeqPerChannel[m[1]] = m[0];
    const drained = await clients.request({ cmd: 'drain', lastSeqPerChannel, timeoutMs: o.drainTimeoutMs }, o.drainTimeoutMs + 10_000);
    await sample('end');
    const counts = await clients.request(
      { cmd: 'collect', messages: sent, bufferSize: store.bufferSize, ttlMs: store.ttlMs, reloads: reloadTimes },
      120_000,
    );
    const errorLog = summarizeErrorLog(await nginx.errorLog());
    if (process.env.SOAK_DUMP) {
      const dump = await clients.request({ cmd: 'connections' }, 60_000);
      await writeFile(`${process.env.SOAK_DUMP}.${o.server}.json`, JSON.stringify({ sent, reloadTimes, subscribers: dump.subscribers }));
    }

    const report = {
      server: o.server,
      startedAt,
      config: {
        durationSeconds: o.durationMs / 1000,
        subscribers: o.subscribers,
        ratePerSecond: o.rate,
        churnPerSecond: o.churn,
        reloadEverySeconds: o.reloadEverySeconds > 0 ? o.reloadEverySeconds : null,
        reloadMode: o.reloadMode,
        channels: channels.length,
        storedMessagesPerChannel: store.bufferSize,
        messageTtlSeconds: store.ttlMs / 1000,
        sampleEverySeconds: sampleEveryMs / 1000,
        sourceAddresses: Math.min(253, o.subscribers),
      },
      runSeconds: Math.round(runSeconds * 10) / 10,
      sent: sent.length,
      skippedQuiet,
      publishFailed,
      publishErrors,
      deliveries: { expected: counts.expected, delivered: counts.delivered },
      lost: counts.lost,
      lostBy: counts.lostBy,
      beyondBuffer: counts.beyondBuffer,
      doubled: counts.doubled,
      doubledBy: counts.doubledBy,
      replayed: counts.replayed,
      reconnects: counts.reconnects,
      churned: counts.counters.churned,
      serverClosed: counts.counters.serverClosed,
      failedOpens: counts.counters.failedOpens,
      openFailures: counts.counters.failures,
      reloads,
      reloadErrors,
      authRequests,
      subscribers: {
        requested: o.subscribers,
        connectedAtStart: connected.connected,
        neverConnected: counts.neverConnected,
        openAtEnd: counts.openAtEnd,
        notCaughtUpAtEnd: drained.pending,
      },
      latencyMs: counts.latencyMs,
      liveLatencyMs: counts.liveLatencyMs,
      memory: {
        nginxRss: memorySummary(samples.map((s) => s.nginxRss)),
        appRss: memorySummary(samples.map((s) => s.appRss)),
        subscribersRss: memorySummary(samples.map((s) => s.subscribersRss)),
        samples,
      },
      nginxErrorLog: errorLog,
      // Times in ms of process.hrtime (CLOCK_MONOTONIC), as in the examples.
      timeline: { startMs: Math.round(start), reloads: reloadTimes },
      examples: { lost: counts.lostExamples, doubled: counts.doubledExamples },
    };
    report.problems = problemsOf(report);
    report.ok = report.problems.length === 0;
    return report;
  } finally {
    finished = true;
    await stopAll();
    unregister();
  }
}

/** What makes a run fail: anything lost or doubled, and a run that did not measure what it says. */
function problemsOf(r) {
  const p = [];
  if (r.lost > 0) p.push(`${r.lost} deliveries lost (${Object.entries(r.lostBy).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ')})`);
  if (r.doubled > 0) p.push(`${r.doubled} deliveries doubled (${Object.entries(r.doubledBy).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ')})`);
  if (r.publishFailed > 0) p.push(`${r.publishFailed} publishes failed`);
  if (r.subscribers.neverConnected > 0) p.push(`${r.subscribers.neverConnected} subscribers never connected`);
  if (r.reloadErrors.length > 0) p.push(`reload failed: ${r.reloadErrors[0]}`);
  if (r.sent === 0) p.push('nothing was sent');
  return p;
}

/** The per-channel store and message lifetime of the rendered configuration. */
async function storeLimits(workDir, server) {
  const conf = await readFile(join(workDir, 'server.conf'), 'utf8');
  const len = server === 'nchan' ? /nchan_message_buffer_length\s+(\d+);/ : /push_stream_max_messages_stored_per_channel\s+(\d+);/;
  const ttl = server === 'nchan' ? /nchan_message_timeout\s+(\d+)([smh]?);/ : /push_stream_message_ttl\s+(\d+)([smh]?);/;
  const l = len.exec(conf);
  const t = ttl.exec(conf);
  const unit = { '': 1000, s: 1000, m: 60_000, h: 3_600_000 };
  return { bufferSize: l ? Number(l[1]) : 20, ttlMs: t ? Number(t[1]) * unit[t[2]] : 300_000 };
}

function summarizeErrorLog(text) {
  const levels = {};
  const lines = [];
  let setrlimit = 0;
  for (const line of text.split('\n')) {
    const m = /^\S+ \S+ \[(\w+)\]/.exec(line);
    if (!m || m[1] === 'notice' || m[1] === 'info') continue;
    // worker_rlimit_nofile as a non-root user: nginx cannot raise the limit (ulimit -n is what counts).
    if (/setrlimit\(RLIMIT_NOFILE/.test(line)) {
      setrlimit++;
      continue;
    }
    levels[m[1]] = (levels[m[1]] ?? 0) + 1;
    if (lines.length < 10) lines.push(line.slice(0, 300));
  }
  return { levels, firstLines: lines, ignoredSetrlimitAlerts: setrlimit };
}

function memorySummary(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x));
  if (v.length === 0) return { first: null, min: null, max: null, last: null, growth: null };
  return { first: v[0], min: Math.min(...v), max: Math.max(...v), last: v[v.length - 1], growth: v[v.length - 1] - v[0] };
}

const mib = (bytes) => (typeof bytes === 'number' ? (bytes / 1048576).toFixed(1) : 'n/a');

/** The reports as a text table, then each server's memory over time. */
export function formatReports(reports) {
  const cols = [
    ['server', (r) => r.server],
    ['sent', (r) => r.sent],
    ['expected', (r) => r.deliveries.expected],
    ['delivered', (r) => r.deliveries.delivered],
    ['lost', (r) => r.lost],
    ['beyond buffer', (r) => r.beyondBuffer],
    ['doubled', (r) => r.doubled],
    ['replayed', (r) => r.replayed],
    ['reconnects', (r) => r.reconnects],
    ['reloads', (r) => r.reloads],
    ['p50 ms', (r) => fmtMs(r.latencyMs.p50)],
    ['p99 ms', (r) => fmtMs(r.latencyMs.p99)],
    ['nginx MiB first/max/last', (r) => `${mib(r.memory.nginxRss.first)}/${mib(r.memory.nginxRss.max)}/${mib(r.memory.nginxRss.last)}`],
    ['app MiB first/max/last', (r) => `${mib(r.memory.appRss.first)}/${mib(r.memory.appRss.max)}/${mib(r.memory.appRss.last)}`],
    ['result', (r) => (r.ok ? 'ok' : 'FAIL')],
  ];
  const rows = [cols.map(([h]) => h), ...reports.map((r) => cols.map(([, f]) => String(f(r))))];
  const widths = cols.map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const line = (row) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const out = [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)];
  for (const r of reports) {
    out.push('', `${r.server}: memory over time (RSS, MiB)`, '     t  phase  nginx (procs)     app  subscribers   open  reconnects  reloads');
    for (const s of decimate(r.memory.samples, 15)) {
      out.push(
        `${`${s.t.toFixed(0)}s`.padStart(6)}  ${s.phase.padEnd(5)}  ${mib(s.nginxRss).padStart(6)} (${s.nginxProcesses})  ${mib(s.appRss).padStart(7)}  ${mib(s.subscribersRss).padStart(11)}  ${String(s.open).padStart(5)}  ${String(s.reconnects).padStart(10)}  ${String(s.reloads).padStart(7)}`,
      );
    }
    const extra = [
      `latency live p50/p99 ${fmtMs(r.liveLatencyMs.p50)}/${fmtMs(r.liveLatencyMs.p99)} ms, all (incl. resumed) max ${fmtMs(r.latencyMs.max)} ms`,
      `churned ${r.churned}, closed by server ${r.serverClosed}, failed opens ${r.failedOpens}${Object.keys(r.openFailures).length ? ` ${JSON.stringify(r.openFailures)}` : ''}, auth requests ${r.authRequests}`,
      `publish failures ${r.publishFailed}, slots skipped around quiet reloads ${r.skippedQuiet}, subscribers never connected ${r.subscribers.neverConnected}, not caught up at end ${r.subscribers.notCaughtUpAtEnd}`,
      `nginx error log (above notice): ${JSON.stringify(r.nginxErrorLog.levels)}`,
    ];
    out.push(...extra.map((e) => `  ${e}`));
    for (const p of r.problems) out.push(`  PROBLEM: ${p}`);
  }
  return out.join('\n');
}

function fmtMs(v) {
  if (v === null || v === undefined) return 'n/a';
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** At most `n` samples: always the first and the last, evenly spaced between. */
function decimate(samples, n) {
  if (samples.length <= n) return samples;
  const out = [];
  for (let k = 0; k < n; k++) out.push(samples[Math.round((k * (samples.length - 1)) / (n - 1))]);
  return out;
}
