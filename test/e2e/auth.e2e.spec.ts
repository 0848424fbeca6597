// Subscriber authorization end to end: a real nginx with Nchan asks a real Nest application
// (PushStreamModule + express-session) before every subscription, over WebSocket and EventSource.
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Request } from 'express';
import session from 'express-session';
import fc from 'fast-check';
import { randomBytes, randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { PushStreamChannels, PushStreamModule, PushStreamService } from '../../lib/index.js';
import { findFreePort, NginxTestServer } from '../../lib/testing/index.js';
import { eventually } from '../support/e2e-helpers.js';
import { SessionTestController } from '../support/session-test.controller.js';
import { openEventSource, openWebSocket } from '../support/subscribers.js';

const SECRET = 'auth-e2e-secret-0123456789';


interface Visitor {
  cookie: string;
  /** The visitor's own `__session__` channel. */
  channel: string;
}

/** What came back on a raw connection: the status line, and every byte the server ever sent on it. */
interface RawAttempt {
  status: number;
  readonly received: () => string;
  close(): void;
}

let nginx: NginxTestServer;
let app: INestApplication;
let service: PushStreamService;

beforeAll(async () => {
  const pubPort = await findFreePort();
  const moduleRef = await Test.createTestingModule({
    imports: [
      PushStreamModule.forRoot({
        server: 'nchan',
        publisherUrl: `http://127.0.0.1:${pubPort}/pub`,
        secret: SECRET,
        retry: { attempts: 1 },
      }),
    ],
    controllers: [SessionTestController],
  }).compile();
  app = moduleRef.createNestApplication({ logger: false });
  app.use(
    session({
      secret: 'cookie-secret-for-e2e',
      resave: false,
      saveUninitialized: false,
      rolling: false,
      cookie: { maxAge: 3_600_000 },
    }),
  );
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  nginx = await NginxTestServer.start({ server: 'nchan', appUpstream: `127.0.0.1:${port}`, pubPort });
  service = app.get(PushStreamService);
});

afterAll(async () => {
  await nginx?.dispose();
  await app?.close();
});

async function visitor(path: string): Promise<Visitor> {
  const res = await fetch(`${nginx.baseUrl}${path}`, { method: 'POST' });
  const setCookie = res.headers.get('set-cookie');
  if (res.status !== 201 || !setCookie) throw new Error(`${path}: HTTP ${res.status}, cookie ${setCookie}`);
  return { cookie: setCookie.split(';')[0], channel: ((await res.json()) as { session: string }).session };
}

/**
 * One request on its own socket, bytes as given (so raw non-UTF-8 bytes and unusual escapes reach
 * nginx untouched). The socket stays open so that anything sent later would still be seen.
 */
function rawRequest(path: string, headers: Record<string, string> = {}): Promise<RawAttempt> {
  return new Promise((resolve, reject) => {
    const socket = connect(nginx.port, '127.0.0.1');
    let data = Buffer.alloc(0);
    let settled = false;
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const text = data.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      // Settle once the whole header block is in, so header checks see every header.
      if (!settled && m && text.includes('\r\n\r\n')) {
        settled = true;
        resolve({ status: Number(m[1]), received: () => data.toString('latin1'), close: () => socket.destroy() });
      }
    });
    socket.on('error', (err) => (settled ? undefined : reject(err)));
    socket.on('close', () => (settled ? undefined : reject(new Error(`no answer for ${path.slice(0, 80)}`))));
    const head = Object.entries({ host: '127.0.0.1', ...headers })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    socket.write(Buffer.from(`GET ${path} HTTP/1.1\r\n${head}\r\n`, 'latin1'));
  });
}

const ws = (cookie?: string): Record<string, string> => ({
  upgrade: 'websocket',
  connection: 'Upgrade',
  'sec-websocket-key': randomBytes(16).toString('base64'),
  'sec-websocket-version': '13',
  ...(cookie ? { cookie } : {}),
});
const ev = (cookie?: string): Record<string, string> => ({ accept: 'text/event-stream', ...(cookie ? { cookie } : {}) });

