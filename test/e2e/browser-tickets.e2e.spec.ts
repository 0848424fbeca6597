/**
 * Signed subscription tickets with the browser client (`ticket`, `getTicket`) in real Chromium
 * against a real nginx in ticket mode on every server of SERVERS, in both flavors (HMAC, checked
 * with njs by nginx/push-stream-ticket.js; secure-link MD5, checked by nginx's secure_link module):
 * nginx checks `?ticket=` itself and never asks the app.
 *
 * The client is compiled from lib/browser (with the lib/shared module it imports) into a temporary
 * folder laid out as dist/, as in browser-client.e2e.spec.ts: no `npm run build` needed. The page's
 * getTicket calls a function exposed by the test, which signs tickets the way PushStreamTickets
 * does (signTicket(deriveTicketKey(secret), channel path, expiry)), or refuses, as each test plans.
 * The app's auth endpoint refuses everything and must never be asked.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { jest } from '@jest/globals';
import { chromium, type Browser, type Page } from 'playwright-core';
import { NchanDialect } from '../../lib/dialects/nchan.dialect.js';
import { PushStreamModuleDialect } from '../../lib/dialects/push-stream.dialect.js';
import type { PushStreamDialect } from '../../lib/dialects/push-stream-dialect.interface.js';
import type { PushStreamServerKind } from '../../lib/options/push-stream-options.interface.js';
import { NginxTestServer } from '../../lib/testing/nginx-test-server.js';
import { deriveTicketKey, signTicket, type TicketFormat } from '../../lib/tickets/subscription-ticket.js';
import { SERVERS } from '../support/servers.js';

const run = promisify(execFile);
const ROOT = process.cwd();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const nowS = () => Math.floor(Date.now() / 1000);

jest.setTimeout(120_000);

const TRANSPORTS = ['websocket', 'eventsource', 'longpolling'] as const;
const SECRET = 'browser-tickets-e2e-secret-0123456789abcdef';
const KEY = deriveTicketKey(SECRET);

const DIALECTS: Record<PushStreamServerKind, PushStreamDialect> = {
  nchan: new NchanDialect(),
  'push-stream': new PushStreamModuleDialect(),
};

/** What the test's getTicket answers, call after call: a ticket valid `ttl` s (for `path`, default the channels asked), null, or a rejection. */
type TicketAnswer = { ttl: number; path?: string } | null | 'reject';

