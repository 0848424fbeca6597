// The soak's subscribers: many WebSocket clients in one child process, on plain TCP sockets
// (node:net) like bench/apps/ws-clients.mjs, but long-lived and resuming as a real client does:
//
//   - every subscriber binds its own loopback source address (127.0.0.2-127.0.0.254, round robin),
//     so nginx's per-address limit_req on subscriber locations (10 r/s, burst 30) is not what the
//     soak measures
//   - churn: a share of the open subscribers drops its connection each second (as a page reload or
//     a network change would) and reconnects after a short random pause
//   - a subscription the server closes (nginx -s reload) is retried after 300 ms × [½, 1], as the
//     browser client does; failed opens back off (250 ms · 2^n, capped at 2 s, jittered)
//   - resume on reconnect, per server (docs/browser-client.md, "Resume without loss or repeats"):
//       push-stream  ?tag=<tag>&time=<time> of the newest message received; a subscriber that has
//                    received nothing yet asks for the channel's store instead (`.b<buffer>`)
//       nchan        subscribe again without an id: Nchan replays the channel's buffer, and a
//                    message this subscriber already has (same event id) is dropped as a replay
//
// Every message carries an event id `soak-<seq>` and its data `{ seq, t0 }` (t0: the publisher's
// process.hrtime in ms, CLOCK_MONOTONIC, comparable across processes). Per subscriber the process
// keeps a bitmap of the sequence numbers it got (ever, and on the current connection) and the
// list of its connections (opened, closed, newest seq received), so that the parent can tell,
// for every message published while the subscriber existed, whether it was delivered, lost, or
// beyond the server's buffer. Counted as they arrive:
//   doubled   the same message twice on one connection (joinRace when it was published before
//             the connection opened: sent from the store and again live), or (push-stream) again
//             on a later connection (afterResume: the resume position excludes it)
//   replayed  (nchan) a message this subscriber already had, in the buffer replayed on a reconnect
//
// IPC commands (serveHelper): start, setChurn, stats, drain, collect, close.
import { randomBytes } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import { serveHelper } from './common.mjs';
import { parseFrames } from './ws-frames.mjs';

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const EVENT_ID = /^soak-(\d+)$/;

// ---------------------------------------------------------------------------------------------
// Bitmaps of sequence numbers, growing as needed.

class BitSet {
  constructor(bits = 1024) {
    this.bytes = new Uint8Array(Math.ceil(bits / 8));
  }
  has(n) {
    const i = n >> 3;
    return i < this.bytes.length && (this.bytes[i] & (1 << (n & 7))) !== 0;
  }
  add(n) {
    const i = n >> 3;
    if (i >= this.bytes.length) {
      const grown = new Uint8Array(Math.max(i + 1, this.bytes.length * 2));
      grown.set(this.bytes);
      this.bytes = grown;
    }
    this.bytes[i] |= 1 << (n & 7);
  }
}

// ---------------------------------------------------------------------------------------------
// Latency histogram: log buckets of 2 % width from 0.01 ms, exact enough for p50/p99.

const LAT_BASE = 0.01;
const LAT_STEP = Math.log(1.02);
class Histogram {
  constructor() {
    this.counts = new Map();
    this.n = 0;
    this.max = 0;
  }
  add(ms) {
    const b = ms <= LAT_BASE ? 0 : Math.floor(Math.log(ms / LAT_BASE) / LAT_STEP) + 1;
    this.counts.set(b, (this.counts.get(b) ?? 0) + 1);
    this.n++;
    if (ms > this.max) this.max = ms;
  }
  quantile(q) {
    if (this.n === 0) return null;
    const rank = Math.ceil(q * this.n);
    let seen = 0;
    for (const b of [...this.counts.keys()].sort((x, y) => x - y)) {
      seen += this.counts.get(b);
      if (seen >= rank) return b === 0 ? LAT_BASE : LAT_BASE * Math.exp(b * LAT_STEP); // upper edge
    }
    return this.max;
  }
}

// ---------------------------------------------------------------------------------------------
// WebSocket frames.

