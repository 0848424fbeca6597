// The auth listener (nestjs-push-stream/auth-listener) end to end, on both servers: a real nginx
// whose auth subrequests go to PushStreamAuthListener (`authUpstream`) instead of the app's
// Express endpoint, with the app's express-session store and cookie secret. The same promises as
// test/e2e/auth.e2e.spec.ts (who gets which channel, over WebSocket, EventSource and long poll),
// and that the app's own endpoint is never asked.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type session from 'express-session';
import { ChannelAuthorizer } from '../../lib/auth/channel-authorizer.js';
import type { PushStreamServerKind } from '../../lib/options/push-stream-options.interface.js';
import {
  type AuthStack,
  expectDeliveredOnlyTo,
  expectReceivedOverBoth,
  publishMarker,
  rawAttempt,
  type RawAttempt,
  rawStatus,
  stackVisitor,
  type StackVisitor,
  startAuthStack,
  stopAuthStack,
} from '../support/auth-stack.js';
import { eventually, longPoll, loopbackAddresses } from '../support/e2e-helpers.js';
import { SERVERS } from '../support/servers.js';
import { openEventSource, openWebSocket } from '../support/subscribers.js';

/** Each raw request from an address of its own. */
const freshAddress = loopbackAddresses(3);

/** The session id a `connect.sid=s%3A<id>.<signature>` cookie carries, and its signature. */
function sidOf(cookie: string): { sid: string; signature: string } {
  const value = decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1));
  const dot = value.lastIndexOf('.');
  return { sid: value.slice(2, dot), signature: value.slice(dot + 1) };
}

/** The same id with its signature changed in its last character. */
function tampered(cookie: string): string {
  const { sid, signature } = sidOf(cookie);
  return `connect.sid=${encodeURIComponent(`s:${sid}.${signature.slice(0, -1)}${signature.endsWith('A') ? 'B' : 'A'}`)}`;
}

const wsHeaders = (cookie?: string): Array<[string, string]> => [
  ['upgrade', 'websocket'],
  ['connection', 'Upgrade'],
  ['sec-websocket-key', Buffer.from(randomUUID().slice(0, 16)).toString('base64')],
  ['sec-websocket-version', '13'],
  ...(cookie ? ([['cookie', cookie]] as Array<[string, string]>) : []),
];
const evHeaders = (cookie?: string): Array<[string, string]> => [['accept', 'text/event-stream'], ...(cookie ? ([['cookie', cookie]] as Array<[string, string]>) : [])];
const lpHeaders = (cookie?: string): Array<[string, string]> => (cookie ? [['cookie', cookie]] : []);

