// Several nginx workers (issue: "One worker is one outage"), on both servers, with the shipped
// configs and NginxTestServer's `workers: 2`: channels shared across workers, one worker killed
// (SIGKILL) and restarted by the master, one worker hung (SIGSTOP) and PushStreamService.health().
// What the two modules do differently is what each dialect states (survivesWorkerDeath: Nchan
// owns each channel in one worker, push-stream shares everything in one shared memory zone), which
// also picks the shipped worker count (checked first).
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { cpus } from 'node:os';
import { createDialect } from '../../lib/dialects/create-dialect.js';
import { PushStreamModule, PushStreamService, PushStreamTimeoutError } from '../../lib/index.js';
import { NginxTestServer } from '../../lib/testing/index.js';
import { AuthStubServer } from '../support/auth-stub-server.js';
import { E2E_SECRET, eventually, loopbackAddresses } from '../support/e2e-helpers.js';
import { nginxProcesses } from '../support/nginx-processes.js';
import { SERVERS } from '../support/servers.js';
import WebSocket from 'ws';

const PREFIX = 'wk';
const WORKERS = 2;

/** The worker pids of a test nginx (Linux /proc), lowest first. */
async function workerPids(nginx: NginxTestServer): Promise<number[]> {
  return (await nginxProcesses(nginx.workDir))?.workers ?? [];
}

