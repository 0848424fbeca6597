// Ending live subscriptions (issue: "Logout does not end open streams"), on both servers, through a
// real nginx asking a real Nest application (PushStreamModule + express-session):
// - what deleting ONE channel of a multi-channel subscription does, in every transport;
// - PushStreamService.revokeSession / revokeUser after a logout;
// - the lifetime bound of the shipped configs (shortened in a copy), after which the app is asked again.
import { Controller, HttpCode, Post, Req, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Request as ExpressRequest, NextFunction, Response as ExpressResponse } from 'express';
import session from 'express-session';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PushStreamChannels, PushStreamModule, PushStreamService, type RevocationResult } from '../../lib/index.js';
import type { PushStreamServerKind } from '../../lib/options/push-stream-options.interface.js';
import { findFreePort, NGINX_CONFIG_DIR, NginxTestServer } from '../../lib/testing/index.js';
import { eventually, jsonMessages, longPoll } from '../support/e2e-helpers.js';
import { SERVERS } from '../support/servers.js';
import { openEventSource, openWebSocket, type EventSourceSubscriber, type WebSocketSubscriber } from '../support/subscribers.js';

const SECRET = 'revocation-e2e-secret-0123456789';

/** What the two servers do differently, and only that. */
interface ServerTraits {
  /** Deleting one channel closes every connection that named it (else: only that channel goes). */
  deleteClosesConnections: boolean;
  /** The lifetime directive of the shipped server config, as shipped. */
  lifetime: RegExp;
  /** The status a waiting long poll gets when its lifetime ends. */
  longPollExpired: number;
}

const TRAITS: Record<PushStreamServerKind, ServerTraits> = {
  nchan: { deleteClosesConnections: true, lifetime: /^nchan_subscriber_timeout 15m;$/m, longPollExpired: 408 },
  'push-stream': { deleteClosesConnections: false, lifetime: /^push_stream_subscriber_connection_ttl 15m;$/m, longPollExpired: 304 },
};

/** Stands in for an application's login and logout, the way the README says to do it. */
@Controller('rv')
class AccountController {
  constructor(
    private readonly push: PushStreamService,
    private readonly channels: PushStreamChannels,
  ) {}

  @Post('login/:id')
  login(@Req() req: ExpressRequest): { session: string; user: string } {
    const id = String(req.params.id);
    (req.session as unknown as Record<string, unknown>).user = { id };
    return { session: this.channels.session(req.sessionID), user: this.channels.user(id) };
  }

  /** Ends the session first (so that a client subscribing again is refused), then its subscriptions. */
  @Post('logout')
  @HttpCode(200)
  async logout(@Req() req: ExpressRequest): Promise<{ session: RevocationResult; user: RevocationResult }> {
    const sessionId = req.sessionID;
    const user = (req.session as unknown as { user: { id: string } }).user;
    await new Promise<void>((resolve, reject) => req.session.destroy((err: unknown) => (err ? reject(err) : resolve())));
    return { session: await this.push.revokeSession(sessionId), user: await this.push.revokeUser(user.id) };
  }

  /** Logs out without revoking anything: only the lifetime bound ends the subscriptions. */
  @Post('forget')
  @HttpCode(204)
  async forget(@Req() req: ExpressRequest): Promise<void> {
    await new Promise<void>((resolve, reject) => req.session.destroy((err: unknown) => (err ? reject(err) : resolve())));
  }
}

interface Stack {
  app: INestApplication;
  nginx: NginxTestServer;
  push: PushStreamService;
  /** Auth subrequests the app answered. */
  authRequests: () => number;
}