interface Log {
  messages: { channel: string; data: unknown; id: string; transport: string }[];
  gaps: unknown[];
  states: string[];
  denied: { status: number; transport: string }[];
  errors: string[];
  state: string;
  transport: string | null;
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>browser tickets e2e</title>
<script type="module">
import { PushStreamClient } from '/__client/browser/push-stream-client.js';
window.clients = [];
// opts.ticketPlan: the test's plan for this client's getTicket (window.issueTicket, exposed by the test).
window.start = (opts) => {
  const { ticketPlan, ...options } = opts;
  if (ticketPlan) options.getTicket = (channels) => window.issueTicket(ticketPlan, [...channels]);
  const c = new PushStreamClient(options);
  const log = { messages: [], gaps: [], states: [], denied: [], errors: [] };
  c.addEventListener('message', (e) => log.messages.push(e.detail));
  c.addEventListener('gap', (e) => log.gaps.push(e.detail));
  c.addEventListener('state', (e) => log.states.push(e.detail.state + ':' + e.detail.transport));
  c.addEventListener('denied', (e) => log.denied.push(e.detail));
  c.addEventListener('error', (e) => log.errors.push(e.detail.message));
  c.connect();
  window.clients.push({ c, log });
  return window.clients.length - 1;
};
window.logOf = (i) => ({ ...window.clients[i].log, state: window.clients[i].c.state, transport: window.clients[i].c.transport });
window.closeClient = (i) => window.clients[i].c.close();
window.ready = true;
</script>`;

describe('PushStreamClient with signed tickets, in Chromium', () => {
  let clientDir: string;
  let app: Server;
  let appPort: number;
  let browser: Browser;
  const pageErrors: string[] = [];
  /** Requests that reached the app's auth endpoint: none in ticket mode. */
  const authCalls: string[] = [];
  const plans = new Map<string, TicketAnswer[]>();
  /** Every getTicket call the pages made, in order. */
  const issued: { plan: string; channels: string[]; at: number; ticket: string | null | 'reject' }[] = [];

  beforeAll(async () => {
    clientDir = await mkdtemp(join(tmpdir(), 'push-stream-browser-tickets-'));
    await run(process.execPath, [
      join(ROOT, 'node_modules/typescript/bin/tsc'),
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
        authCalls.push(String(req.headers['x-push-stream-channels'] ?? ''));
        res.statusCode = 403;
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
      } else if (url === '/' || url.startsWith('/?')) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(PAGE);
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    appPort = (app.address() as AddressInfo).port;
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => (app ? app.close(r) : r(undefined)));
    if (clientDir) await rm(clientDir, { recursive: true, force: true });
  });

  afterEach(() => {
    expect(pageErrors).toEqual([]);
    expect(authCalls).toEqual([]);
  });

  let seq = 0;
  const channel = (name: string) => `bt${++seq}-${name}-${Date.now().toString(36)}`;
  /** Registers what a client's getTicket answers; returns the plan's name for start(). */
  const plan = (...answers: TicketAnswer[]) => {
    const name = `plan-${++seq}`;
    plans.set(name, answers);
    return name;
  };
  const callsOf = (name: string) => issued.filter((c) => c.plan === name);

  async function openPage(origin: string, format: TicketFormat): Promise<Page> {
    const p = await browser.newPage();
    p.on('pageerror', (err) => pageErrors.push(err.message));
    await p.exposeFunction('issueTicket', (name: string, channels: string[]) => {
      const answer = plans.get(name)?.shift();
      if (answer === undefined || answer === 'reject') {
        issued.push({ plan: name, channels, at: Date.now(), ticket: 'reject' });
        throw new Error('the app is unavailable');
      }
      const ticket = answer === null ? null : signTicket(KEY, answer.path ?? channels.join('/'), nowS() + answer.ttl, format);
      issued.push({ plan: name, channels, at: Date.now(), ticket });
      return ticket;
    });
    await p.goto(`${origin}/`);
    await p.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
    return p;
  }

  const CASES = SERVERS.flatMap((server) => (['hmac-sha256', 'secure-link-md5'] as const).map((format) => [server, format] as const));

  describe.each(CASES)('on %s, %s tickets', (server, format) => {
    const dialect = DIALECTS[server];
    const secureLink = format === 'secure-link-md5';
    const sign = (path: string, ttl: number) => signTicket(KEY, path, nowS() + ttl, format);
    let nginx: NginxTestServer;
    let page: Page;

    beforeAll(async () => {
      nginx = await NginxTestServer.start({ server, appUpstream: `127.0.0.1:${appPort}`, ticketSecret: SECRET, ticketFormat: format });
      page = await openPage(nginx.baseUrl, format); // through nginx: same origin as /ws/ /ev/ /lp/
    }, 30_000);

    afterAll(async () => {
      await page?.close();
      await nginx?.dispose();
    });

    const start = (opts: Record<string, unknown>) =>
      page.evaluate((o) => (window as unknown as { start(o: unknown): number }).start(o), { url: nginx.baseUrl, server, ...opts });
    const logOf = (i: number) => page.evaluate((n) => (window as unknown as { logOf(n: number): Log }).logOf(n), i);
    const closeClient = (i: number) => page.evaluate((n) => (window as unknown as { closeClient(n: number): void }).closeClient(n), i);
    async function waitUntil(i: number, check: (log: Log) => boolean, what: string, timeoutMs = 15_000): Promise<Log> {
      const deadline = Date.now() + timeoutMs;
      let log = await logOf(i);
      while (!check(log)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(log)}\n${(await nginx.errorLog()).slice(-4000)}`);
        await sleep(50);
        log = await logOf(i);
      }
      return log;
    }
    const nums = (log: Log) => log.messages.map((m) => (m.data as { n: number }).n);

    /** Publishes as PushStreamService does, retrying while nginx reloads. */
    async function publish(ch: string, data: unknown): Promise<void> {
      const req = dialect.publishRequest(nginx.publisherUrl, [ch], dialect.encodeMessage(data, [ch], {}), {});
      const deadline = Date.now() + 15_000;
      for (;;) {
        try {
          const res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body });
          const body = await res.text();
          if (res.ok) return;
          if (res.status < 500) throw new Error(`publish to ${ch}: HTTP ${res.status} ${body}`);
        } catch (err) {
          if (err instanceof Error && err.message.startsWith('publish to')) throw err;
        }
        if (Date.now() > deadline) throw new Error(`publish to ${ch} kept failing`);
        await sleep(50);
      }
    }

    /** Subscribers of a channel, from the server's channel info (as PushStreamService.channelInfo asks), retrying while nginx reloads. */
    async function subscribers(ch: string): Promise<number> {
      const req = dialect.infoRequest(nginx.publisherUrl, ch);
      const deadline = Date.now() + 15_000;
      for (;;) {
        try {
          const res = await fetch(req.url, { method: req.method, headers: req.headers });
          const body = await res.text();
          if (res.status < 500) return dialect.parseInfo(ch, { status: res.status, headers: {}, body })?.subscribers ?? 0;
        } catch {
          /* a connection of an old worker closed: retry */
        }
        if (Date.now() > deadline) throw new Error(`channel info of ${ch} kept failing`);
        await sleep(50);
      }
    }
    /**
     * Until the clients `ids` (over `transports`, in that order) are subscribed to `ch`, nginx having
     * accepted their tickets: each WebSocket and EventSource client `open`, and, when long polling is
     * among them, nginx counting all of them on `ch`. A long-polling client on a channel without a
     * message stays `connecting` while its poll is pending (it turns `open` only once nginx answered
     * a poll: docs/browser-client.md, "Long polling `open`"); nginx counting it is what says that its
     * ticket was accepted and its poll is in place.
     */
    async function subscribed(ids: number[], transports: readonly string[], ch: string, what: string): Promise<void> {
      for (const [k, i] of ids.entries()) {
        if (transports[k] !== 'longpolling') await waitUntil(i, (l) => l.state === 'open', what);
      }
      if (!transports.includes('longpolling')) return;
      const deadline = Date.now() + 15_000;
      for (let count = await subscribers(ch); count < ids.length; count = await subscribers(ch)) {
        if (Date.now() > deadline) {
          const logs = await Promise.all(ids.map((i) => logOf(i)));
          throw new Error(`timed out waiting for ${what}: ${ids.length} subscribers on ${ch}, nginx counts ${count}: ${JSON.stringify(logs)}\n${(await nginx.errorLog()).slice(-4000)}`);
        }
        await sleep(50);
      }
    }

    it('a client without a ticket is refused by nginx (ticket mode), without asking the app', async () => {
      const a = channel('none');
      const ids = await Promise.all(TRANSPORTS.map((t) => start({ channels: [a], transports: [t], reconnect: { minDelayMs: 50, maxDelayMs: 100 } })));
      for (const [k, i] of ids.entries()) {
        const log = await waitUntil(i, (l) => l.state === 'denied', 'denied');
        expect(log.denied).toEqual([{ status: 403, transport: TRANSPORTS[k] }]);
      }
    });

    // Secure-link tickets cannot open push-stream's .bN history (nginx refuses such paths): there,
    // the clients ask for none (and the test below checks the refusal of one).
    const history = !(secureLink && server === 'push-stream');

    it(`connects with a ticket (the option, then getTicket) and receives${history ? '; the same ticket covers push-stream .bN history' : ''}`, async () => {
      const a = channel('a');
      const b = channel('b');
      await publish(a, { n: 1 });
      const t = sign(`${a}/${b}`, 600);
      const backtrack = history ? { [a]: 5 } : undefined;
      const ids = await Promise.all(TRANSPORTS.map((transport) => start({ channels: [a, b], transports: [transport], backtrack, ticket: t })));
      const withGetTicket = plan({ ttl: 600 });
      ids.push(await start({ channels: [a, b], transports: ['websocket'], backtrack, ticketPlan: withGetTicket }));
      await subscribed(ids, [...TRANSPORTS, 'websocket'], b, 'open');
      await publish(b, { n: 2 });
      await publish(a, { n: 3 });
      for (const i of ids) {
        // push-stream: n 1 comes from the .b5 history; Nchan replays its buffer anyway.
        const log = await waitUntil(i, (l) => l.messages.length >= (history ? 3 : 2), 'the messages');
        expect(nums(log)).toEqual(history ? [1, 2, 3] : [2, 3]);
        expect(log.denied).toEqual([]);
        expect(log.errors).toEqual([]);
      }
      expect(callsOf(withGetTicket).map((c) => c.channels)).toEqual([[a, b]]);
      for (const i of ids) await closeClient(i);
    });

    if (secureLink && server === 'push-stream') {
      it('asking for .bN history with a secure-link ticket: the option throws, getTicket ends denied with an error naming it; nginx is not asked', async () => {
        const a = channel('history');
        await expect(start({ channels: [a], backtrack: { [a]: 5 }, ticket: sign(a, 600) })).rejects.toThrow(/a secure-link ticket cannot open the backtrack \(\.bN\) history/);
        const i = await start({ channels: [a], transports: ['websocket'], backtrack: { [a]: 5 }, ticketPlan: plan({ ttl: 600 }) });
        const log = await waitUntil(i, (l) => l.state === 'denied', 'denied');
        expect(log.denied).toEqual([{ status: 403, transport: 'websocket' }]);
        expect(log.errors).toEqual([expect.stringMatching(/^getTicket: a secure-link ticket cannot open the backtrack/)]);
        // The same channel, without history: opens.
        const ok = await start({ channels: [a], transports: ['websocket'], ticket: sign(a, 600) });
        await waitUntil(ok, (l) => l.state === 'open', 'open');
        await closeClient(ok);
      });
    }

    it('a ticket that expires while connected: open connections go on; after nginx ends them the client renews it and resumes without loss', async () => {
      const a = channel('expiring');
      // 13 s: used at once (more than the 10 s margin), within the margin after 3 s, refused by nginx after 13.
      const ticketPlans = TRANSPORTS.map(() => plan({ ttl: 13 }, { ttl: 600 }));
      const ids = await Promise.all(TRANSPORTS.map((transport, k) => start({ channels: [a], transports: [transport], ticketPlan: ticketPlans[k] })));
      await subscribed(ids, TRANSPORTS, a, 'open');
      const first = callsOf(ticketPlans[0])[0];
      const expiresAt = Number(String(first.ticket).split('.')[0]);
      for (let n = 1; n <= 3; n++) await publish(a, { n });
      for (const i of ids) await waitUntil(i, (l) => l.messages.length >= 3, '3 messages');

      // Within the margin: a long poll renews before its next request, the others stay connected.
      while (nowS() < expiresAt - 9) await sleep(100);
      await publish(a, { n: 4 });
      for (const i of ids) await waitUntil(i, (l) => l.messages.length >= 4, '4 messages');
      await sleep(500);
      expect(ticketPlans.map((p) => callsOf(p).length)).toEqual([1, 1, 2]);

      // Expired for nginx: a new subscription with it is refused; the open ones are not cut.
      while (nowS() <= expiresAt + 1) await sleep(100);
      const stale = await start({ channels: [a], transports: ['eventsource'], ticket: callsOf(ticketPlans[1])[0].ticket });
      expect((await waitUntil(stale, (l) => l.state === 'denied', 'the expired ticket refused')).denied).toEqual([{ status: 403, transport: 'eventsource' }]);
      await publish(a, { n: 5 });
      for (const i of ids) await waitUntil(i, (l) => l.messages.length >= 5, '5 messages on the expired ticket');

      // nginx ends every subscription; the WebSocket and EventSource clients need a new ticket first.
      const reloadAt = Date.now();
      await nginx.reload();
      for (let n = 6; n <= 8; n++) await publish(a, { n });
      for (const i of ids) await waitUntil(i, (l) => l.messages.length >= 8 && l.state === 'open', '8 messages, open again');
      await publish(a, { n: 9 });
      for (const [k, i] of ids.entries()) {
        const log = await waitUntil(i, (l) => l.messages.length >= 9, '9 messages');
        expect({ transport: TRANSPORTS[k], nums: nums(log), gaps: log.gaps, denied: log.denied }).toEqual({
          transport: TRANSPORTS[k],
          nums: [1, 2, 3, 4, 5, 6, 7, 8, 9],
          gaps: [],
          denied: [],
        });
        // Renewed before reconnecting, not after a refusal.
        expect(log.errors.filter((e) => /refused|getTicket/.test(e))).toEqual([]);
      }
      const calls = ticketPlans.map((p) => callsOf(p));
      expect(calls.map((c) => c.length)).toEqual([2, 2, 2]);
      expect(calls[0][1].at).toBeGreaterThanOrEqual(reloadAt);
      expect(calls[1][1].at).toBeGreaterThanOrEqual(reloadAt);
      expect(calls[2][1].at).toBeLessThan(reloadAt); // the long poll renewed between two polls
      for (const i of ids) await closeClient(i);
    });

    it('getTicket → null: denied without a request; a ticket nginx refuses: getTicket once more, then denied (null) or open (a good one)', async () => {
      const a = channel('refused');
      const opts = { channels: [a], reconnect: { minDelayMs: 50, maxDelayMs: 100 } };
      const wrong = sign(`${a}-other`, 600); // signed for another channel set
      const refusedAtOnce = plan(null);
      const refusedAfter = TRANSPORTS.map(() => plan(null));
      const renewed = TRANSPORTS.map(() => plan({ ttl: 600 }));
      const denied = [
        await start({ ...opts, transports: ['websocket'], ticketPlan: refusedAtOnce }),
        ...(await Promise.all(TRANSPORTS.map((transport, k) => start({ ...opts, transports: [transport], ticket: wrong, ticketPlan: refusedAfter[k] })))),
      ];
      const opened = await Promise.all(TRANSPORTS.map((transport, k) => start({ ...opts, transports: [transport], ticket: wrong, ticketPlan: renewed[k] })));
      for (const i of denied) {
        const log = await waitUntil(i, (l) => l.state === 'denied', 'denied');
        expect(log.denied).toEqual([{ status: 403, transport: log.transport }]);
        expect(log.messages).toEqual([]);
      }
      await subscribed(opened, TRANSPORTS, a, 'open with the renewed ticket');
      await publish(a, { n: 1 });
      for (const i of opened) {
        const log = await waitUntil(i, (l) => l.messages.length >= 1, 'a message');
        expect(nums(log)).toEqual([1]);
        expect(log.errors).toContain(`${log.transport} refused (403): asking getTicket for a new ticket`);
        expect(log.denied).toEqual([]);
      }
      // No reconnect storm: one getTicket each.
      await sleep(500);
      expect([refusedAtOnce, ...refusedAfter, ...renewed].map((p) => callsOf(p).length)).toEqual([1, 1, 1, 1, 1, 1, 1]);
      for (const i of opened) await closeClient(i);
    });
  });
});