function clientFrame(opcode, payload = Buffer.alloc(0)) {
  const body = Buffer.from(payload);
  if (body.length > 125) throw new Error('client frames here are short');
  // Clients must mask; a zero key leaves the payload as it is.
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | body.length, 0, 0, 0, 0]), body]);
}
const PONG_EMPTY = clientFrame(0xa);
const CLOSE_NORMAL = clientFrame(0x8, Buffer.from([0x03, 0xe8]));

// ---------------------------------------------------------------------------------------------
// State.

let cfg = null; // { host, port, server, channels, bufferSize, handshakeTimeoutMs }
let subs = [];
let churn = 0; // fraction of subscribers closing per second
let churnTimer = null;
let stopped = false;
const latency = new Histogram();
/** Latency of messages delivered on a connection that was open when they were published. */
const liveLatency = new Histogram();
const counters = {
  connectAttempts: 0,
  opened: 0,
  churned: 0,
  serverClosed: 0,
  failedOpens: 0,
  failures: {},
  received: 0,
  firstDeliveries: 0,
  beforeFirstOpen: 0,
  doubled: 0,
  doubledBy: { joinRace: 0, sameConnection: 0, afterResume: 0 },
  replayed: 0,
  unparsed: 0,
};
const doubledExamples = [];

function sourceAddress(i) {
  return `127.0.0.${2 + (i % 253)}`;
}

function subscriberPath(sub) {
  const channel = cfg.channels[sub.channel];
  if (cfg.server === 'push-stream' && sub.firstOpen !== null) {
    if (sub.last) return `/ws/${channel}?tag=${encodeURIComponent(String(sub.last.tag))}&time=${encodeURIComponent(sub.last.time)}`;
    return `/ws/${channel}.b${cfg.bufferSize}`;
  }
  return `/ws/${channel}`;
}

function scheduleConnect(sub, delayMs) {
  clearTimeout(sub.timer);
  sub.state = 'waiting';
  if (stopped) return;
  sub.timer = setTimeout(() => openSubscriber(sub), Math.max(0, delayMs));
}

function backoff(sub) {
  const step = Math.min(2000, 250 * 2 ** Math.min(sub.failures, 4));
  return step * (0.5 + Math.random() / 2);
}