async function startStack(server: PushStreamServerKind, configDir?: string): Promise<Stack> {
  const pubPort = await findFreePort();
  const moduleRef = await Test.createTestingModule({
    imports: [PushStreamModule.forRoot({ server, publisherUrl: `http://127.0.0.1:${pubPort}/pub`, secret: SECRET, retry: { attempts: 1 } })],
    controllers: [AccountController],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  let auths = 0;
  app.use('/push-stream/auth', (_req: ExpressRequest, _res: ExpressResponse, next: NextFunction) => {
    auths += 1;
    next();
  });
  app.use(session({ secret: 'cookie-secret-for-revocation-e2e', resave: false, saveUninitialized: false }));
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  try {
    const nginx = await NginxTestServer.start({ server, appUpstream: `127.0.0.1:${port}`, pubPort, configDir });
    return { app, nginx, push: app.get(PushStreamService), authRequests: () => auths };
  } catch (err) {
    await app.close();
    throw err;
  }
}

async function stopStack(s: Stack | undefined): Promise<void> {
  await s?.nginx.dispose();
  await s?.app.close();
}

interface Login {
  cookie: string;
  session: string;
  user: string;
}

async function login(s: Stack, id: string): Promise<Login> {
  const res = await fetch(`${s.nginx.baseUrl}/rv/login/${id}`, { method: 'POST' });
  const cookie = res.headers.get('set-cookie')?.split(';')[0];
  if (res.status !== 201 || !cookie) throw new Error(`login: HTTP ${res.status}`);
  const body = (await res.json()) as { session: string; user: string };
  return { cookie, ...body };
}

async function post(s: Stack, path: string, cookie: string): Promise<Response> {
  return fetch(`${s.nginx.baseUrl}${path}`, { method: 'POST', headers: { cookie } });
}

/** A stream-mode subscription (/sub/) with request headers, lines consumed in order. */
interface LineStream {
  status: number;
  next(boundMs?: number): Promise<string>;
  /** Resolves once nginx ended the response (the closing marker); rejects after `boundMs`. */
  ended(boundMs?: number): Promise<void>;
  close(): void;
}

async function openLineStream(url: string, headers: Record<string, string>): Promise<LineStream> {
  let req: ClientRequest | undefined;
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    req = request(url, { headers }, resolve);
    req.once('error', reject);
    req.end();
  });
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  let done = false;
  let buffer = '';
  const wake = () => waiters.splice(0).forEach((w) => w());
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    buffer += chunk;
    for (let nl = buffer.indexOf('\n'); nl !== -1; nl = buffer.indexOf('\n')) {
      lines.push(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
    }
    wake();
  });
  res.on('close', () => {
    done = true;
    wake();
  });
  const waitFor = async (what: string, ready: () => boolean, boundMs: number): Promise<void> => {
    const deadline = Date.now() + boundMs;
    while (!ready()) {
      if (Date.now() > deadline) throw new Error(`stream ${url}: no ${what} within ${boundMs} ms`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  };
  return {
    status: res.statusCode ?? 0,
    next: async (boundMs = 5000) => {
      await waitFor('line', () => lines.length > 0 || done, boundMs);
      const line = lines.shift();
      if (line === undefined) throw new Error(`stream ${url} ended`);
      return line;
    },
    ended: (boundMs = 5000) => waitFor('end', () => done, boundMs),
    close: () => {
      req?.destroy();
      res.destroy();
    },
  };
}

/**
 * Waits until nginx holds exactly `n` subscriber connections, by the server-wide count: per-channel
 * counts of multi-channel subscribers are not reliable on Nchan with several workers (it undercounts
 * those held by a worker that does not own the channel), and these tests should not depend on that.
 */
async function connected(s: Stack, n: number): Promise<void> {
  await eventually(`${n} subscriber connection(s)`, async () => (await s.push.stats()).subscribers === n);
}

/**
 * Publishes `text` to `channel` until `sub` receives it (at most 10 times, each wait bounded):
 * Nchan registers a new multi-channel subscription with each channel a moment after the upgrade
 * answered, and a message published before that does not reach it.
 */
async function deliver(s: Stack, channel: string, text: string, sub: WebSocketSubscriber): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    await s.push.publish(channel, text);
    for (;;) {
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(await sub.next(500)) as Record<string, unknown>;
      } catch (err) {
        if (/no WebSocket message/.test((err as Error).message)) break;
        throw err;
      }
      if (msg.channel === channel && msg.text === text) return;
    }
  }
  throw new Error(`${text} never reached the subscriber of ${channel}`);
}

/** Parsed JSON of the next WebSocket message that is not a ping (push-stream pings are id -1). */
async function nextMessage(sub: WebSocketSubscriber): Promise<Record<string, unknown>> {
  for (;;) {
    const msg = JSON.parse(await sub.next()) as Record<string, unknown>;
    if (msg.id !== -1) return msg;
  }
}

/** Reads messages until the connection closes (each wait bounded); what was read, parsed. */
async function untilClosed(sub: WebSocketSubscriber): Promise<unknown[]> {
  const read: unknown[] = [];
  for (let i = 0; i < 100; i++) {
    let text: string;
    try {
      text = await sub.next();
    } catch (err) {
      if (/closed/.test((err as Error).message)) return read;
      throw err;
    }
    read.push(JSON.parse(text));
  }
  throw new Error('still open after 100 messages');
}

async function nextEvent(sub: EventSourceSubscriber): Promise<Record<string, unknown>> {
  for (;;) {
    const msg = JSON.parse((await sub.next()).data) as Record<string, unknown>;
    if (msg.id !== -1) return msg;
  }
}