/** Publishes a unique marker to `channel` and returns it. */
async function publishMarker(channel: string): Promise<string> {
  const marker = `marker-${randomUUID()}`;
  await service.publish(channel, { marker });
  return marker;
}

/**
 * Reads until a message carries `marker`: WebSocket and EventSource subscribers first get the
 * channel's stored messages, published by earlier tests.
 */
async function nextContaining(sub: { next(): Promise<unknown> }, marker: string): Promise<void> {
  for (;;) {
    const message = await sub.next();
    if (JSON.stringify(message).includes(marker)) return;
  }
}

/** The allowed subscriber's copy proves the message went out; only then is its absence elsewhere meaningful. */
async function expectDeliveredOnlyTo(channel: string, control: { next(): Promise<unknown> }, refused: RawAttempt[]): Promise<void> {
  const marker = await publishMarker(channel);
  await nextContaining(control, marker);
  // Nchan sends to all of a channel's subscribers at once; give loopback a moment to carry a wrong copy.
  await new Promise((r) => setTimeout(r, 50));
  for (const attempt of refused) expect(attempt.received()).not.toContain(marker);
}

/** Subscribes `who` to `channels` over a WebSocket and an EventSource; each must get a message published to each channel. */
async function expectReceivedOverBoth(who: Visitor, channels: string[]): Promise<void> {
  const path = channels.join('/');
  const socket = await openWebSocket(`ws://127.0.0.1:${nginx.port}/ws/${path}`, { cookie: who.cookie });
  const source = await openEventSource(`${nginx.baseUrl}/ev/${path}`, { cookie: who.cookie });
  try {
    for (const channel of channels) {
      const marker = await publishMarker(channel);
      await nextContaining(socket, marker);
      await nextContaining(source, marker);
    }
  } finally {
    await socket.close();
    await source.close();
  }
}

describe('subscriber authorization through nginx + Nchan', () => {
  it('anonymous session: gets __all__ and its own __session__ channel, over WebSocket and EventSource', async () => {
    const anon = await visitor('/test/anon');
    await expectReceivedOverBoth(anon, [anon.channel, 'my-app__all__']);
  });

  it('anonymous session: refused __authorized__ with 403 before any message, and never gets its messages', async () => {
    const anon = await visitor('/test/anon');
    const alice = await visitor('/test/login/1');
    const refusedWs = await rawRequest('/ws/my-app__authorized__', ws(anon.cookie));
    const refusedEv = await rawRequest('/ev/my-app__authorized__', ev(anon.cookie));
    const noCookie = await rawRequest('/ev/my-app__authorized__', ev());
    expect([refusedWs.status, refusedEv.status, noCookie.status]).toEqual([403, 403, 401]);
    const control = await openEventSource(`${nginx.baseUrl}/ev/my-app__authorized__`, { cookie: alice.cookie });
    try {
      await expectDeliveredOnlyTo('my-app__authorized__', control, [refusedWs, refusedEv, noCookie]);
    } finally {
      await control.close();
      [refusedWs, refusedEv, noCookie].forEach((a) => a.close());
    }
  });

  it('after logging in: gets __authorized__ and its __user__ channel, over WebSocket and EventSource', async () => {
    const alice = await visitor('/test/login/1');
    await expectReceivedOverBoth(alice, ['my-app__authorized__', 'my-app__user__1', alice.channel]);
  });

  it('a second session is refused the first session’s channel and user channel, and never gets their messages', async () => {
    const alice = await visitor('/test/login/1');
    const mallory = await visitor('/test/login/2');
    const attempts = [
      await rawRequest(`/ws/${alice.channel}`, ws(mallory.cookie)),
      await rawRequest(`/ev/${alice.channel}`, ev(mallory.cookie)),
      // One allowed channel does not carry a forbidden one along.
      await rawRequest(`/ev/my-app__all__/${alice.channel}`, ev(mallory.cookie)),
      await rawRequest(`/ws/my-app__user__1`, ws(mallory.cookie)),
    ];
    expect(attempts.map((a) => a.status)).toEqual([403, 403, 403, 403]);
    const control = await openWebSocket(`ws://127.0.0.1:${nginx.port}/ws/${alice.channel}/my-app__user__1`, { cookie: alice.cookie });
    try {
      await expectDeliveredOnlyTo(alice.channel, control, attempts);
      await expectDeliveredOnlyTo('my-app__user__1', control, attempts);
    } finally {
      await control.close();
      attempts.forEach((a) => a.close());
    }
  });

  it('resume headers do not replay a forbidden channel’s history', async () => {
    const anon = await visitor('/test/anon');
    const alice = await visitor('/test/login/1');
    const marker = await publishMarker('my-app__authorized__');
    const attempts = [
      await rawRequest('/ev/my-app__authorized__', { ...ev(anon.cookie), 'last-event-id': '0:0' }),
      await rawRequest('/ev/my-app__authorized__?last_event_id=0:0', ev(anon.cookie)),
      await rawRequest('/ws/my-app__authorized__?last_event_id=0:0', ws(anon.cookie)),
      await rawRequest('/lp/my-app__authorized__', { 'if-modified-since': 'Thu, 01 Jan 1970 00:00:01 GMT', 'if-none-match': '0', cookie: anon.cookie }),
    ];
    expect(attempts.map((a) => a.status)).toEqual([403, 403, 403, 403]);
    // The same resume request from an allowed user does replay it: the history was there to leak.
    const replay = await openEventSource(`${nginx.baseUrl}/ev/my-app__authorized__?last_event_id=0:0`, { cookie: alice.cookie });
    try {
      await nextContaining(replay, marker);
      for (const a of attempts) expect(a.received()).not.toContain(marker);
    } finally {
      await replay.close();
      attempts.forEach((a) => a.close());
    }
  });

  it('leaves the session alone: no Set-Cookie on subscription answers', async () => {
    const alice = await visitor('/test/login/1');
    const allowed = await rawRequest('/ev/my-app__authorized__', ev(alice.cookie));
    const refused = await rawRequest('/ev/my-app__user__2', ev(alice.cookie));
    const anonymous = await rawRequest('/ev/my-app__all__', ev());
    try {
      expect([allowed.status, refused.status, anonymous.status]).toEqual([200, 403, 200]);
      for (const a of [allowed, refused, anonymous]) expect(a.received().toLowerCase()).not.toContain('set-cookie');
    } finally {
      [allowed, refused, anonymous].forEach((a) => a.close());
    }
  });
});