/** Opens one subscription; resolves once it is open or failed (a retry is then scheduled). */
function openSubscriber(sub) {
  if (stopped) return Promise.resolve(false);
  sub.state = 'connecting';
  counters.connectAttempts++;
  const requested = nowMs();
  const path = subscriberPath(sub);
  return new Promise((resolve) => {
    const socket = netConnect({ host: cfg.host, port: cfg.port, localAddress: sub.address });
    socket.setNoDelay(true);
    sub.socket = socket;
    let head = Buffer.alloc(0);
    let conn = null;
    let settled = false;
    const fail = (why) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      counters.failedOpens++;
      counters.failures[why] = (counters.failures[why] ?? 0) + 1;
      sub.failures++;
      if (sub.socket === socket) sub.socket = null;
      scheduleConnect(sub, backoff(sub));
      resolve(false);
    };
    const timer = setTimeout(() => fail('timeout'), cfg.handshakeTimeoutMs);
    socket.on('error', (err) => {
      if (!settled) fail(err.code ?? err.message);
    });
    socket.on('close', () => {
      if (!settled) return fail('closed before open');
      if (!conn || conn.closed !== null) return;
      conn.closed = nowMs();
      conn.seen = null; // only the open connection's is needed (memory over long runs)
      if (sub.socket === socket) sub.socket = null;
      if (sub.churning) {
        sub.churning = false;
        conn.closedBy = 'client';
        scheduleConnect(sub, Math.random() * cfg.churnPauseMs);
      } else {
        conn.closedBy = 'server';
        counters.serverClosed++;
        scheduleConnect(sub, 300 * (0.5 + Math.random() / 2));
      }
    });
    socket.on('connect', () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${cfg.host}:${cfg.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    let fragments = null;
    const onFrames = (buf) => {
      const { frames, used } = parseFrames(buf);
      for (const f of frames) {
        if (f.opcode === 0x9) socket.write(PONG_EMPTY);
        else if (f.opcode === 0x8) {
          // Answer the close and wait for the server to close the connection, at most 2 s (as
          // Chromium does): Nchan's old workers keep it until they exit.
          if (!socket.destroyed) {
            socket.end(CLOSE_NORMAL);
            setTimeout(() => socket.destroy(), 2000).unref();
          }
        } else if (f.opcode === 0x1 || f.opcode === 0x0) {
          const parts = f.opcode === 0x0 ? [...(fragments ?? []), f.payload] : [f.payload];
          if (!f.fin) {
            fragments = parts;
            continue;
          }
          fragments = null;
          onMessage(sub, conn, Buffer.concat(parts).toString('utf8'));
        }
      }
      return used;
    };
    socket.on('data', (chunk) => {
      if (settled && !conn) return; // failed: the socket is being destroyed
      head = head.length ? Buffer.concat([head, chunk]) : chunk;
      if (!settled) {
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) {
          if (head.length > 16384) fail('oversized answer');
          return;
        }
        const status = head.subarray(0, head.indexOf('\r\n')).toString();
        if (!/^HTTP\/1\.1 101/.test(status)) return fail(status.slice(9, 12) || 'bad answer');
        settled = true;
        clearTimeout(timer);
        const opened = nowMs();
        conn = { requested, opened, closed: null, closedBy: null, maxSeq: -1, minSeq: -1, received: 0, firstSeqs: [], path, seen: new BitSet() };
        sub.conns.push(conn);
        if (sub.firstOpen === null) sub.firstOpen = opened;
        else sub.reconnects++;
        sub.failures = 0;
        sub.state = 'open';
        counters.opened++;
        head = head.subarray(end + 4);
        resolve(true);
      }
      const used = onFrames(head);
      head = used >= head.length ? Buffer.alloc(0) : Buffer.from(head.subarray(used));
    });
  });
}

function onMessage(sub, conn, text) {
  if (!conn.seen) return; // closed
  const arrived = nowMs();
  let msg;
  try {
    msg = JSON.parse(text);
  } catch {
    counters.unparsed++;
    return;
  }
  const m = EVENT_ID.exec(msg?.eventid ?? '');
  if (!m) {
    // push-stream pings ("text":"") and anything that is not the soak's: not a message.
    if (msg?.text !== '' && msg?.id !== -1) counters.unparsed++;
    return;
  }
  const seq = Number(m[1]);
  counters.received++;
  if (conn.firstSeqs.length < 40) conn.firstSeqs.push(seq); // arrival order, for the lost examples
  if (cfg.server === 'push-stream' && typeof msg.time === 'string' && typeof msg.tag === 'number') {
    const ms = Date.parse(msg.time);
    if (!sub.last || ms > sub.last.ms || (ms === sub.last.ms && msg.tag > sub.last.tag)) sub.last = { ms, time: msg.time, tag: msg.tag };
  }
  if (conn.seen.has(seq)) {
    // Twice on one connection. When the message was published before the connection opened, the
    // server sent it from its store (the join's history or resume) and again live: a join racing
    // that publish. Anything else is a plain repeat.
    const t0 = Number(msg.text?.t0);
    const kind = Number.isFinite(t0) && t0 < conn.opened ? 'joinRace' : 'sameConnection';
    counters.doubled++;
    counters.doubledBy[kind]++;
    if (doubledExamples.length < 10) doubledExamples.push({ subscriber: sub.i, seq, kind, connection: sub.conns.length, publishedMs: Math.round(t0), openedMs: Math.round(conn.opened), arrivedMs: Math.round(arrived) });
    return;
  }
  conn.seen.add(seq);
  conn.received++;
  if (seq > conn.maxSeq) conn.maxSeq = seq;
  if (conn.minSeq < 0 || seq < conn.minSeq) conn.minSeq = seq;
  if (sub.ever.has(seq)) {
    if (cfg.server === 'nchan') counters.replayed++;
    else {
      counters.doubled++;
      counters.doubledBy.afterResume++;
      if (doubledExamples.length < 10) doubledExamples.push({ subscriber: sub.i, seq, kind: 'afterResume', connection: sub.conns.length, openedMs: Math.round(conn.opened), arrivedMs: Math.round(arrived) });
    }
    return;
  }
  sub.ever.add(seq);
  if (seq > sub.maxSeq) sub.maxSeq = seq;
  const t0 = Number(msg.text?.t0);
  if (!Number.isFinite(t0) || t0 < sub.firstOpen) {
    counters.beforeFirstOpen++; // the buffer a first join replays: published before this subscriber existed
    return;
  }
  counters.firstDeliveries++;
  latency.add(arrived - t0);
  if (t0 >= conn.opened) liveLatency.add(arrived - t0);
}

