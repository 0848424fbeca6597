/**
 * The Push Stream Module's OWN JavaScript client (misc/js/pushstream.js of the module's source, the
 * client users of django-nginx-push-stream know) in real Chromium, against real nginx + the module
 * with the shipped nginx/push-stream.conf.template: WebSocket, EventSource and long polling.
 *
 * pushstream.js is GPL/MIT-licensed upstream code and is NOT part of this repository: it is read at
 * run time from the vendored module tarball (the one `build-module` builds from).
 *
 * A tiny node:http "app" serves the page (through nginx: same origin as /ws/ /ev/ /lp/, which
 * pushstream.js needs for XHR long polling instead of JSONP) and answers nginx's auth_request:
 * 204, or 403 for channels named "forbidden...".
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { jest } from '@jest/globals';
import { chromium, type Browser, type Page } from 'playwright-core';
import { NGINX_CONFIG_DIR, NginxTestServer } from '../../lib/testing/index.js';
import { SKIP_PUSH_STREAM } from '../support/servers.js';

const run = promisify(execFile);
const ROOT = process.cwd();
const MODULE_DIR = 'nginx-push-stream-module-0.6.0';
const TARBALL = `${MODULE_DIR}.tar.gz`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

jest.setTimeout(60_000);

/** pushstream.js from the vendored tarball (same folders nginx/nginx-tools.mjs builds the module from). */
async function loadPushstreamJs(): Promise<string> {
  const dirs = [process.env.NESTJS_PUSH_STREAM_VENDOR, join(ROOT, '..', 'shared', 'vendor')].filter((d): d is string => !!d);
  const tarball = dirs.map((d) => join(d, TARBALL)).find((p) => existsSync(p));
  if (!tarball) {
    throw new Error(
      `pushstream.js is read from the Push Stream Module's source tarball ${TARBALL}, not found in ${dirs.join(' or ')}. ` +
        'Put it there (or set NESTJS_PUSH_STREAM_VENDOR=<folder holding it>); it is not committed to this repository.',
    );
  }
  const { stdout } = await run('tar', ['xzf', tarball, '-O', `${MODULE_DIR}/misc/js/pushstream.js`], { maxBuffer: 4 << 20 });
  if (!stdout.includes('window.PushStream = PushStream')) throw new Error(`${tarball} has no usable misc/js/pushstream.js`);
  return stdout;
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>pushstream.js e2e</title><body>
<script src="/pushstream.js"></script>
<script>
window.clients = [];
window.start = function (opts, channels) {
  var log = { messages: [], errors: [], states: [], deleted: [] };
  var settings = Object.assign({}, opts, {
    onmessage: function (text, id, channel, eventid, isLastMessageFromBatch, time) {
      log.messages.push({ text: text, id: id, channel: channel, eventid: eventid, time: time });
    },
    onerror: function (error) { log.errors.push(error.type); },
    onstatuschange: function (state) { log.states.push(state); },
    onchanneldeleted: function (channel) { log.deleted.push(channel); }
  });
  var ps = new PushStream(settings);
  channels.forEach(function (c) { ps.addChannel(c[0], c[1]); });
  ps.connect();
  window.clients.push({ ps: ps, log: log });
  return window.clients.length - 1;
};
window.logOf = function (i) {
  var c = window.clients[i];
  return Object.assign({}, c.log, { readyState: c.ps.readyState, etag: String(c.ps._etag), lastModified: c.ps._lastModified });
};
window.disconnectClient = function (i) { window.clients[i].ps.disconnect(); };
window.connectClient = function (i) { window.clients[i].ps.connect(); };
window.ready = typeof PushStream === 'function';
</script>`;

interface Message {
  text: unknown;
  id: number;
  channel: string;
  eventid: string;
  time: string;
}
interface Log {
  messages: Message[];
  errors: string[];
  states: number[];
  deleted: string[];
  readyState: number;
  etag: string;
  lastModified: string | null;
}
/** What nginx's auth subrequest carried: the subscriber request's URI and resume headers. */
interface AuthCall {
  uri: string;
  channels: string;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  lastEventId?: string;
  status: number;
}

const OPEN = 2; // PushStream.OPEN
const CLOSED = 0; // PushStream.CLOSED
type Mode = 'websocket' | 'eventsource' | 'longpolling';

(SKIP_PUSH_STREAM ? describe.skip : describe)('pushstream.js (the module\'s own client) with nginx/push-stream.conf.template', () => {
  let app: Server;
  let appOrigin: string;
  let nginx: NginxTestServer;
  let configDir: string | undefined;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const authCalls: AuthCall[] = [];
  const started: number[] = [];

  beforeAll(async () => {
    const pushstreamJs = await loadPushstreamJs();
    app = createServer((req, res) => {
      const url = req.url ?? '/';
      if (url.startsWith('/push-stream/auth')) {
        const channels = String(req.headers['x-push-stream-channels'] ?? '');
        const status = /forbidden/.test(channels) ? 403 : 204;
        const h = (name: string) => (req.headers[name] === undefined ? undefined : String(req.headers[name]));
        authCalls.push({
          uri: String(req.headers['x-original-uri'] ?? ''),
          channels,
          ifNoneMatch: h('if-none-match'),
          ifModifiedSince: h('if-modified-since'),
          lastEventId: h('last-event-id'),
          status,
        });
        res.statusCode = status;
        res.end();
      } else if (url === '/pushstream.js') {
        res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
        res.end(pushstreamJs);
      } else if (url === '/' || url.startsWith('/?')) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(PAGE);
      } else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    appOrigin = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
    // The shipped config, plus headers for the test alone: the URI and conditional headers
    // pushstream.js sent (the shipped auth request forwards neither), checked at each auth call.
    configDir = await mkdtemp(join(tmpdir(), 'pushstream-js-config-'));
    await cp(NGINX_CONFIG_DIR, configDir, { recursive: true });
    const template = join(configDir, 'push-stream.conf.template');
    const shipped = await readFile(template, 'utf8');
    const anchor = '    proxy_set_header X-Push-Stream-Server push-stream;\n';
    if (!shipped.includes(anchor)) throw new Error('push-stream.conf.template: the auth location changed; update this test');
    await writeFile(template, shipped.replace(anchor, `${anchor}    proxy_set_header X-Original-URI $request_uri;\n    proxy_set_header If-None-Match $http_if_none_match;\n    proxy_set_header If-Modified-Since $http_if_modified_since;\n`));
    nginx = await NginxTestServer.start({ server: 'push-stream', appUpstream: appOrigin.slice('http://'.length), configDir });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = await browser.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(`${nginx.baseUrl}/`); // through nginx: same origin, so long polling uses XHR, not JSONP
    await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await nginx?.dispose();
    if (configDir) await rm(configDir, { recursive: true, force: true });
    await new Promise((r) => (app ? app.close(r) : r(undefined)));
  });

  afterEach(async () => {
    // pushstream.js reconnects on its own (after 3 s or 60 s): stop every client of the test.
    for (const i of started.splice(0)) await page.evaluate((n) => (window as unknown as { disconnectClient(n: number): void }).disconnectClient(n), i);
    expect(pageErrors).toEqual([]);
  });

  let seq = 0;
  const channel = (name: string) => `pjs${++seq}${name}${Date.now().toString(36)}`;

  async function start(mode: Mode, channels: [string, Record<string, unknown>?][], opts: Record<string, unknown> = {}): Promise<number> {
    const settings = {
      host: '127.0.0.1',
      port: nginx.port,
      modes: mode,
      urlPrefixWebsocket: '/ws',
      urlPrefixEventsource: '/ev',
      urlPrefixLongpolling: '/lp',
      urlPrefixStream: '/sub',
      ...opts,
    };
    const i = await page.evaluate(
      ([s, c]) => (window as unknown as { start(s: unknown, c: unknown): number }).start(s, c),
      [settings, channels.map(([name, o]) => [name, o ?? {}])] as const,
    );
    started.push(i);
    return i;
  }
  const logOf = (i: number) => page.evaluate((n) => (window as unknown as { logOf(n: number): Log }).logOf(n), i);
  const disconnect = (i: number) => page.evaluate((n) => (window as unknown as { disconnectClient(n: number): void }).disconnectClient(n), i);
  const connect = (i: number) => page.evaluate((n) => (window as unknown as { connectClient(n: number): void }).connectClient(n), i);

  /** Polls a condition (never a fixed sleep as the thing waited for). */
  async function waitFor<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let v = await probe();
    while (!ok(v)) {
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}\nauth: ${JSON.stringify(authCalls.slice(-6))}\n${await nginx.errorLog()}`.slice(0, 5000));
      }
      await sleep(50);
      v = await probe();
    }
    return v;
  }
  const waitLog = (i: number, what: string, ok: (l: Log) => boolean) => waitFor(what, () => logOf(i), ok);

  /** Publishes like the library's push-stream dialect: JSON body, Event-Id / Event-Type headers. */
  async function publish(ch: string, data: unknown, opts: { eventId?: string; eventType?: string } = {}): Promise<{ subscribers: number }> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (opts.eventId !== undefined) headers['event-id'] = opts.eventId;
    if (opts.eventType !== undefined) headers['event-type'] = opts.eventType;
    const res = await fetch(`${nginx.publisherUrl}?id=${ch}`, { method: 'POST', headers, body: JSON.stringify(data) });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`publish to ${ch}: ${res.status} ${text}`);
    return JSON.parse(text) as { subscribers: number };
  }
  /** Subscribers the module counts on a channel (0 when the channel does not exist). */
  async function subscribers(ch: string): Promise<number> {
    const res = await fetch(`${nginx.publisherUrl}?id=${ch}`);
    const text = await res.text();
    return res.status === 200 ? (JSON.parse(text) as { subscribers: number }).subscribers : 0;
  }
  const authFor = (ch: string) => authCalls.filter((a) => a.channels.split('/').some((c) => c.replace(/\.b\d+$/, '') === ch));
  const nums = (l: Log) => l.messages.map((m) => (m.text as { n: number }).n);

  const payload = { n: 1, s: 'héllo "quoted" <b>&amp;</b> \\ / 100%', list: [1, { a: null }] };

  it('websocket: URL shape, text/id/channel/eventid, resume by ?tag=&time= (messagesControlByArgument), channel deleted', async () => {
    const ch = channel('ws');
    const i = await start('websocket', [[ch]], { messagesControlByArgument: true });
    await waitLog(i, 'websocket open', (l) => l.readyState === OPEN);
    // first connect: no position yet, empty control args (the template falls back to the headers: none)
    expect(authFor(ch)[0].uri).toMatch(new RegExp(`^/ws/${ch}\\?_=\\d+&tag=&time=&eventid=$`));

    await publish(ch, payload, { eventId: 'e-1' });
    let log = await waitLog(i, 'first message', (l) => l.messages.length >= 1);
    expect(log.messages[0]).toEqual({ text: payload, id: 1, channel: ch, eventid: 'e-1', time: expect.stringMatching(/^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/) });

    // gap: two messages while disconnected; the reconnect asks for what follows the last one seen
    const seen = log;
    await disconnect(i);
    await waitFor('websocket closed at nginx', () => subscribers(ch), (n) => n === 0);
    expect((await publish(ch, { n: 2 })).subscribers).toBe(0);
    await publish(ch, { n: 3 });
    await connect(i);
    log = await waitLog(i, 'resumed messages', (l) => l.messages.length >= 3);
    const resume = authFor(ch).at(-1)!;
    expect(resume.uri).toMatch(new RegExp(`^/ws/${ch}\\?_=\\d+&tag=${seen.etag}&time=${encodeURIComponent(seen.lastModified!)}&eventid=$`));
    expect(seen.lastModified).toBe(seen.messages[0].time);
    expect(nums(log)).toEqual([1, 2, 3]);
    expect(log.messages.map((m) => m.id)).toEqual([1, 2, 3]);

    // the template's channel-deleted notice (id -2, "text":"Channel deleted") reaches onchanneldeleted
    const del = await fetch(`${nginx.publisherUrl}?id=${ch}`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    log = await waitLog(i, 'channel deleted', (l) => l.deleted.length >= 1);
    expect(log.deleted).toEqual([ch]);
    expect(nums(log)).toEqual([1, 2, 3]);
  });

  it('eventsource: two channels, text/id/channel/eventid; a message with an event type is not seen (onmessage only)', async () => {
    const a = channel('eva');
    const b = channel('evb');
    const i = await start('eventsource', [[a], [b]]);
    await waitLog(i, 'eventsource open', (l) => l.readyState === OPEN);
    expect(authFor(a)[0].uri).toMatch(new RegExp(`^/ev/${a}/${b}\\?_=\\d+&tag=&time=&eventid=$`));

    await publish(a, payload, { eventId: 'ev-1' });
    await publish(b, 'plain string');
    await publish(b, { n: 9 }, { eventType: 'chat' }); // `event: chat` line: EventSource.onmessage does not fire
    await publish(a, { n: 10 });
    const log = await waitLog(i, 'messages on both channels', (l) => l.messages.length >= 3);
    expect(log.messages.map(({ text, id, channel: c, eventid }) => ({ text, id, channel: c, eventid }))).toEqual([
      { text: payload, id: 1, channel: a, eventid: 'ev-1' },
      { text: 'plain string', id: 1, channel: b, eventid: '' },
      { text: { n: 10 }, id: 2, channel: a, eventid: '' },
    ]);
  });

  it('longpolling, default options: resume by If-None-Match / If-Modified-Since headers, each message once, also across a gap', async () => {
    const ch = channel('lp');
    const i = await start('longpolling', [[ch]]);
    await waitFor('long poll pending', () => subscribers(ch), (n) => n >= 1);
    const first = authFor(ch)[0];
    expect(first.uri).toMatch(new RegExp(`^/lp/${ch}\\?&tag=&time=&eventid=&_=\\d+$`));
    expect({ inm: first.ifNoneMatch, ims: first.ifModifiedSince }).toEqual({ inm: '0', ims: 'null' }); // pushstream.js's initial values

    await publish(ch, payload, { eventId: 'lp-1' });
    let log = await waitLog(i, 'first message', (l) => l.messages.length >= 1);
    expect(log.messages[0]).toEqual({ text: payload, id: 1, channel: ch, eventid: 'lp-1', time: expect.any(String) });
    // two more right away: whether they land on a pending poll or between two polls, each comes once
    await publish(ch, { n: 2 });
    await publish(ch, { n: 3 });
    log = await waitLog(i, 'three messages', (l) => l.messages.length >= 3);

    // a gap: disconnected while two messages are published; connect() resumes from the headers
    await disconnect(i);
    await publish(ch, { n: 4 });
    await publish(ch, { n: 5 });
    await connect(i);
    log = await waitLog(i, 'messages of the gap', (l) => l.messages.length >= 5);
    await publish(ch, { n: 6 });
    log = await waitLog(i, 'sixth message', (l) => l.messages.length >= 6);
    expect(nums(log)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(log.messages.map((m) => m.id)).toEqual([1, 2, 3, 4, 5, 6]);

    // what the later polls sent: the module's Etag (W/<tag>) and Last-Modified, in headers; args empty
    const later = authFor(ch).slice(1);
    expect(later.length).toBeGreaterThanOrEqual(3);
    for (const call of later) {
      expect(call.uri).toMatch(new RegExp(`^/lp/${ch}\\?&tag=&time=&eventid=&_=\\d+$`));
      expect(call.ifNoneMatch).toMatch(/^W\/\d+$/);
      expect(call.ifModifiedSince).toMatch(/^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/);
    }
  });

  it.each([false, true])('longpolling with backtrack on two channels, messagesControlByArgument %s: history once, then live, each message once', async (byArgument) => {
    const a = channel('lpa');
    const b = channel('lpb');
    for (let n = 1; n <= 3; n++) await publish(a, { n });
    await publish(b, { n: 11 });
    const i = await start('longpolling', [[a, { backtrack: 2 }], [b, { backtrack: 1 }]], { messagesControlByArgument: byArgument });
    let log = await waitLog(i, 'history', (l) => l.messages.length >= 3);
    expect(log.messages.map((m) => [m.channel, (m.text as { n: number }).n])).toEqual([[a, 2], [a, 3], [b, 11]]);
    await waitFor('next long poll pending', () => subscribers(a), (n) => n >= 1);
    await publish(a, { n: 4 });
    await publish(b, { n: 5 });
    log = await waitLog(i, 'live messages', (l) => l.messages.length >= 5);
    await publish(a, { n: 6 });
    log = await waitLog(i, 'last message', (l) => l.messages.length >= 6);
    expect(nums(log)).toEqual([2, 3, 11, 4, 5, 6]);

    const calls = authFor(a);
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(calls[0]).toMatchObject({ channels: `${a}.b2/${b}.b1` });
    expect(calls[0].uri).toMatch(new RegExp(`^/lp/${a}\\.b2/${b}\\.b1\\?&tag=&time=&eventid=&_=\\d+$`));
    for (const call of calls.slice(1)) {
      // every later poll is subscribed without the history (.bN): the position decides
      expect(call.channels).toBe(`${a}/${b}`);
      if (byArgument) {
        // pushstream.js drops .bN itself; position in the arguments (time %-encoded, which the module decodes)
        expect(call.uri).toMatch(new RegExp(`^/lp/${a}/${b}\\?&tag=\\d+&time=\\w{3}%2C%20\\d\\d%20\\w{3}%20\\d{4}%20\\d\\d%3A\\d\\d%3A\\d\\d%20GMT&eventid=&_=\\d+$`));
        expect(call.ifModifiedSince).toBeUndefined();
      } else {
        // pushstream.js asks for .b2/.b1 on every poll, position in the headers: the template's /lp/
        // drops the .bN (else the module would answer the history again on every poll)
        expect(call.uri).toMatch(new RegExp(`^/lp/${a}\\.b2/${b}\\.b1\\?&tag=&time=&eventid=&_=\\d+$`));
        expect(call.ifNoneMatch).toMatch(/^W\/\d+$/);
        expect(call.ifModifiedSince).toMatch(/^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/);
      }
    }
  });

  it.each<Mode>(['websocket', 'eventsource', 'longpolling'])('%s: lastEventId (?eventid=) resumes after that event', async (mode) => {
    const ch = channel('eid');
    for (let n = 1; n <= 3; n++) await publish(ch, { n }, { eventId: `${ch}-e${n}` });
    const i = await start(mode, [[ch]], { messagesControlByArgument: true, lastEventId: `${ch}-e1` });
    const log = await waitLog(i, 'messages after e1', (l) => l.messages.length >= 2);
    expect(authFor(ch)[0].uri).toContain(`eventid=${ch}-e1`);
    if (mode !== 'longpolling') {
      // a live message closes the check: nothing else was queued before it
      await publish(ch, { n: 4 });
      await waitLog(i, 'live message', (l) => l.messages.length >= 3);
    }
    expect(nums(await logOf(i))).toEqual(mode === 'longpolling' ? [2, 3] : [2, 3, 4]);
    expect(log.messages.map((m) => m.eventid).slice(0, 2)).toEqual([`${ch}-e2`, `${ch}-e3`]);
  });

  it.each<Mode>(['websocket', 'eventsource', 'longpolling'])('%s: a channel the app forbids (403) gets an error callback and no messages', async (mode) => {
    const ch = channel('forbidden');
    const i = await start(mode, [[ch]]);
    const log = await waitLog(i, 'error callback', (l) => l.errors.length >= 1);
    expect(log.errors[0]).toBe('load'); // pushstream.js: "channel unavailable", next try after 60 s
    expect(log.readyState).toBe(CLOSED);
    expect(authFor(ch).map((a) => a.status)).toEqual([403]);
    // nobody is subscribed, so nobody can get it
    expect((await publish(ch, { n: 1 })).subscribers).toBe(0);
    expect((await logOf(i)).messages).toEqual([]);
  });

  it('longpolling from another origin: pushstream.js switches to JSONP (?callback=), which the template refuses with 403', async () => {
    const other = await browser.newPage();
    other.on('pageerror', (err) => pageErrors.push(err.message));
    try {
      await other.goto(`${appOrigin}/`); // the app's own port: not nginx's origin
      await other.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
      const ch = channel('jsonp');
      const settings = { host: '127.0.0.1', port: nginx.port, modes: 'longpolling', urlPrefixLongpolling: '/lp' };
      const i = await other.evaluate(([s, c]) => (window as unknown as { start(s: unknown, c: unknown): number }).start(s, [[c, {}]]), [settings, ch] as const);
      const log = await waitFor('error callback', () => other.evaluate((n) => (window as unknown as { logOf(n: number): Log }).logOf(n), i), (l) => l.errors.length >= 1);
      await other.evaluate((n) => (window as unknown as { disconnectClient(n: number): void }).disconnectClient(n), i);
      expect(log.errors[0]).toBe('load');
      expect(log.messages).toEqual([]);
      expect(authFor(ch)).toEqual([]); // refused before auth_request: `if ($arg_callback) { return 403; }`
      const accessLog = () => readFile(join(nginx.workDir, 'logs', 'access.log'), 'utf8').catch(() => '');
      const line = await waitFor('the JSONP request in the access log', accessLog, (t) => t.includes(`/lp/${ch}?`));
      expect(line.split('\n').filter((l) => l.includes(`/lp/${ch}?`))).toEqual([
        expect.stringMatching(new RegExp(`"GET /lp/${ch}\\?&tag=&time=&eventid=&callback=PushStreamManager_\\d+_onmessage_\\d+&_=\\d+ HTTP/1\\.1" 403 `)),
      ]);
    } finally {
      await other.close();
    }
  });
});
