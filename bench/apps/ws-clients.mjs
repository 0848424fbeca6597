// Many WebSocket subscribers in one child process, for the fan-out bench (P3).
//
// A lean client on plain TCP sockets (node:net), the same code for both sides, so that the
// receiving side costs as little as possible and the same for both:
//   nginx    GET /ws/<channel> with an Upgrade handshake; subscribed once answered 101
//   socketio the Engine.IO v4 / Socket.IO v5 protocol as socket.io-client speaks it with
//            transports: ['websocket']: GET /socket.io/?EIO=4&transport=websocket, open packet
//            "0{...}", connect "40" to the main namespace, answered "40{...}"; pings "2" get "3";
//            events arrive as "42[...]"
// While running, a socket's 'data' handler only stores the chunk with its arrival time
// (process.hrtime: CLOCK_MONOTONIC, comparable with the publisher's in another process), counts
// message markers, and answers pings; WebSocket frames are parsed when the results are collected.
//
// IPC commands: connect { url, count, kind, concurrency, timeoutMs }, expect { seq, count },
// cpu {}, collect { fromSeq, toSeq }, close {}.
import { randomBytes } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import { serveHelper } from '../lib/common.mjs';
import { parseFrames } from '../lib/ws-frames.mjs';

const MARKER = Buffer.from('"bseq":');
const PAYLOAD = /"bseq":(\d+),"t0":"(\d+)"/;

let sockets = [];
/** Per subscriber: [hrtime, chunk, hrtime, chunk, ...] received after the handshake. */
let chunks = [];
let kind = 'nginx';
let expectSeq = -1;
let expectCount = 0;
let receivedForExpect = 0;
let closedEarly = 0;

/** A client frame (clients must mask; a zero mask key leaves the payload as it is). */
function clientFrame(opcode, payload) {
  const body = Buffer.from(payload);
  if (body.length > 125) throw new Error('client frames here are short');
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | body.length, 0, 0, 0, 0]), body]);
}
const PONG_EMPTY = clientFrame(0xa, '');
const SIO_PONG = clientFrame(0x1, '3');
const SIO_CONNECT = clientFrame(0x1, '40');

function countMarkers(buf) {
  let n = 0;
  for (let i = buf.indexOf(MARKER); i >= 0; i = buf.indexOf(MARKER, i + MARKER.length)) n++;
  return n;
}

function onData(index, socket, chunk) {
  const now = process.hrtime.bigint();
  const list = chunks[index];
  list.push(now, chunk);
  const first = chunk[0];
  // A ping alone in its chunk (the usual case): answer at once.
  if (kind === 'nginx' && first === 0x89) socket.write(PONG_EMPTY);
  else if (kind === 'socketio' && chunk.length === 3 && first === 0x81 && chunk[1] === 1 && chunk[2] === 0x32) socket.write(SIO_PONG);
  if (expectSeq >= 0 && receivedForExpect < expectCount) {
    receivedForExpect += countMarkers(chunk);
    if (receivedForExpect >= expectCount) process.send({ type: 'all-received', seq: expectSeq });
  }
}