/** An IPv4 address and port as /proc/net/tcp writes them: `0100007F:1F90` for 127.0.0.1:8080. */
function procAddress(ip: string, port: number): string {
  const hexIp = ip
    .split('.')
    .reverse()
    .map((b) => Number(b).toString(16).toUpperCase().padStart(2, '0'))
    .join('');
  return `${hexIp}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Socket inodes of nginx's side of established TCP connections on `port`, by the peer's address and port. */
async function serverSockets(port: number): Promise<Map<string, string>> {
  const byPeer = new Map<string, string>();
  const local = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const line of (await readFile('/proc/net/tcp', 'utf8')).split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    // local_address, rem_address, st (01 = ESTABLISHED), ..., inode
    if (cols[1]?.endsWith(local) && cols[3] === '01') byPeer.set(cols[2], cols[9]);
  }
  return byPeer;
}

/** Which worker holds each of nginx's sockets: inode -> pid. */
async function socketOwners(pids: number[]): Promise<Map<string, number>> {
  const owners = new Map<string, number>();
  for (const pid of pids) {
    for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [] as string[])) {
      const m = /^socket:\[(\d+)\]$/.exec(await readlink(`/proc/${pid}/fd/${fd}`).catch(() => ''));
      if (m) owners.set(m[1], pid);
    }
  }
  return owners;
}

/** A WebSocket subscriber from a chosen source address (so that it can be found in /proc). */
interface WebSocketSubscriber {
  /** The client's end, as /proc/net/tcp writes it (see procAddress). */
  local: string;
  /** Next text frame; rejects once the connection is closed, or after `boundMs` (a safety bound). */
  next(boundMs?: number): Promise<string>;
  close(): Promise<void>;
}

async function openWebSocket(url: string, localAddress: string): Promise<WebSocketSubscriber> {
  const socket = new WebSocket(url, { localAddress });
  const frames: string[] = [];
  const waiters: Array<() => void> = [];
  let closed: Error | undefined;
  const wake = () => waiters.splice(0).forEach((w) => w());
  socket.on('message', (data, isBinary) => {
    if (!isBinary) frames.push(data.toString('utf8'));
    wake();
  });
  socket.on('close', (code) => {
    closed ??= new Error(`WebSocket ${url} closed (${code})`);
    wake();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
    socket.once('unexpected-response', (_req, res) => reject(new Error(`WebSocket ${url}: HTTP ${res.statusCode}`)));
  });
  socket.on('error', (err) => {
    closed ??= err;
    wake();
  });
  return {
    local: procAddress(localAddress, (socket as unknown as { _socket: { localPort: number } })._socket.localPort),
    next: async (boundMs = 5000) => {
      const deadline = Date.now() + boundMs;
      while (frames.length === 0) {
        if (closed) throw closed;
        if (Date.now() > deadline) throw new Error(`no WebSocket message within ${boundMs} ms`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 50);
        });
      }
      return frames.shift()!;
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (socket.readyState === WebSocket.CLOSED) return resolve();
        socket.once('close', () => resolve());
        socket.terminate();
      }),
  };
}

/** A WebSocket subscriber and the worker that holds it. */
interface Placed {
  path: string;
  sub: WebSocketSubscriber;
  pid: number;
}

const freshAddress = loopbackAddresses(3);

describe.each(SERVERS)('the shipped worker count on %s', (server) => {
  it('is auto (one per core, more than one on this multi-core host) where the server survives a worker\'s death, else 1', async () => {
    const app = await AuthStubServer.start();
    const nginx = await NginxTestServer.start({ server, appUpstream: app.upstream });
    try {
      const survives = createDialect(server).survivesWorkerDeath;
      expect(survives).toBe(server === 'push-stream');
      const conf = await readFile(nginx.configFile, 'utf8');
      expect(conf.match(/^worker_processes \S+;$/gm)).toEqual([`worker_processes ${survives ? 'auto' : 1};`]);
      // The master forks its workers after it listens: counted once they are all there.
      const expected = survives ? cpus().length : 1;
      await eventually(`${expected} workers`, async () => (await workerPids(nginx)).length === expected);
      if (survives && cpus().length > 1) expect((await workerPids(nginx)).length).toBeGreaterThan(1);
    } finally {
      await nginx.dispose();
      await app.close();
    }
  });
});

describe.each(SERVERS)(`on %s with ${WORKERS} workers`, (server) => {
  const survivesWorkerDeath = createDialect(server).survivesWorkerDeath;
  let app: AuthStubServer;
  let nginx: NginxTestServer;
  let context: INestApplicationContext;
  let push: PushStreamService;
  const open: WebSocketSubscriber[] = [];

  beforeAll(async () => {
    app = await AuthStubServer.start();
    nginx = await NginxTestServer.start({ server, appUpstream: app.upstream, workers: WORKERS });
    context = await NestFactory.createApplicationContext(
      PushStreamModule.forRoot({
        server,
        publisherUrl: nginx.publisherUrl,
        statsUrl: nginx.statsUrl,
        prefix: PREFIX,
        secret: E2E_SECRET,
        publishTimeoutMs: 2000,
        retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
        authRoute: false,
      }),
      { logger: false },
    );
    push = context.get(PushStreamService);
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });

  afterAll(async () => {
    await context?.close();
    await nginx?.dispose();
    await app?.close();
  });

  /**
   * Subscribes to `path` (channels joined by "/") from fresh addresses, a few at a time so that
   * both workers accept some, until each worker holds `perWorker` of them.
   */
  async function placeOnEveryWorker(path: string, perWorker = 1): Promise<Placed[]> {
    const placed: Placed[] = [];
    const pids = await workerPids(nginx);
    expect(pids).toHaveLength(WORKERS);
    const short = () => pids.some((pid) => placed.filter((p) => p.pid === pid).length < perWorker);
    for (let round = 0; round < 10 && short(); round++) {
      const subs = await Promise.all(
        Array.from({ length: 4 }, () => openWebSocket(`${nginx.baseUrl.replace(/^http/, 'ws')}/ws/${path}`, freshAddress())),
      );
      open.push(...subs);
      const sockets = await serverSockets(nginx.port);
      const owners = await socketOwners(pids);
      for (const sub of subs) {
        const pid = owners.get(sockets.get(sub.local) ?? '');
        if (pid === undefined) throw new Error(`no worker holds the connection from ${sub.local}`);
        placed.push({ path, sub, pid });
      }
    }
    for (const pid of pids) expect(placed.filter((p) => p.pid === pid).length).toBeGreaterThanOrEqual(perWorker);
    return placed;
  }

  /** Reads one WebSocket until every text in `texts` arrived (others, such as replays, are skipped). */
  async function receives(sub: WebSocketSubscriber, ...texts: string[]): Promise<void> {
    const missing = new Set(texts);
    while (missing.size > 0) {
      const msg = JSON.parse(await sub.next()) as { text?: unknown };
      if (typeof msg.text === 'string') missing.delete(msg.text);
    }
  }

  it('shares channels across workers: subscribers on each worker get a publish, whichever worker took it', async () => {
    const channel = `${PREFIX}__t__shared-${Date.now()}`;
    const placed = await placeOnEveryWorker(channel, 2);
    await eventually('every subscriber counted', async () => (await push.stats()).subscribers === placed.length);
    // Several publishes on pooled keep-alive connections land on either worker.
    for (let i = 0; i < 4; i++) {
      await push.publish(channel, `hello-${i}`);
      for (const p of placed) await receives(p.sub, `hello-${i}`);
    }
  });

  it('survives the death of a worker (SIGKILL): the master starts another, publishing goes on, the other worker keeps its subscribers', async () => {
    // Fixed names (this nginx is the test's own): on Nchan they hash to owners on both workers.
    const channels = Array.from({ length: 8 }, (_, i) => `${PREFIX}__t__kill-${i}`);
    for (const channel of channels) await push.publish(channel, 'stored before');
    // Every subscriber on every channel, two on each worker.
    const placed = await placeOnEveryWorker(channels.join('/'), 2);
    await eventually('every subscriber counted', async () => (await push.stats()).subscribers === placed.length);
    const before = await workerPids(nginx);
    const [victim] = before;
    const survivor = before.find((pid) => pid !== victim)!;

    process.kill(victim, 'SIGKILL');

    // The master notices (SIGCHLD) and starts a new worker.
    await eventually('a new worker in place of the killed one', async () => {
      const now = await workerPids(nginx);
      return now.length === WORKERS && !now.includes(victim) && now.includes(survivor);
    });
    expect(await nginx.errorLog()).toMatch(new RegExp(`worker process ${victim} exited on signal 9`));
    // Its subscribers were cut off with it (their clients reconnect).
    for (const p of placed.filter((p) => p.pid === victim)) {
      for (;;) {
        const next = await p.sub.next().then(() => null, (err: Error) => err);
        if (next) {
          expect(next.message).toMatch(/closed/);
          break;
        }
      }
    }

    // The publisher answers, on new connections and old (a pooled one held by the dead worker is gone).
    const kept = new Map<string, boolean>();
    for (const channel of channels) {
      const info = await push.channelInfo(channel);
      kept.set(channel, info !== null && info.storedMessages === 1);
      await push.publish(channel, `after the kill ${channel}`);
    }
    if (survivesWorkerDeath) {
      expect([...kept.values()].every(Boolean)).toBe(true);
    } else {
      // Nchan: the channels the dead worker owned are gone, messages included; the survivor's stayed.
      expect([...kept.values()]).toContain(true);
      expect([...kept.values()]).toContain(false);
    }

    // Subscribers on the surviving worker keep receiving: every channel on push-stream; on Nchan the
    // channels it owns (the others stay connected and get nothing until a reload: below).
    const expected = channels.filter((c) => survivesWorkerDeath || kept.get(c)).map((c) => `after the kill ${c}`);
    const survivors = placed.filter((p) => p.pid === survivor);
    expect(survivors.length).toBeGreaterThan(0);
    for (const p of survivors) await receives(p.sub, ...expected);

    // A reload gives every channel a working owner again: new subscribers get every publish.
    await nginx.reload();
    await Promise.all(open.splice(0).map((s) => s.close()));
    const fresh = await placeOnEveryWorker(channels.join('/'));
    await eventually('every new subscriber counted', async () => (await push.stats()).subscribers === fresh.length);
    for (const channel of channels) await push.publish(channel, `after the reload ${channel}`);
    for (const p of fresh) await receives(p.sub, ...channels.map((c) => `after the reload ${c}`));
  });

  it('health() notices a hung worker (SIGSTOP): the check that reached it times out within its bound, and says so', async () => {
    const pids = await workerPids(nginx);
    // Pooled keep-alive connections to both workers, as a busy application has.
    await Promise.all(Array.from({ length: 24 }, () => push.stats()));
    const owners = await socketOwners(pids);
    const held = new Set([...(await serverSockets(nginx.pubPort)).values()].map((inode) => owners.get(inode)));
    const victim = pids.find((pid) => held.has(pid));
    if (victim === undefined) throw new Error('no worker holds one of the pooled connections');
    expect((await push.health({ timeoutMs: 500 })).healthy).toBe(true);

    process.kill(victim, 'SIGSTOP');
    try {
      // Each call resolves within about its bound; bounded loop until one reaches the hung worker
      // (Nchan: a probe channel it owns, every time; push-stream: a pooled connection it holds).
      let report = await push.health({ timeoutMs: 500 });
      for (let i = 0; i < 10 && report.healthy; i++) report = await push.health({ timeoutMs: 500 });
      expect(report.healthy).toBe(false);
      const failed = report.checks.filter((c) => !c.ok);
      expect(failed.length).toBeGreaterThan(0);
      for (const check of failed) {
        expect(check.error).toBeInstanceOf(PushStreamTimeoutError);
        expect(check.error?.message).toMatch(/did not answer within 500 ms/);
      }
    } finally {
      process.kill(victim, 'SIGCONT');
    }
    await eventually('healthy again once the worker runs', async () => (await push.health({ timeoutMs: 1000 })).healthy, 10_000);
  });
});