describe('attacks through nginx + Nchan: refused with 401/403 (or by nginx itself), never 2xx, never 5xx', () => {
  let anon: Visitor;
  let alice: Visitor;
  let forged: string;

  beforeAll(async () => {
    anon = await visitor('/test/anon');
    alice = await visitor('/test/login/1');
    const token = alice.channel.slice('my-app__session__'.length);
    forged = `my-app__session__${token.slice(0, -1)}${token.endsWith('0') ? '1' : '0'}`;
  });

  const cases: Array<[string, () => string, number[]]> = [
    ['double-encoded separator', () => `/sub/my-app__all__%252F${alice.channel}`, [403]],
    ['encoded separator', () => `/sub/my-app__all__%2F${alice.channel}`, [403]],
    ['%2F inside an id', () => '/sub/my-app__all%2F__', [403]],
    ['backtrack suffix on a forbidden channel', () => '/sub/my-app__authorized__.b10', [403]],
    ['trailing empty segments', () => '/sub/my-app__all__//', [403]],
    ['ALL', () => '/sub/ALL', [403]],
    ['*', () => '/sub/*', [403]],
    ['room*', () => '/sub/room*', [403]],
    ['wildcard next to an allowed channel', () => '/sub/my-app__all__/my-app__room%2A', [403]],
    ['another session’s token', () => `/sub/${alice.channel}`, [403]],
    ['another user’s id', () => '/sub/my-app__user__1', [403]],
    ['forged token', () => `/sub/${forged}`, [403]],
    ['truncated token', () => `/sub/${alice.channel.slice(0, -1)}`, [403]],
    ['wrong prefix', () => '/sub/other-app__all__', [403]],
    ['no prefix', () => '/sub/all', [403]],
    ['unknown kind', () => '/sub/my-app__admin__', [403]],
    ['__all__ with extra characters', () => '/sub/my-app__all__evil', [403]],
    ['500 channels in one URL', () => `/sub/${Array.from({ length: 500 }, () => 'my-app__all__').join('/')}`, [403]],
    ['an 8 KB URI', () => `/sub/${'my-app__all__'.repeat(620)}`, [403]],
    ['percent-encoded non-UTF-8 byte', () => '/sub/my-app__all__%FF', [403]],
    ['raw non-UTF-8 byte', () => '/sub/my-app__all__\u00ff', [403]],
    ['encoded control character', () => '/sub/my-app__all__%01', [403]],
    // The decoded newline stops the `^/sub/(.*)$` location from matching: the app answers 404, nothing subscribes.
    ['encoded CR LF', () => '/sub/my-app__all__%0D%0AX-Push-Stream-Channels:%20my-app__authorized__', [404]],
    ['the auth endpoint asked directly on the public listener (nginx hides it)', () => '/push-stream/auth', [404]],
    ['the auth endpoint with a trailing slash', () => '/push-stream/auth/', [404]],
    ['the auth endpoint in another case (express routes case-insensitively)', () => '/Push-Stream/AUTH', [404]],
    ['the auth endpoint percent-encoded', () => '/push-stream/%61uth', [404]],
  ];

  it.each(cases)('%s', async (_name, path, expected) => {
    const attempt = await rawRequest(path(), ev(anon.cookie));
    attempt.close();
    expect(expected).toContain(attempt.status);
  });

  it('nginx merges a leading empty segment before Nchan sees it: allowed only because just __all__ is subscribed', async () => {
    // `/sub//my-app__all__` reaches Nchan (and the header) as `my-app__all__`; nothing else opens.
    const attempt = await rawRequest('/sub//my-app__all__', ev(anon.cookie));
    attempt.close();
    expect(attempt.status).toBe(200);
    const onlyForbidden = await rawRequest(`/sub//${alice.channel}`, ev(anon.cookie));
    onlyForbidden.close();
    expect(onlyForbidden.status).toBe(403);
  });

  it('property: no generated URI ever subscribes this visitor to a channel it may not read', async () => {
    const victim = alice.channel;
    const segments = fc.constantFrom(
      'my-app__all__',
      anon.channel,
      victim,
      'my-app__authorized__',
      'my-app__user__1',
      'ALL',
      '*',
      'my-app__all__.b3',
      'my-app__authorized__.b1',
      '',
      '%2F',
      '%252F',
      '%25',
      '..',
      '.',
      `${victim.slice(0, 20)}%2F${victim.slice(20)}`,
      'my-app__all__%00',
    );
    const uri = fc
      .tuple(fc.array(segments, { minLength: 1, maxLength: 5 }), fc.constantFrom('/', '%2F', '//', '%252F'))
      .map(([parts, sep]) => parts.join(sep));
    const subscribers = async (channel: string) => (await service.channelInfo(channel))?.subscribers ?? 0;
    let allowed = 0;
    await fc.assert(
      fc.asyncProperty(uri, async (generated) => {
        // A fresh page channel at the end shows when Nchan has registered an allowed subscriber.
        const probe = `my-app__uuid__${randomUUID()}`;
        const before = { victim: await subscribers(victim), authorized: await subscribers('my-app__authorized__'), user: await subscribers('my-app__user__1') };
        const attempt = await rawRequest(`/sub/${generated}/${probe}`, ev(anon.cookie));
        try {
          expect(attempt.status).not.toBeGreaterThanOrEqual(500);
          if (attempt.status !== 200) return;
          allowed += 1;
          await eventually('probe subscriber registered', async () => (await subscribers(probe)) === 1);
          expect(await subscribers(victim)).toBeLessThanOrEqual(before.victim);
          expect(await subscribers('my-app__authorized__')).toBeLessThanOrEqual(before.authorized);
          expect(await subscribers('my-app__user__1')).toBeLessThanOrEqual(before.user);
        } finally {
          attempt.close();
        }
      }),
      { numRuns: 60 },
    );
    expect(allowed).toBeGreaterThan(0);
  });
});