function openOne(url, index, timeoutMs) {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = netConnect({ host: u.hostname, port: Number(u.port) });
    socket.setNoDelay(true);
    sockets[index] = socket;
    chunks[index] = [];
    let settled = false;
    let head = Buffer.alloc(0);
    let upgraded = false;
    const done = (ok, why) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (ok) {
        socket.removeAllListeners('data');
        socket.on('data', (chunk) => onData(index, socket, chunk));
      }
      resolve({ ok, why });
    };
    const timer = setTimeout(() => {
      done(false, 'timeout');
      socket.destroy();
    }, timeoutMs);
    socket.on('error', (err) => done(false, err.code ?? err.message));
    socket.on('close', () => {
      if (settled) closedEarly++;
      done(false, 'closed');
    });
    socket.on('connect', () => {
      socket.write(
        `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    socket.on('data', (chunk) => {
      head = Buffer.concat([head, chunk]);
      if (!upgraded) {
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const status = head.subarray(0, head.indexOf('\r\n')).toString();
        if (!/^HTTP\/1\.1 101/.test(status)) {
          done(false, status.slice(9, 12) || 'bad answer');
          socket.destroy();
          return;
        }
        upgraded = true;
        head = head.subarray(end + 4);
        if (kind === 'nginx') {
          if (head.length) chunks[index].push(process.hrtime.bigint(), head);
          done(true);
          return;
        }
      }
      // Socket.IO handshake: "0{...}" -> send "40" -> "40{...}" means joined.
      const { frames } = parseFrames(head);
      for (const f of frames) {
        const text = f.payload.toString();
        if (text.startsWith('0{')) socket.write(SIO_CONNECT);
        else if (text === '2') socket.write(SIO_PONG);
        else if (text.startsWith('40')) {
          const rest = head.subarray(f.end);
          if (rest.length) chunks[index].push(process.hrtime.bigint(), rest);
          done(true);
          return;
        }
      }
      if (frames.length) head = head.subarray(frames[frames.length - 1].end);
    });
  });
}

serveHelper({
  async connect({ url, count, kind: k, concurrency = 128, timeoutMs = 20_000 }) {
    kind = k;
    sockets = new Array(count);
    chunks = new Array(count);
    let next = 0;
    let ok = 0;
    const errors = {};
    const started = process.hrtime.bigint();
    async function worker() {
      while (next < count) {
        const i = next++;
        const r = await openOne(url, i, timeoutMs);
        if (r.ok) ok++;
        else errors[r.why] = (errors[r.why] ?? 0) + 1;
      }
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
    return { connected: ok, failed: count - ok, errors, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
  },

  expect({ seq, count }) {
    expectSeq = seq;
    expectCount = count;
    receivedForExpect = 0;
    return {};
  },

  cpu() {
    const c = process.cpuUsage();
    return { cpuMicros: c.user + c.system };
  },

  /** Latencies (µs) of messages fromSeq..toSeq, lost and doubled deliveries, per-message last arrival. */
  collect({ fromSeq, toSeq }) {
    const cpu = process.cpuUsage();
    const n = sockets.length;
    const messages = toSeq - fromSeq + 1;
    const seen = Array.from({ length: messages }, () => new Uint8Array(n));
    const latencies = [];
    const lastPerSeq = new Array(messages).fill(0);
    let doubled = 0;
    let unparsed = 0;
    for (let i = 0; i < n; i++) {
      const list = chunks[i] ?? [];
      let pending = Buffer.alloc(0);
      for (let j = 0; j < list.length; j += 2) {
        pending = pending.length ? Buffer.concat([pending, list[j + 1]]) : list[j + 1];
        const { frames } = parseFrames(pending);
        for (const f of frames) {
          if (f.opcode !== 0x1) continue; // text frames only: pings, pongs, close
          const m = PAYLOAD.exec(f.payload.toString());
          if (!m) {
            if (f.payload.indexOf(MARKER) >= 0) unparsed++;
            continue;
          }
          const seq = Number(m[1]);
          if (seq < fromSeq || seq > toSeq) continue;
          const k = seq - fromSeq;
          if (seen[k][i]) {
            doubled++;
            continue;
          }
          seen[k][i] = 1;
          const us = Number(list[j] - BigInt(m[2])) / 1000;
          latencies.push(Math.round(us * 10) / 10);
          if (us > lastPerSeq[k]) lastPerSeq[k] = us;
        }
        if (frames.length) pending = pending.subarray(frames[frames.length - 1].end);
      }
    }
    let lost = 0;
    for (const s of seen) for (let i = 0; i < n; i++) if (!s[i]) lost++;
    return {
      subscribers: n,
      stillOpen: sockets.filter((s) => s && !s.destroyed).length,
      closedEarly,
      messages,
      lost,
      doubled,
      unparsed,
      latencies,
      lastSubscriberPerMessage: lastPerSeq,
      // CPU used before this collection, so that the parent can take the receiving cost alone.
      cpuMicros: cpu.user + cpu.system,
    };
  },

  close() {
    for (const s of sockets) s?.destroy();
    sockets = [];
    chunks = [];
    return {};
  },
});
process.send({ type: 'ready' });