async function nextLine(sub: LineStream): Promise<Record<string, unknown>> {
  for (;;) {
    const msg = JSON.parse(await sub.next()) as Record<string, unknown>;
    if (msg.id !== -1) return msg;
  }
}

/** What a subscriber reads of a message the library published (Nchan: the envelope; push-stream: the template). */
function published(channel: string, text: unknown) {
  return expect.objectContaining({ channel, text });
}

/** push-stream's notice for a revoked channel (the DELETE body is its text). */
function revokedNotice(channel: string) {
  return expect.objectContaining({ id: -2, channel, text: 'Subscription revoked' });
}

describe.each(SERVERS)('on %s', (server) => {
  const T = TRAITS[server];

  describe('deleting one channel of a multi-channel subscription, in every transport', () => {
    let s: Stack;
    beforeAll(async () => {
      s = await startStack(server);
    });
    afterAll(async () => {
      await stopStack(s);
    });

    it(
      T.deleteClosesConnections
        ? 'closes the whole connection: WebSocket, EventSource and stream end, a waiting long poll gets 410'
        : 'removes only that channel: WebSocket, EventSource and stream get the notice and keep the other channel; a waiting long poll is answered',
      async () => {
        const carol = await login(s, 'carol');
        const authorized = s.push.channels.authorized();
        const path = `${carol.user}/${authorized}`;
        const base = s.nginx.baseUrl;
        const headers = { cookie: carol.cookie };
        const socket = await openWebSocket(`${base.replace(/^http/, 'ws')}/ws/${path}`, headers);
        const events = await openEventSource(`${base}/ev/${path}`, headers);
        const stream = await openLineStream(`${base}/sub/${path}`, headers);
        const poll = longPoll(`${base}/lp/${path}`, headers, 10_000);
        poll.catch(() => undefined); // awaited below
        try {
          expect(stream.status).toBe(200);
          await connected(s, 4);

          const result = await s.push.revokeUser('carol');
          expect(result).toEqual({ channel: carol.user, existed: true, connectionsClosed: T.deleteClosesConnections });

          if (T.deleteClosesConnections) {
            // Nothing in band: the connections just end, as on a reload, so clients subscribe again and are asked.
            await expect(socket.next()).rejects.toThrow(/closed \(1001\)/);
            await expect(events.next()).rejects.toThrow(/closed/);
            await stream.ended();
            expect((await poll).status).toBe(410);
            await connected(s, 0);
          } else {
            expect(await nextMessage(socket)).toEqual(revokedNotice(carol.user));
            expect(await nextEvent(events)).toEqual(revokedNotice(carol.user));
            expect(await nextLine(stream)).toEqual(revokedNotice(carol.user));
            const answer = await poll;
            expect([answer.status, jsonMessages(answer.body)]).toEqual([200, [revokedNotice(carol.user)]]);
            // The three streaming connections are still subscribed to the other channel, and get its messages.
            expect((await s.push.publish(authorized, 'after')).subscribers).toBe(3);
            expect(await nextMessage(socket)).toEqual(published(authorized, 'after'));
            expect(await nextEvent(events)).toEqual(published(authorized, 'after'));
            expect(await nextLine(stream)).toEqual(published(authorized, 'after'));
          }
        } finally {
          await socket.close();
          await events.close();
          stream.close();
        }
      },
    );
  });

  describe('logout with revokeSession + revokeUser', () => {
    let s: Stack;
    beforeAll(async () => {
      s = await startStack(server);
    });
    afterAll(async () => {
      await stopStack(s);
    });

    it(
      T.deleteClosesConnections
        ? "ends the logged-out page's WebSocket (session + user + authorized): nothing published afterwards reaches it, and it cannot subscribe again"
        : "removes the logged-out page's session and user channels at once; its connection keeps __authorized__ until the lifetime bound",
      async () => {
        const carol = await login(s, 'carol');
        const authorized = s.push.channels.authorized();
        const wsUrl = `${s.nginx.baseUrl.replace(/^http/, 'ws')}/ws/${carol.session}/${carol.user}/${authorized}`;
        const page = await openWebSocket(wsUrl, { cookie: carol.cookie });
        try {
          await connected(s, 1);
          await deliver(s, carol.user, 'before', page);

          const res = await post(s, '/rv/logout', carol.cookie);
          expect(res.status).toBe(200);
          const revoked = (await res.json()) as { session: RevocationResult; user: RevocationResult };
          expect(revoked).toEqual({
            session: { channel: carol.session, existed: true, connectionsClosed: T.deleteClosesConnections },
            user: { channel: carol.user, existed: true, connectionsClosed: T.deleteClosesConnections },
          });

          if (T.deleteClosesConnections) {
            // The close is the marker: nothing can arrive on a closed connection.
            await expect(page.next()).rejects.toThrow(/closed/);
            for (const channel of [carol.user, authorized]) await s.push.publish(channel, 'private, after logout');
            expect(page.pending).toEqual([]);
          } else {
            // One notice per deleted channel, in the order deleted; then __authorized__ still flows.
            expect(await nextMessage(page)).toEqual(revokedNotice(carol.session));
            expect(await nextMessage(page)).toEqual(revokedNotice(carol.user));
            expect((await s.push.publish(carol.user, 'to the user, after logout')).subscribers).toBe(0);
            await s.push.publish(authorized, 'to every logged-in user, after logout');
            expect(await nextMessage(page)).toEqual(published(authorized, 'to every logged-in user, after logout'));
          }
          // Subscribing again with the old cookie is refused: the session is gone.
          await expect(openWebSocket(wsUrl, { cookie: carol.cookie })).rejects.toThrow(/HTTP 401/);
        } finally {
          await page.close();
        }
      },
    );

    it("revokeUser: the user's other session, still logged in, is let back in with every channel", async () => {
      const other = await login(s, 'dave');
      const authorized = s.push.channels.authorized();
      const url = `${s.nginx.baseUrl.replace(/^http/, 'ws')}/ws/${other.session}/${other.user}/${authorized}`;
      const page = await openWebSocket(url, { cookie: other.cookie });
      try {
        await connected(s, 1);
        await s.push.revokeUser('dave');
        // Nchan replays the channels' stored messages on join: read past them to the close.
        if (T.deleteClosesConnections) await untilClosed(page);
        else expect(await nextMessage(page)).toEqual(revokedNotice(other.user));
        const again = await openWebSocket(url, { cookie: other.cookie });
        try {
          await connected(s, T.deleteClosesConnections ? 1 : 2);
          await deliver(s, other.user, 'welcome back', again);
        } finally {
          await again.close();
        }
      } finally {
        await page.close();
      }
    });

    it('a channel nobody subscribed to: existed is false', async () => {
      expect(await s.push.revokeUser('nobody-here')).toEqual({
        channel: s.push.channels.user('nobody-here'),
        existed: false,
        connectionsClosed: T.deleteClosesConnections,
      });
    });
  });

  describe('the lifetime bound of the shipped config, shortened to 2 s in a copy', () => {
    let s: Stack;
    let configDir: string;
    beforeAll(async () => {
      configDir = await mkdtemp(join(tmpdir(), 'revocation-e2e-config-'));
      await cp(NGINX_CONFIG_DIR, configDir, { recursive: true });
      const file = join(configDir, `${server}.conf.template`);
      const shipped = await readFile(file, 'utf8');
      expect(shipped).toMatch(T.lifetime);
      await writeFile(file, shipped.replace(T.lifetime, (d) => d.replace('15m', '2s')));
      s = await startStack(server, configDir);
    });
    afterAll(async () => {
      await stopStack(s);
      await rm(configDir, { recursive: true, force: true });
    });

    it('closes every kind of subscriber; subscribing again asks the app, which refuses a session that has ended', async () => {
      const carol = await login(s, 'carol');
      const authorized = s.push.channels.authorized();
      const path = `${carol.user}/${authorized}`;
      const base = s.nginx.baseUrl;
      const headers = { cookie: carol.cookie };
      const socket = await openWebSocket(`${base.replace(/^http/, 'ws')}/ws/${path}`, headers);
      const events = await openEventSource(`${base}/ev/${path}`, headers);
      const stream = await openLineStream(`${base}/sub/${path}`, headers);
      const poll = longPoll(`${base}/lp/${path}`, headers, 10_000);
      poll.catch(() => undefined);
      try {
        await connected(s, 4);
        // Logged out without any revocation: only the lifetime can end these.
        expect((await post(s, '/rv/forget', carol.cookie)).status).toBe(204);
        const asked = s.authRequests();

        // Each ends on its own, after the lifetime (bounds only turn a hang into a failure).
        await expect(socket.next(10_000)).rejects.toThrow(/closed/);
        await expect(events.next(10_000)).rejects.toThrow(/closed/);
        await stream.ended(10_000);
        expect((await poll).status).toBe(T.longPollExpired);

        // The client subscribes again, nginx asks the app, the app refuses.
        await expect(openWebSocket(`${base.replace(/^http/, 'ws')}/ws/${path}`, headers)).rejects.toThrow(/HTTP 401/);
        expect(s.authRequests()).toBe(asked + 1);
      } finally {
        await socket.close();
        await events.close();
        stream.close();
      }
    });
  });
});