function churnTick(tickMs) {
  let carry = 0;
  return () => {
    carry += churn * subs.length * (tickMs / 1000);
    const n = Math.floor(carry);
    carry -= n;
    if (n === 0) return;
    const open = subs.filter((s) => s.state === 'open' && s.socket && !s.churning);
    for (let k = 0; k < n && open.length > 0; k++) {
      const sub = open.splice(Math.floor(Math.random() * open.length), 1)[0];
      sub.churning = true;
      counters.churned++;
      // Abrupt, as a page reload or a lost network: no close frame.
      sub.socket.destroy();
    }
  };
}

// ---------------------------------------------------------------------------------------------
// Accounting, given what the parent published: for every subscriber and every message of its
// channel published (t0) at or after the subscriber's first open:
//   delivered      it arrived (counted once, whatever the connection)
//   beyond buffer  it did not, and could not: the subscriber was away (none of its connections
//                  in between was stuck), and the first connection that went past it (delivered
//                  something published after it was acknowledged) joined when `bufferSize` newer
//                  messages had been published on the channel (or it was older than the TTL), so
//                  the server's store no longer held it
//   lost           any other miss, by cause:
//                    skippedLive     a connection open when it was published went past it
//                    notResumed      a connection that joined later went past it although fewer
//                                    than `bufferSize` newer ones had been published: the join
//                                    (push-stream resume, Nchan replay) should have brought it
//                    acrossReload    either of the two, with an nginx reload overlapping its
//                                    publish (skipped) or between its publish and the join (not
//                                    resumed): Nchan 1.3.6 starts an empty store on reload, and
//                                    while old and new workers overlap each stores and delivers
//                                    only what was published to it
//                    stalled         a connection that did not go past it was stuck: open for 5 s
//                                    or more after the next message it should have got was
//                                    acknowledged, without it (pings may still flow); or no
//                                    connection went past it and the last one was still open at
//                                    the end
//                    notReconnected  no connection went past it, and the subscriber was not open
//                                    again since (the drain at the end timed out)

/** A connection open this long after a message was acknowledged, without it or anything newer, was stuck. */
const STALL_MS = 5000;