describe.each(SERVERS)('auth listener through nginx on %s', (server: PushStreamServerKind) => {
  let s: AuthStack;
  /** Decisions made on the listener's path (authorizeWithSession) and on the Express endpoint's (authorize). */
  const decisions = { listener: 0, endpoint: 0 };

  beforeAll(async () => {
    s = await startAuthStack(server, { authListener: true });
    const authorizer = s.app.get(ChannelAuthorizer);
    const withSession = authorizer.authorizeWithSession.bind(authorizer);
    const authorize = authorizer.authorize.bind(authorizer);
    authorizer.authorizeWithSession = (req, read) => {
      decisions.listener++;
      return withSession(req, read);
    };
    authorizer.authorize = (req) => {
      decisions.endpoint++;
      return authorize(req);
    };
  });

  afterAll(async () => {
    await stopAuthStack(s);
  });

  const visitor = (path: string): Promise<StackVisitor> => stackVisitor(s, path);
  const raw = (prefix: '/ws/' | '/ev/' | '/lp/' | '/sub/', channels: string, cookie?: string): Promise<RawAttempt> => {
    const headers = prefix === '/ws/' ? wsHeaders(cookie) : prefix === '/lp/' ? lpHeaders(cookie) : evHeaders(cookie);
    return rawAttempt(s.nginx.port, `${prefix}${channels}`, headers, freshAddress());
  };


  /** A long poll on `channel` (nothing stored on it yet) is answered with the next message published to it. */
  async function expectLongPollReceives(who: StackVisitor, channel: string): Promise<void> {
    const poll = longPoll(`${s.nginx.baseUrl}/lp/${channel}`, { cookie: who.cookie }, 10_000);
    poll.catch(() => undefined); // awaited below
    await eventually('the long poll registered', async () => ((await s.service.channelInfo(channel))?.subscribers ?? 0) > 0);
    const marker = await publishMarker(s, channel);
    const answer = await poll;
    expect(answer.status).toBe(200);
    expect(answer.body).toContain(marker);
  }

  /** A message published to each channel reaches `control` and none of the `refused`. */
  async function expectNeverDelivered(channels: string[], control: { next(): Promise<unknown> }, refused: RawAttempt[]): Promise<void> {
    for (const channel of channels) await expectDeliveredOnlyTo(s, channel, control, refused);
  }

  it('is what nginx asks: the auth upstream of the running config is the listener’s port, not the app’s', async () => {
    const listenerPort = s.authListener?.address()?.port;
    const appPort = (s.app.getHttpServer().address() as { port: number }).port;
    expect(listenerPort).toBeGreaterThan(0);
    expect(listenerPort).not.toBe(appPort);
    const conf = await readFile(join(s.nginx.workDir, 'server.conf'), 'utf8');
    expect(/upstream push_stream_auth \{\s*([^}]*)\}/.exec(conf)?.[1]).toMatch(new RegExp(`^server 127\\.0\\.0\\.1:${listenerPort};`));
    expect(/upstream push_stream_app \{\s*([^}]*)\}/.exec(conf)?.[1]).toMatch(new RegExp(`^server 127\\.0\\.0\\.1:${appPort};`));
  });

  it('anonymous session: gets __all__ and its own __session__ over WebSocket, EventSource and long poll', async () => {
    const anon = await visitor('/test/anon');
    await expectLongPollReceives(anon, anon.channel);
    await expectReceivedOverBoth(s, anon, [anon.channel, 'my-app__all__']);
  });

  it('anonymous session: refused __authorized__ and another session’s channel with 403, and never gets their messages; 401 without a cookie', async () => {
    const anon = await visitor('/test/anon');
    const alice = await visitor('/test/login/1');
    const attempts = [
      await raw('/ws/', 'my-app__authorized__', anon.cookie),
      await raw('/ev/', 'my-app__authorized__', anon.cookie),
      await raw('/lp/', 'my-app__authorized__', anon.cookie),
      await raw('/ws/', alice.channel, anon.cookie),
      await raw('/ev/', alice.channel, anon.cookie),
      // One allowed channel does not carry a forbidden one along.
      await raw('/ev/', `my-app__all__/${alice.channel}`, anon.cookie),
      await raw('/ev/', 'my-app__authorized__'),
      await raw('/ws/', alice.channel),
      await raw('/lp/', alice.channel),
    ];
    try {
      expect(attempts.map((a) => a.status)).toEqual([403, 403, 403, 403, 403, 403, 401, 401, 401]);
      const control = await openEventSource(`${s.nginx.baseUrl}/ev/my-app__authorized__/${alice.channel}`, { cookie: alice.cookie });
      try {
        await expectNeverDelivered(['my-app__authorized__', alice.channel], control, attempts);
      } finally {
        await control.close();
      }
    } finally {
      attempts.forEach((a) => a.close());
    }
  });

  it('after logging in: gets __authorized__, its __user__ and its __session__ over WebSocket, EventSource and long poll', async () => {
    const bob = await visitor('/test/login/21');
    await expectLongPollReceives(bob, bob.channel);
    await expectReceivedOverBoth(s, bob, ['my-app__authorized__', 'my-app__user__21', bob.channel]);
    // Another logged-in user: not bob's __user__ nor __session__.
    const carol = await visitor('/test/login/22');
    const statuses = [
      await rawStatus(s.nginx.port, '/ev/my-app__user__21', evHeaders(carol.cookie), freshAddress()),
      await rawStatus(s.nginx.port, `/ws/${bob.channel}`, wsHeaders(carol.cookie), freshAddress()),
      await rawStatus(s.nginx.port, '/ws/my-app__authorized__/my-app__user__22', wsHeaders(carol.cookie), freshAddress()),
    ];
    expect(statuses).toEqual([403, 403, 101]);
  });

  it('a tampered cookie is no session: refused its channels (401), and never gets their messages; __all__ still opens', async () => {
    const dave = await visitor('/test/login/31');
    const forged = tampered(dave.cookie);
    expect(forged).not.toBe(dave.cookie);
    const attempts = [
      await raw('/ev/', dave.channel, forged),
      await raw('/ws/', 'my-app__user__31', forged),
      await raw('/lp/', 'my-app__authorized__', forged),
    ];
    try {
      expect(attempts.map((a) => a.status)).toEqual([401, 401, 401]);
      expect(await rawStatus(s.nginx.port, '/ev/my-app__all__', evHeaders(forged), freshAddress())).toBe(200);
      const control = await openWebSocket(`ws://127.0.0.1:${s.nginx.port}/ws/${dave.channel}/my-app__user__31`, { cookie: dave.cookie });
      try {
        await expectNeverDelivered([dave.channel, 'my-app__user__31'], control, attempts);
      } finally {
        await control.close();
      }
    } finally {
      attempts.forEach((a) => a.close());
    }
  });

  it('after the session is destroyed (logout), its old cookie is refused', async () => {
    const erin = await visitor('/test/login/41');
    const channels = `my-app__authorized__/my-app__user__41/${erin.channel}`;
    // Allowed while the session exists: the refusal below is the destroy's doing.
    expect(await rawStatus(s.nginx.port, `/ev/${channels}`, evHeaders(erin.cookie), freshAddress())).toBe(200);
    await new Promise<void>((resolve, reject) => s.store.destroy(sidOf(erin.cookie).sid, (err?: unknown) => (err ? reject(err) : resolve())));
    const statuses = [
      await rawStatus(s.nginx.port, `/ev/${channels}`, evHeaders(erin.cookie), freshAddress()),
      await rawStatus(s.nginx.port, `/ws/${erin.channel}`, wsHeaders(erin.cookie), freshAddress()),
      await rawStatus(s.nginx.port, '/lp/my-app__user__41', lpHeaders(erin.cookie), freshAddress()),
    ];
    expect(statuses).toEqual([401, 401, 401]);
  });

  // Not a refusal: nginx answers 500 (auth_request's answer to the listener's 503), which the
  // browser client retries, where 401/403 would end it `denied`.
  it('a failing session store: 500 through nginx (never 2xx, 401 or 403) while it fails, and answers as before once it recovers', async () => {
    const frank = await visitor('/test/login/51');
    const channels = `my-app__authorized__/${frank.channel}`;
    const store = s.store as session.MemoryStore;
    const get = store.get;
    let failing = true;
    let failedReads = 0;
    store.get = function (this: session.MemoryStore, sid, callback) {
      if (!failing) return get.call(this, sid, callback);
      failedReads++;
      setImmediate(() => callback(new Error('session store down')));
    };
    try {
      const during = [
        await rawStatus(s.nginx.port, `/ev/${channels}`, evHeaders(frank.cookie), freshAddress()),
        await rawStatus(s.nginx.port, `/ws/${channels}`, wsHeaders(frank.cookie), freshAddress()),
        await rawStatus(s.nginx.port, `/lp/${channels}`, lpHeaders(frank.cookie), freshAddress()),
        // A public channel: with a cookie the session is read (and fails); without one it is not.
        await rawStatus(s.nginx.port, '/ev/my-app__all__', evHeaders(frank.cookie), freshAddress()),
        await rawStatus(s.nginx.port, '/ev/my-app__all__', evHeaders(), freshAddress()),
      ];
      expect(during).toEqual([500, 500, 500, 500, 200]);
      expect(failedReads).toBe(4);
    } finally {
      failing = false;
    }
    expect(await s.nginx.errorLog()).toMatch(/auth request unexpected status: 503/);
    const after = [
      await rawStatus(s.nginx.port, `/ev/${channels}`, evHeaders(frank.cookie), freshAddress()),
      await rawStatus(s.nginx.port, `/ws/${channels}`, wsHeaders(frank.cookie), freshAddress()),
    ];
    expect(after).toEqual([200, 101]);
    store.get = get;
  });

  it('the app’s Express endpoint is never asked: every decision was the listener’s (and the counters count)', async () => {
    const grace = await visitor('/test/login/61');
    const listenerBefore = decisions.listener;
    await expectReceivedOverBoth(s, grace, ['my-app__all__', 'my-app__user__61']);
    expect(await rawStatus(s.nginx.port, `/ev/${grace.channel}`, evHeaders(), freshAddress())).toBe(401);
    expect(decisions.listener).toBe(listenerBefore + 3);
    // Over the whole suite: nothing reached the app's auth route, nor its ChannelAuthGuard.
    expect(s.appAuthRequests()).toBe(0);
    expect(decisions.endpoint).toBe(0);
    expect(decisions.listener).toBeGreaterThan(3);

    // The negative control: a request to the app's own endpoint is counted by both.
    const { port } = s.app.getHttpServer().address() as { port: number };
    const res = await fetch(`http://127.0.0.1:${port}/push-stream/auth`, { headers: { 'x-push-stream-channels': 'my-app__all__' } });
    expect(res.status).toBe(204);
    expect(s.appAuthRequests()).toBe(1);
    expect(decisions.endpoint).toBe(1);
  });
});
