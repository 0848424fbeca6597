/**
 * The browser client (`nestjs-push-stream/browser`) in real Chromium against real nginx on every
 * server of SERVERS (Nchan and the Push Stream Module), and against a fake push-stream subscriber
 * endpoint that replays the recorded frames of test/fixtures/push-stream-wire (the dialect's
 * unit-level check: exact frames, exact resume URLs).
 *
 * The client is compiled from lib/browser (with the lib/shared module it imports) into a temporary
 * folder laid out as dist/ (same compiler, plain ES modules) and served, with a test page, by a
 * tiny node:http "app" that also answers nginx's auth_request.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { jest } from '@jest/globals';
import { chromium, type Browser, type Page } from 'playwright-core';
import { WebSocketServer, type WebSocket } from 'ws';
import { NginxTestServer } from '../../lib/testing/nginx-test-server.js';
import { NchanDialect } from '../../lib/dialects/nchan.dialect.js';
import { PushStreamModuleDialect } from '../../lib/dialects/push-stream.dialect.js';
import type { PushStreamDialect } from '../../lib/dialects/push-stream-dialect.interface.js';
import type { PublishManyResult, PublishOptions } from '../../lib/dialects/push-stream-result.interface.js';
import type { PushStreamServerKind } from '../../lib/options/push-stream-options.interface.js';
import { SERVERS } from '../support/servers.js';

const run = promisify(execFile);
const ROOT = process.cwd();
const WIRE = join(ROOT, 'test/fixtures/push-stream-wire');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

jest.setTimeout(90_000);

const TRANSPORTS = ['websocket', 'eventsource', 'longpolling'] as const;

/** Everything the tests expect differently from the two servers, in one place. */
interface ServerTraits {
  /** Publishes, channel info and deletes exactly as PushStreamService sends them. */
  dialect: PushStreamDialect;
  /** The server message id the client reports (`PushStreamMessage.id`). */
  messageId: RegExp;
  /** What a subscriber sees of a bare DELETE (no in-band notice from the library first). */
  bareDelete: {
    /** The client reports `channel-deleted` and drops the channel. */
    reportsDeleted: boolean;
    /** The subscription is closed and opened again. */
    reopens: boolean;
  };
  /** What the `gap` event can say (see docs/browser-client.md, "Gaps"). */
  gap: {
    /** An overrun's `missed` is the exact count (push-stream numbers each channel 1, 2, 3...), not a lower bound. */
    countsMissed: boolean;
    /** The reason after a restart: a channel numbered anew, or (Nchan, later second) an emptied store nothing tells from an overrun. */
    afterRestart: 'store-reset' | 'unknown';
    /**
     * An overrun of fewer than 64 numbers is announced only once they are still missing 1 s later,
     * after the messages delivered meanwhile (push-stream: they may come out of order, see "Messages
     * out of order"), not right before the first message after the hole.
     */
    overrunWaits: boolean;
  };
}

const TRAITS: Record<PushStreamServerKind, ServerTraits> = {
  nchan: {
    dialect: new NchanDialect(),
    messageId: /^\d+:/,
    // Nchan closes with 410 Gone, exactly as on a reload: the client resubscribes and the
    // channel is created again by the subscription.
    bareDelete: { reportsDeleted: false, reopens: true },
    gap: { countsMissed: false, afterRestart: 'unknown', overrunWaits: false },
  },
  'push-stream': {
    dialect: new PushStreamModuleDialect(),
    messageId: /^\d+$/,
    // The module sends its own id -2 notice and keeps the connection for the other channels.
    bareDelete: { reportsDeleted: true, reopens: false },
    gap: { countsMissed: true, afterRestart: 'store-reset', overrunWaits: true },
  },
};