function account({ messages, bufferSize, ttlMs, reloads = [] }) {
  // messages: [[seq, channel, t0, t1], ...] in seq order; t0 (ms) increases with seq.
  const byChannel = cfg.channels.map(() => []);
  const bySeq = new Map();
  for (const m of messages) {
    byChannel[m[1]].push(m);
    bySeq.set(m[0], m);
  }
  const t0s = byChannel.map((list) => Float64Array.from(list, (m) => m[2]));
  const indexOf = new Map(); // seq -> index in its channel's list
  for (const list of byChannel) list.forEach((m, i) => indexOf.set(m[0], i));
  const runEnd = messages.length ? Math.max(...byChannel.map((l) => (l.length ? l[l.length - 1][3] : 0))) : 0;
  /**
   * How long a connection stayed open without getting the next message its channel published
   * after the newest one it got (from that message's acknowledgement, or from the connection's
   * open if later, to its close or the end of the run).
   */
  const silentFor = (channel, c) => {
    const list = byChannel[channel];
    const k = c.maxSeq >= 0 && indexOf.has(c.maxSeq) ? indexOf.get(c.maxSeq) + 1 : firstAtOrAfter(channel, c.opened);
    if (k >= list.length) return 0;
    return (c.closed ?? Math.max(runEnd, c.opened)) - Math.max(c.opened, list[k][3]);
  };
  /** Index of the first message of the channel with t0 >= t. */
  const firstAtOrAfter = (c, t) => {
    const a = t0s[c];
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (a[mid] < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  let expected = 0;
  let delivered = 0;
  let beyondBuffer = 0;
  const lostBy = { skippedLive: 0, stalled: 0, notResumed: 0, acrossReload: 0, notReconnected: 0 };
  /** Whether an nginx reload (signal to old workers gone) overlaps [from, to]. */
  const reloadBetween = (from, to) => reloads.some((r) => r.signalledMs <= to && r.oldWorkersGoneMs >= from);
  const lostExamples = [];
  let neverConnected = 0;
  let openAtEnd = 0;
  for (const sub of subs) {
    if (sub.firstOpen === null) {
      neverConnected++;
      continue;
    }
    if (sub.state === 'open') openAtEnd++;
    const list = byChannel[sub.channel];
    const conns = sub.conns;
    let ci = 0; // index of the first connection opened after t0 (conns are in time order)
    for (let k = firstAtOrAfter(sub.channel, sub.firstOpen); k < list.length; k++) {
      const [seq, , t0, t1] = list[k];
      expected++;
      if (sub.ever.has(seq)) {
        delivered++;
        continue;
      }
      while (ci < conns.length && conns[ci].opened <= t0) ci++;
      // The connections that could have brought it: the one open when it was published (if any),
      // then every later one. The first that delivered something published after this message was
      // acknowledged is the one that passed it over: live if it was already open at the publish,
      // else in its join (history / resume / replay). Connections that got nothing that new (closed
      // while it was on its way, or opened and closed again at once) do not decide.
      const before = ci > 0 ? conns[ci - 1] : null;
      const first = before && (before.closed === null || before.closed > t0) ? ci - 1 : ci;
      let why = null;
      let stuck = false; // a connection that did not go past it was stuck
      for (let j = first; j < conns.length && why === null; j++) {
        const c = conns[j];
        if (c.maxSeq < 0 || (bySeq.get(c.maxSeq)?.[2] ?? -Infinity) <= t1) {
          stuck ||= silentFor(sub.channel, c) > STALL_MS;
          continue;
        }
        if (stuck) why = 'stalled';
        else if (c.opened <= t0) {
          // While old and new workers overlap, a publish lands on either, and each delivers (and
          // stores) only its own: a skip whose publish overlapped a reload is the reload's.
          why = reloadBetween(t0, t1) ? 'acrossReload' : 'skippedLive';
        } else {
          const newer = firstAtOrAfter(sub.channel, c.opened) - (k + 1);
          if (newer >= bufferSize || c.opened - t0 > ttlMs) why = 'beyondBuffer';
          else why = reloadBetween(t0, c.opened) ? 'acrossReload' : 'notResumed';
        }
      }
      if (why === null) {
        const last = conns[conns.length - 1];
        why = last && last.closed === null ? 'stalled' : 'notReconnected';
      }
      if (why === 'beyondBuffer') {
        beyondBuffer++;
        continue;
      }
      lostBy[why]++;
      if (lostExamples.length < 20) {
        lostExamples.push({
          subscriber: sub.i,
          seq,
          why,
          publishedMs: Math.round(t0),
          acknowledgedMs: Math.round(t1),
          // The subscriber's connections around it (times in ms, as publishedMs).
          connections: conns
            .filter((c) => (c.closed ?? Infinity) >= t0 - 2000 && c.opened <= t0 + 10_000)
            .slice(0, 6)
            .map((c) => ({
              requested: Math.round(c.requested),
              opened: Math.round(c.opened),
              closed: c.closed === null ? null : Math.round(c.closed),
              closedBy: c.closedBy,
              path: c.path,
              received: c.received,
              seqs: c.received ? [c.minSeq, c.maxSeq] : null,
              firstSeqs: c.firstSeqs.join(','),
            })),
        });
      }
    }
  }
  const lost = Object.values(lostBy).reduce((a, b) => a + b, 0);
  const round = (v) => (v === null ? null : Math.round(v * 1000) / 1000);
  return {
    subscribers: subs.length,
    neverConnected,
    openAtEnd,
    expected,
    delivered,
    lost,
    lostBy,
    beyondBuffer,
    doubled: counters.doubled,
    doubledBy: { ...counters.doubledBy },
    replayed: counters.replayed,
    reconnects: subs.reduce((n, s) => n + s.reconnects, 0),
    counters: { ...counters, failures: { ...counters.failures } },
    latencyMs: { p50: round(latency.quantile(0.5)), p99: round(latency.quantile(0.99)), max: round(latency.max), n: latency.n },
    liveLatencyMs: { p50: round(liveLatency.quantile(0.5)), p99: round(liveLatency.quantile(0.99)), max: round(liveLatency.max), n: liveLatency.n },
    lostExamples,
    doubledExamples,
  };
}

serveHelper({
  async start({ host, port, server, channels, count, churn: c = 0, bufferSize, churnPauseMs = 500, handshakeTimeoutMs = 10_000, concurrency = 64 }) {
    cfg = { host, port, server, channels, bufferSize, churnPauseMs, handshakeTimeoutMs };
    subs = Array.from({ length: count }, (_, i) => ({
      i,
      channel: i % channels.length,
      address: sourceAddress(i),
      state: 'new',
      socket: null,
      timer: null,
      churning: false,
      failures: 0,
      reconnects: 0,
      firstOpen: null,
      conns: [],
      ever: new BitSet(),
      maxSeq: -1,
      last: null,
    }));
    const started = nowMs();
    let next = 0;
    const worker = async () => {
      while (next < count) await openSubscriber(subs[next++]);
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
    // Failed first opens are retried in the background; wait (bounded) for them too.
    const deadline = nowMs() + 15_000;
    while (subs.some((s) => s.firstOpen === null) && nowMs() < deadline) await new Promise((r) => setTimeout(r, 50));
    churn = c;
    const tickMs = 100;
    churnTimer = setInterval(churnTick(tickMs), tickMs);
    return {
      connected: subs.filter((s) => s.firstOpen !== null).length,
      seconds: (nowMs() - started) / 1000,
      failures: { ...counters.failures },
    };
  },

  setChurn({ churn: c }) {
    churn = c;
    return {};
  },

  stats() {
    const mu = process.memoryUsage();
    return {
      open: subs.filter((s) => s.state === 'open').length,
      reconnects: subs.reduce((n, s) => n + s.reconnects, 0),
      received: counters.received,
      doubled: counters.doubled,
      failedOpens: counters.failedOpens,
      rss: mu.rss,
    };
  },

  /** Waits (bounded) until every subscriber is open and has the newest message of its channel. */
  async drain({ lastSeqPerChannel, timeoutMs }) {
    const deadline = nowMs() + timeoutMs;
    const pending = () =>
      subs.filter((s) => s.firstOpen !== null && (s.state !== 'open' || (lastSeqPerChannel[s.channel] >= 0 && !s.ever.has(lastSeqPerChannel[s.channel])))).length;
    let left = pending();
    while (left > 0 && nowMs() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      left = pending();
    }
    return { pending: left };
  },

  collect({ messages, bufferSize, ttlMs, reloads }) {
    churn = 0;
    return account({ messages, bufferSize, ttlMs, reloads });
  },

  /** Every subscriber's connections (for diagnosis: SOAK_DUMP=<file>). */
  connections() {
    return { subscribers: subs.map((s) => ({ i: s.i, firstOpen: s.firstOpen, conns: s.conns.map(({ seen, ...c }) => c) })) };
  },

  close() {
    stopped = true;
    clearInterval(churnTimer);
    for (const s of subs) {
      clearTimeout(s.timer);
      s.socket?.destroy();
    }
    return {};
  },
});
process.send({ type: 'ready' });