interface Log {
  messages: { channel: string; data: unknown; eventId: string; eventType: string; id: string; transport: string }[];
  /** `gap` details, with how many messages had been delivered when it came. */
  gaps: { channel: string; reason: string; certain: boolean; missed: number | null; lastSeen: { id: string }; next: { id: string }; before: number }[];
  states: string[];
  denied: { status: number; transport: string }[];
  deleted: { channel: string }[];
  errors: string[];
  state: string;
  transport: string | null;
  channels: string[];
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>browser client e2e</title>
<script type="module">
import { PushStreamClient } from '/__client/browser/push-stream-client.js';
window.clients = [];
window.start = (opts) => {
  const c = new PushStreamClient(opts);
  const log = { messages: [], gaps: [], states: [], denied: [], deleted: [], errors: [] };
  c.addEventListener('message', (e) => log.messages.push(e.detail));
  c.addEventListener('gap', (e) => log.gaps.push({ ...e.detail, before: log.messages.length }));
  c.addEventListener('state', (e) => log.states.push(e.detail.state + ':' + e.detail.transport));
  c.addEventListener('denied', (e) => log.denied.push(e.detail));
  c.addEventListener('channel-deleted', (e) => log.deleted.push(e.detail));
  c.addEventListener('error', (e) => log.errors.push(e.detail.message));
  c.connect();
  window.clients.push({ c, log });
  return window.clients.length - 1;
};
window.logOf = (i) => ({ ...window.clients[i].log, state: window.clients[i].c.state, transport: window.clients[i].c.transport, channels: [...window.clients[i].c.subscribedChannels] });
window.closeClient = (i) => window.clients[i].c.close();
window.connectClient = (i) => window.clients[i].c.connect();
window.ready = true;
</script>`;

/** Recorded push-stream frames. */
async function recordedFrames(): Promise<{ ws: string[]; stream: string[] }> {
  const ws = (await readFile(join(WIRE, '25-sub-websocket.txt'), 'utf8'))
    .split('\n')
    .filter((l) => l.startsWith('FRAME text '))
    .map((l) => l.slice('FRAME text '.length));
  const raw = await readFile(join(WIRE, '20-sub-stream-backtrack.txt'), 'utf8');
  const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  // split the concatenated objects on the boundaries the recording has
  const stream = body.split(/(?<=\})(?=\{"id")/);
  return { ws, stream };
}

describe('PushStreamClient in Chromium', () => {
  let clientDir: string;
  let app: Server;
  let appOrigin: string;
  let appPort: number;
  let browser: Browser;
  let fakePage: Page;
  const pageErrors: string[] = [];
  const authCalls: string[] = [];
  const fakeRequests: string[] = [];
  const fakeSockets = new Set<WebSocket>();
  let frames: { ws: string[]; stream: string[] };

  function fakePushStreamEventSource(req: IncomingMessage, res: ServerResponse): void {
    fakeRequests.push(`ev ${req.url}`);
    const n = fakeRequests.filter((r) => r.startsWith('ev ')).length;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-store, must-revalidate' });
    res.write(': \n\n');
    const send = (obj: string) => {
      const parsed = /"eventid":"([^"]*)","type":"([^"]*)"/.exec(obj);
      res.write(`${parsed?.[1] ? `id: ${parsed[1]}\n` : ''}${parsed?.[2] ? `event: ${parsed[2]}\n` : ''}data: ${obj}\n\n`);
    };
    if (n === 1) {
      // recording 20: x:1, live (e-1 chat), room3 deleted notice (invalid JSON), live2 (e-2 chat); then the stream ends.
      for (const f of frames.stream) send(f);
      setTimeout(() => res.end(), 200);
    } else {
      // after the resume: the module would send only newer messages; repeat live2 to prove de-duplication.
      send(frames.stream[3]);
      send('{"id":4,"channel":"room2","text":{"message":"after resume"},"eventid":"","type":"","time":"Tue, 24 Nov 2026 19:24:08 GMT","tag":0}');
      const ping = setInterval(() => res.write('data: {"id":-1,"channel":"","text":"","eventid":"","type":"","time":"Thu, 01 Jan 1970 00:00:00 GMT","tag":0}\n\n'), 300);
      res.on('close', () => clearInterval(ping));
    }
  }

  beforeAll(async () => {
    frames = await recordedFrames();
    clientDir = await mkdtemp(join(tmpdir(), 'push-stream-browser-client-'));
    await run(process.execPath, [
      join(ROOT, 'node_modules/typescript/bin/tsc'),
      // rootDir lib, as the package build: the client imports ../shared/ (served under /__client/ too).
      '--outDir', clientDir, '--rootDir', join(ROOT, 'lib'),
      '--target', 'ES2022', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--lib', 'ES2022,DOM',
      '--ignoreConfig', '--strict', '--skipLibCheck', '--types', 'node', '--noImplicitOverride',
      join(ROOT, 'lib/browser/push-stream-client.ts'),
    ]).catch((err: { stdout?: string; stderr?: string }) => {
      throw new Error(`tsc failed: ${err.stdout ?? ''}${err.stderr ?? ''}`);
    });

    app = createServer((req, res) => {
      const url = req.url ?? '/';
      if (url.startsWith('/push-stream/auth')) {
        const channels = String(req.headers['x-push-stream-channels'] ?? '');
        authCalls.push(channels);
        res.statusCode = /forbidden/.test(channels) ? 403 : 204;
        res.end();
      } else if (url.startsWith('/__client/')) {
        readFile(join(clientDir, url.slice('/__client/'.length).replace(/[?#].*$/, '').replace(/\.\./g, '')))
          .then((js) => {
            res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
            res.end(js);
          })
          .catch(() => {
            res.statusCode = 404;
            res.end();
          });
      } else if (url.startsWith('/ev/')) {
        fakePushStreamEventSource(req, res);
      } else if (url === '/' || url.startsWith('/?')) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(PAGE);
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    // Fake push-stream WebSocket subscriber on the app's own port.
    const wss = new WebSocketServer({ noServer: true });
    app.on('upgrade', (req, socket, head) => {
      if (!req.url?.startsWith('/ws/')) {
        // Destroyed once written: a half-closed socket would keep app.close() in afterAll waiting.
        socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n', () => socket.destroy());
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        fakeSockets.add(ws);
        ws.on('close', () => fakeSockets.delete(ws));
        fakeRequests.push(`ws ${req.url}`);
        const n = fakeRequests.filter((r) => r.startsWith('ws ')).length;
        if (n === 1) {
          ws.send('{"id":-1,"channel":"","text":"","eventid":"","type":"","time":"Thu, 01 Jan 1970 00:00:00 GMT","tag":0}');
          ws.send(frames.ws[0]);
          ws.send(frames.ws[1]);
          setTimeout(() => ws.terminate(), 200); // connection lost
        } else {
          ws.send(frames.ws[1]); // overlap: must not be delivered twice
          ws.send(frames.ws[2]);
          ws.send(frames.ws[3]); // channel-deleted notice for room4 (invalid JSON)
        }
      });
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    appPort = (app.address() as AddressInfo).port;
    appOrigin = `http://127.0.0.1:${appPort}`;

    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    fakePage = await openPage(appOrigin);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    for (const ws of fakeSockets) ws.terminate();
    await new Promise((r) => (app ? app.close(r) : r(undefined)));
    if (clientDir) await rm(clientDir, { recursive: true, force: true });
  });

  afterEach(() => {
    expect(pageErrors).toEqual([]);
  });

  let seq = 0;
  const channel = (name: string) => `bc${++seq}-${name}-${Date.now().toString(36)}`;

  /** A page with the test script loaded from `origin`. */
  async function openPage(origin: string): Promise<Page> {
    const p = await browser.newPage();
    p.on('pageerror', (err) => pageErrors.push(err.message));
    await p.goto(`${origin}/`);
    await p.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
    return p;
  }
  async function start(p: Page, opts: Record<string, unknown>): Promise<number> {
    return p.evaluate((o) => (window as unknown as { start(o: unknown): number }).start(o), opts);
  }
  async function logOf(p: Page, i: number): Promise<Log> {
    return p.evaluate((n) => (window as unknown as { logOf(n: number): Log }).logOf(n), i);
  }
  async function closeClient(p: Page, i: number): Promise<void> {
    await p.evaluate((n) => (window as unknown as { closeClient(n: number): void }).closeClient(n), i);
  }
  /** connect() again after closeClient(): what a page does when it comes back (a hidden tab shown again). */
  async function connectClient(p: Page, i: number): Promise<void> {
    await p.evaluate((n) => (window as unknown as { connectClient(n: number): void }).connectClient(n), i);
  }
  /** The nginx under test, for the error log in a timeout message (none for the fake). */
  let diagnostics: () => Promise<string> = async () => '';
  async function waitUntil(p: Page, i: number, check: (log: Log) => boolean, what: string, timeoutMs = 15_000): Promise<Log> {
    const deadline = Date.now() + timeoutMs;
    let log = await logOf(p, i);
    while (!check(log)) {
      if (Date.now() > deadline) {
        const summary = { ...log, messages: log.messages.map((m) => `${m.channel} ${JSON.stringify(m.data)} #${m.id}`).slice(-8) };
        throw new Error(`timed out waiting for ${what} (${log.messages.length} messages, the last shown): ${JSON.stringify(summary)}\n${(await diagnostics()).slice(-6000)}`);
      }
      await sleep(50);
      log = await logOf(p, i);
    }
    return log;
  }
  const nums = (log: Log) => log.messages.map((m) => (m.data as { n: number }).n);

  describe.each(SERVERS)('on %s', (server) => {
    const { dialect, messageId, bareDelete, gap } = TRAITS[server];
    let nginx: NginxTestServer;
    let page: Page;

    beforeAll(async () => {
      nginx = await NginxTestServer.start({ server, appUpstream: `127.0.0.1:${appPort}` });
      diagnostics = () => nginx.errorLog();
      page = await openPage(nginx.baseUrl); // through nginx: same origin as /ws/ /ev/ /lp/
    }, 30_000);

    afterAll(async () => {
      await page?.close();
      await nginx?.dispose();
    });

    // A test that failed before closing its clients leaves them running: closed here, so that their
    // requests do not use up the next test's share of nginx's per-address limit (limit_req, 429).
    afterEach(async () => {
      await page?.evaluate(() => (window as unknown as { clients: { c: { close(): void } }[] }).clients.forEach(({ c }) => c.close()));
    });

    /** Sends a request as PushStreamService would, retrying while nginx is down or restarting. */
    async function send(req: { method: string; url: string; headers: Record<string, string>; body?: string }, what: string): Promise<Response> {
      const deadline = Date.now() + 15_000;
      for (;;) {
        try {
          const res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body });
          await res.clone().text();
          if (res.status < 500) return res;
        } catch {
          /* nginx down or a connection of an old worker closed: retry */
        }
        if (Date.now() > deadline) throw new Error(`${what} kept failing`);
        await sleep(50);
      }
    }
    /** Publishes to one channel, or several in one request; the server's answer. */
    async function publish(ch: string | string[], data: unknown, opts: PublishOptions = {}): Promise<PublishManyResult> {
      const channels = typeof ch === 'string' ? [ch] : ch;
      const req = dialect.publishRequest(nginx.publisherUrl, channels, dialect.encodeMessage(data, channels, opts), opts);
      const res = await send(req, `publish to ${channels.join('/')}`);
      const body = await res.text();
      if (!res.ok) throw new Error(`publish to ${channels.join('/')}: HTTP ${res.status} ${body}`);
      return dialect.parsePublish(channels, { status: res.status, headers: {}, body });
    }
    /** Subscribers of a channel, from the server's channel info. */
    async function subscribers(ch: string): Promise<number> {
      const res = await send(dialect.infoRequest(nginx.publisherUrl, ch), 'channel info');
      const body = await res.text();
      return dialect.parseInfo(ch, { status: res.status, headers: {}, body })?.subscribers ?? 0;
    }
    /** Deletes a channel as PushStreamService.deleteChannel does (`notice: false`: the bare DELETE). */
    async function deleteChannel(ch: string, notice = true): Promise<void> {
      const body = notice ? dialect.deleteNotice?.(ch) : undefined;
      if (body !== undefined) {
        const res = await send(dialect.publishRequest(nginx.publisherUrl, [ch], body, {}), 'delete notice');
        expect(res.ok).toBe(true);
      }
      const res = await send(dialect.deleteRequest(nginx.publisherUrl, ch), 'delete');
      expect(res.status).toBe(200);
    }
    const client = (opts: Record<string, unknown>) => start(page, { url: nginx.baseUrl, server, ...opts });
    /**
     * Until the clients `ids` (over `transports`, in that order) are subscribed to `ch`, so that a
     * message published next reaches them live: each WebSocket and EventSource client `open`, and,
     * when long polling is among them, nginx counting all of them on `ch`. A long-polling client on
     * a channel without a message stays `connecting` while its poll is pending (it turns `open` only
     * once nginx answered a poll: docs/browser-client.md, "Long polling `open`"); nginx counting it
     * is what says its poll is in place.
     */
    async function subscribed(ids: number[], transports: readonly string[], ch: string, timeoutMs = 15_000): Promise<void> {
      for (const [k, i] of ids.entries()) {
        if (transports[k] !== 'longpolling') await waitUntil(page, i, (l) => l.state === 'open', 'open', timeoutMs);
      }
      if (!transports.includes('longpolling')) return;
      const deadline = Date.now() + timeoutMs;
      for (let count = await subscribers(ch); count < ids.length; count = await subscribers(ch)) {
        if (Date.now() > deadline) {
          const logs = await Promise.all(ids.map((i) => logOf(page, i)));
          throw new Error(`timed out waiting for ${ids.length} subscribers on ${ch} (nginx counts ${count}): ${JSON.stringify(logs.map((l) => ({ state: l.state, states: l.states, errors: l.errors })))}\n${(await diagnostics()).slice(-6000)}`);
        }
        await sleep(50);
      }
    }

    /**
     * Publishes a closing message and waits until every client got it: a late or doubled message on
     * their connections has arrived by then (a channel's messages come in order). Returns the logs
     * without closing messages.
     */
    async function settledAll(ids: number[], ch: string, timeoutMs?: number): Promise<Log[]> {
      const end = `end-${Date.now()}-${Math.random()}`;
      await publish(ch, { end });
      const isEnd = (m: Log['messages'][number]) => (m.data as { end?: string } | null)?.end === end;
      const logs: Log[] = [];
      for (const i of ids) {
        const log = await waitUntil(page, i, (l) => l.messages.some(isEnd), 'the closing message', timeoutMs);
        logs.push({ ...log, messages: log.messages.filter((m) => !isEnd(m)) });
      }
      return logs;
    }
    const settled = async (i: number, ch: string): Promise<Log> => (await settledAll([i], ch))[0];

    describe.each(TRANSPORTS)('over %s', (transport) => {
      it('delivers messages of several channels with history on join, event id and type', async () => {
        const a = channel('a');
        const b = channel('b');
        await publish(a, { n: 1 });
        await publish(a, { n: 2 }, { eventId: 'e-2' });
        // backtrack: push-stream's history on join (.b20); Nchan replays its buffer anyway.
        const i = await client({ channels: [a, b], transports: [transport], eventTypes: ['chat'], backtrack: { [a]: 20 } });
        await waitUntil(page, i, (l) => l.messages.length >= 2 && l.state === 'open', 'history + open');
        await publish(b, { n: 3 }, { eventId: 'e-3', eventType: 'chat' });
        await publish(a, { n: 4 });
        await waitUntil(page, i, (l) => l.messages.length >= 4, '4 messages');
        const log = await settled(i, a);
        expect(log.messages).toHaveLength(4);
        expect(nums(log)).toEqual([1, 2, 3, 4]);
        expect(log.messages.map((m) => m.channel)).toEqual([a, a, b, a]);
        expect(log.messages[1]).toMatchObject({ eventId: 'e-2', eventType: '' });
        expect(log.messages[2]).toMatchObject({ eventId: 'e-3', eventType: 'chat', transport });
        for (const m of log.messages) expect(m.id).toMatch(messageId);
        expect(log.transport).toBe(transport);
        expect(log.states[0]).toBe(`connecting:${transport}`);
        expect(log.states).toContain(`open:${transport}`);
        expect(log.errors.filter((e) => e.startsWith('invalid'))).toEqual([]);
        await closeClient(page, i);
        expect((await logOf(page, i)).state).toBe('closed');
      });

      it('a 403 from auth_request becomes a denied event, no messages and no reconnect storm', async () => {
        const f = channel('forbidden');
        const before = authCalls.filter((c) => c === f).length;
        // Short backoff: a retry after the denial, if there were one, would come within 100 ms.
        const i = await client({ channels: [f], transports: [transport], reconnect: { minDelayMs: 50, maxDelayMs: 100 } });
        const log = await waitUntil(page, i, (l) => l.denied.length > 0, 'denied');
        expect(log.denied).toEqual([{ status: 403, transport }]);
        expect(log.state).toBe('denied');
        await publish(f, { n: 1 });
        await sleep(600);
        const later = await logOf(page, i);
        expect(later.messages).toEqual([]);
        expect(later.denied).toHaveLength(1);
        expect(later.states.at(-1)).toBe(`denied:${transport}`);
        // one subscription attempt (+ one probe for WebSocket/EventSource), then silence
        expect(authCalls.filter((c) => c === f).length - before).toBeLessThanOrEqual(2);
      });

      it('one publishMany to two channels reaches each subscription under its own channel name', async () => {
        const a = channel('many-a');
        const b = channel('many-b');
        const onlyB = await client({ channels: [b], transports: [transport] });
        const both = await client({ channels: [a, b], transports: [transport] });
        await subscribed([onlyB, both], [transport, transport], b);
        await subscribed([both], [transport], a);
        if (transport === 'longpolling') {
          // Polls pending, none answered: not open yet (docs/browser-client.md, "Long polling `open`").
          for (const i of [onlyB, both]) expect((await logOf(page, i)).states).toEqual(['connecting:longpolling']);
        }
        // Exactly what PushStreamService.publishMany sends: one request naming "a/b".
        await publish([a, b], { n: 1 });
        const one = await waitUntil(page, onlyB, (l) => l.messages.length >= 1, 'message on b');
        expect(one.messages.map((m) => [m.channel, m.data])).toEqual([[b, { n: 1 }]]);
        expect(one.states).toEqual([`connecting:${transport}`, `open:${transport}`]);
        const two = await waitUntil(page, both, (l) => l.messages.length >= 2, 'a message per channel');
        expect(two.messages.map((m) => m.channel).sort()).toEqual([a, b].sort());
        await closeClient(page, onlyB);
        await closeClient(page, both);
      });

      it('nginx reload mid-session: reconnects, resumes, exactly 1..N in order', async () => {
        const a = channel('reload');
        const i = await client({ channels: [a], transports: [transport] });
        await subscribed([i], [transport], a);
        for (let n = 1; n <= 5; n++) await publish(a, { n });
        await waitUntil(page, i, (l) => l.messages.length >= 5, '5 messages');
        const reload = nginx.reload();
        for (let n = 6; n <= 10; n++) await publish(a, { n }); // during the reload
        await reload;
        for (let n = 11; n <= 15; n++) await publish(a, { n });
        await waitUntil(page, i, (l) => l.messages.length >= 15, '15 messages');
        const log = await settled(i, a);
        expect(nums(log)).toEqual(Array.from({ length: 15 }, (_, k) => k + 1));
        // Nchan's reload empties its store too, but the client was subscribed until then: no gap.
        expect(log.gaps).toEqual([]);
        await closeClient(page, i);
      });

      it('stop + start: reconnects with backoff and delivers exactly 1..N in order', async () => {
        const a = channel('restart');
        const i = await client({ channels: [a], transports: [transport], reconnect: { minDelayMs: 100, maxDelayMs: 1000 } });
        await subscribed([i], [transport], a);
        for (let n = 1; n <= 3; n++) await publish(a, { n });
        await waitUntil(page, i, (l) => l.messages.length >= 3, '3 messages');
        await nginx.stop();
        await waitUntil(page, i, (l) => l.state === 'reconnecting', 'reconnecting');
        await sleep(700); // a few failed attempts while nginx is down
        await nginx.start();
        // Both servers lose their memory on a restart and number messages by (second, tag): a
        // message published in the same second as the last one received before it would sort
        // before it. See docs.
        await sleep(1100);
        for (let n = 4; n <= 8; n++) await publish(a, { n });
        await waitUntil(page, i, (l) => l.messages.length >= 8 && l.state === 'open', '8 messages');
        const log = await settled(i, a);
        expect(nums(log)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
        // The restart emptied the store while the client could not reach nginx: from where it stands,
        // its own network may have been down while the old store took messages. One possible gap, before 4.
        expect(log.gaps).toEqual([
          expect.objectContaining({ channel: a, reason: gap.afterRestart, certain: false, missed: null, before: 3, lastSeen: { id: log.messages[2].id, eventId: '' } }),
        ]);
        expect(log.gaps[0].next.id).toBe(log.messages[3].id);
        expect(log.transport).toBe(transport); // nginx down is not a reason to change transport
        expect(log.denied).toEqual([]);
        await closeClient(page, i);
      });

      it('deleteChannel as PushStreamService does it -> channel-deleted, channel dropped, the other one still delivers', async () => {
        const a = channel('keep');
        const gone = channel('gone');
        const i = await client({ channels: [a, gone], transports: [transport] });
        await subscribed([i], [transport], gone);
        await publish(gone, { n: 1 });
        await waitUntil(page, i, (l) => l.messages.length >= 1, 'message');
        // A long-poll client is between requests right after a message: a notice sent then would
        // never reach it. Wait until it listens again (a real race, documented).
        for (let tries = 0; tries < 200 && (await subscribers(gone)) < 1; tries++) await sleep(25);
        await deleteChannel(gone);
        await waitUntil(page, i, (l) => l.deleted.length > 0 && l.channels.length === 1 && l.state === 'open', 'deleted + still subscribed');
        await publish(a, { n: 2 });
        const log = await settled(i, a);
        expect(log.deleted).toEqual([{ channel: gone }]);
        expect(log.channels).toEqual([a]);
        expect(nums(log)).toEqual([1, 2]);
        expect(log.errors.filter((e) => e.startsWith('invalid'))).toEqual([]);
        await closeClient(page, i);
      });
    });

    it('falls back to the next transport when WebSocket cannot open but nginx answers', async () => {
      const a = channel('fallback');
      const i = await client({
        channels: [a],
        transports: ['websocket', 'eventsource'],
        paths: { websocket: '/no-websocket-here/' }, // proxied to the app: 404 on the upgrade
        reconnect: { minDelayMs: 50, maxDelayMs: 200 },
      });
      await waitUntil(page, i, (l) => l.state === 'open', 'open after fallback');
      await publish(a, { n: 1 });
      const log = await waitUntil(page, i, (l) => l.messages.length >= 1, 'message');
      expect(log.transport).toBe('eventsource');
      expect(log.messages[0].transport).toBe('eventsource');
      expect(log.states).toContain('reconnecting:websocket');
      await closeClient(page, i);
    });

    it(`a bare DELETE: ${bareDelete.reportsDeleted ? 'channel-deleted from the server' : 'looks like a reload (410 Gone), the client resubscribes'}`, async () => {
      const a = channel('keep');
      const gone = channel('del');
      const i = await client({ channels: [a, gone], transports: ['websocket'] });
      await waitUntil(page, i, (l) => l.state === 'open', 'open');
      await publish(gone, { n: 1 });
      await waitUntil(page, i, (l) => l.messages.length >= 1, 'message');
      await deleteChannel(gone, false);
      const opens = (l: Log) => l.states.filter((s) => s.startsWith('open')).length;
      await waitUntil(page, i, (l) => (bareDelete.reportsDeleted ? l.deleted.length > 0 : opens(l) >= 2), 'the deletion seen');
      // A channel created again numbers its messages from (this second, 0): one published in the
      // same second as the last one received would sort before it (documented limitation).
      await sleep(1100);
      await publish(gone, { n: 2 });
      await publish(a, { n: 3 });
      const log = await settled(i, a);
      expect(log.deleted).toEqual(bareDelete.reportsDeleted ? [{ channel: gone }] : []);
      expect(log.channels).toEqual(bareDelete.reportsDeleted ? [a] : [a, gone]);
      expect(nums(log)).toEqual(bareDelete.reportsDeleted ? [1, 3] : [1, 2, 3]);
      expect(opens(log)).toBe(bareDelete.reopens ? 2 : 1);
      await closeClient(page, i);
    });

    it(`gap: a resume the buffer cannot cover (overrun, a restart while away) is signalled once per client, ${gap.overrunWaits ? 'an overrun once still missing 1 s later' : 'before what follows'}; what is stored comes once`, async () => {
      const a = channel('gap');
      const ids = await Promise.all(TRANSPORTS.map((t) => client({ channels: [a], transports: [t], reconnect: { minDelayMs: 100, maxDelayMs: 1000 } })));
      await subscribed(ids, TRANSPORTS, a);
      for (let n = 1; n <= 3; n++) await publish(a, { n });
      for (const i of ids) await waitUntil(page, i, (l) => l.messages.length >= 3, '3 messages');

      // Overrun: the page closes its clients (a hidden tab) while 25 messages are published; the
      // buffer keeps the last 20. Nchan can prove the loss only when the oldest message kept does
      // not open its second ((s, 0) may follow right after the last one seen): publish until so.
      for (const i of ids) await closeClient(page, i);
      const published: { n: number; id: string }[] = [];
      for (let n = 4; n <= 28 || published.at(-20)?.id.endsWith(':0'); n++) {
        published.push({ n, id: (await publish(a, { n })).infos[0]?.lastMessageId ?? '' });
      }
      const kept = published.slice(-20).map((p) => p.n);
      for (const i of ids) await connectClient(page, i);
      // The whole buffer first: the closing message of settledAll() would push its oldest out.
      for (const i of ids) await waitUntil(page, i, (l) => l.messages.length >= 3 + kept.length, 'the buffer');
      // push-stream: the gap comes 1 s after the jump, the whole buffer delivered by then; nothing
      // is published meanwhile (the closing message would be counted before it).
      if (gap.overrunWaits) for (const i of ids) await waitUntil(page, i, (l) => l.gaps.length > 0, 'the overrun gap');
      let logs = await settledAll(ids, a);
      for (const log of logs) {
        expect(nums(log)).toEqual([1, 2, 3, ...kept]);
        expect(log.gaps).toEqual([expect.objectContaining({ channel: a, reason: 'overrun', certain: true, before: gap.overrunWaits ? 3 + kept.length : 3 })]);
        expect(log.gaps[0]).toMatchObject({ lastSeen: { id: log.messages[2].id }, next: { id: log.messages[3].id } });
        // 4..(kept[0] - 1) are lost; Nchan counts at least one of them.
        const missed = log.gaps[0].missed ?? 0;
        if (gap.countsMissed) expect(missed).toBe(kept[0] - 4);
        else expect(missed >= 1 && missed <= kept[0] - 4).toBe(true);
      }
      const delivered = logs[0].messages.length + 1; // and the closing message

      // Away across a restart: what the old store took meanwhile (2 messages) is lost with it, and
      // said so; what comes after the restart is delivered once.
      for (const i of ids) await closeClient(page, i);
      await publish(a, { n: 101 });
      await publish(a, { n: 102 });
      await nginx.stop();
      await nginx.start();
      await sleep(1100); // out of the last second before the restart (see the stop + start test)
      for (const i of ids) await connectClient(page, i);
      for (let n = 103; n <= 105; n++) await publish(a, { n });
      logs = await settledAll(ids, a);
      for (const log of logs) {
        expect(nums(log).slice(delivered)).toEqual([103, 104, 105]);
        expect(log.gaps.slice(1)).toEqual([
          expect.objectContaining({ channel: a, reason: gap.afterRestart, certain: false, missed: null, before: delivered }),
        ]);
      }
      for (const i of ids) await closeClient(page, i);
    });

    it('two reloads without waiting for the old workers while a numbered stream flows: every transport gets each message once', async () => {
      const a = channel('reload-window');
      const total = 45;
      const ids = await Promise.all(TRANSPORTS.map((t) => client({ channels: [a], transports: [t] })));
      await subscribed(ids, TRANSPORTS, a);
      for (let n = 1; n <= total; n++) {
        // Event ids: a publish retried after an old worker dropped its connection is delivered once.
        await publish(a, { n }, { eventId: `n-${n}` });
        // Not waiting for the old workers: the stream goes on through the ~100 ms in which old and
        // new workers both take connections (this test's keep-alive publishes included), while
        // the subscribers the reload closed come back.
        if (n === 15 || n === 30) await nginx.reload({ waitForOldWorkers: false });
        // A steady stream, slower than the 20 messages a channel stores per second: a subscriber
        // cut by an old worker (worker_shutdown_timeout 1s) resumes from the store.
        await sleep(100);
      }
      // Generous bound: a subscriber stuck on an old worker without worker_shutdown_timeout is
      // freed only when that worker exits, after its next ping (10 s).
      const logs = await settledAll(ids, a, 30_000);
      const expected = Array.from({ length: total }, (_, k) => k + 1);
      const results = logs.map((log, k) => {
        const got = nums(log);
        return {
          transport: TRANSPORTS[k],
          lost: expected.filter((n) => !got.includes(n)),
          doubled: got.filter((n, at) => got.indexOf(n) !== at),
          inOrder: got.every((n, at) => at === 0 || n > got[at - 1]),
          gaps: log.gaps,
        };
      });
      expect(results).toEqual(TRANSPORTS.map((transport) => ({ transport, lost: [], doubled: [], inOrder: true, gaps: [] })));
      // The reloads ended the streams. (Not always a long poll: push-stream answers it 304 and it
      // polls again, and on Nchan it may be between two polls.)
      const reconnected = logs.map((log, k) => [TRANSPORTS[k], log.states.includes(`reconnecting:${TRANSPORTS[k]}`)]);
      expect(reconnected.filter(([t]) => t !== 'longpolling')).toEqual([['websocket', true], ['eventsource', true]]);
      for (const i of ids) await closeClient(page, i);
    });
  });

  it('push-stream (fake from recorded frames) over WebSocket: decoding, ping, channel-deleted, tag/time resume, no repeat', async () => {
    const i = await start(fakePage, {
      url: appOrigin,
      server: 'push-stream',
      channels: ['room2', 'room4'],
      transports: ['websocket'],
      backtrack: { room2: 2 },
    });
    const log = await waitUntil(fakePage, i, (l) => l.deleted.length > 0 && l.messages.length >= 3, 'messages + deleted');
    await sleep(300);
    const final = await logOf(fakePage, i);
    expect(final.messages).toEqual([
      { channel: 'room2', data: { message: 'live' }, eventId: 'e-1', eventType: 'chat', id: '2', transport: 'websocket' },
      { channel: 'room2', data: { message: 'live2' }, eventId: 'e-2', eventType: 'chat', id: '3', transport: 'websocket' },
      { channel: 'room4', data: { message: 'żółć ünïcode' }, eventId: 'e-9', eventType: 'notice', id: '1', transport: 'websocket' },
    ]);
    expect(log.deleted).toEqual([{ channel: 'room4' }]);
    expect(final.channels).toEqual(['room2']);
    expect(final.errors.filter((e) => e.startsWith('invalid'))).toEqual([]);
    const wsRequests = fakeRequests.filter((r) => r.startsWith('ws '));
    expect(wsRequests[0]).toBe('ws /ws/room2.b2/room4');
    // resume from the newest message received (live2: 19:24:07, tag 1), %-encoded (push-stream does not decode '+')
    expect(wsRequests[1]).toBe('ws /ws/room2/room4?tag=1&time=Tue%2C%2024%20Nov%202026%2019%3A24%3A07%20GMT');
    await closeClient(fakePage, i);
  });

  it('push-stream (fake from recorded frames) over EventSource: named events, invalid-JSON notice, resume args', async () => {
    const i = await start(fakePage, {
      url: appOrigin,
      server: 'push-stream',
      channels: ['room2', 'room3'],
      transports: ['eventsource'],
      eventTypes: ['chat'],
    });
    await waitUntil(fakePage, i, (l) => l.messages.length >= 4, '4 messages');
    await sleep(500);
    const log = await logOf(fakePage, i);
    expect(log.messages.map((m) => [m.channel, m.data, m.eventId, m.eventType, m.id])).toEqual([
      ['room2', { x: 1 }, '', '', '1'],
      ['room2', { message: 'live' }, 'e-1', 'chat', '2'],
      ['room2', { message: 'live2' }, 'e-2', 'chat', '3'],
      ['room2', { message: 'after resume' }, '', '', '4'],
    ]);
    expect(log.deleted).toEqual([{ channel: 'room3' }]);
    expect(log.channels).toEqual(['room2']);
    const evRequests = fakeRequests.filter((r) => r.startsWith('ev '));
    expect(evRequests[0]).toBe('ev /ev/room2/room3');
    expect(evRequests[1]).toBe('ev /ev/room2?tag=1&time=Tue%2C%2024%20Nov%202026%2019%3A24%3A07%20GMT');
    expect(log.state).toBe('open');
    await closeClient(fakePage, i);
  });
});
