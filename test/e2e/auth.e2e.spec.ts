// Subscriber authorization end to end, on both servers: a real nginx with the Push Stream Module or
// Nchan asks a real Nest application (PushStreamModule + express-session) before every
// subscription, over WebSocket and EventSource; and the bounds on the channels anonymous visitors
// can make nginx create (issue: "Anonymous visitors can fill shared memory").
import type { Request } from 'express';
import fc from 'fast-check';
import { randomBytes, randomUUID } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ChannelAuthDecision, ChannelAuthorizer } from '../../lib/auth/channel-authorizer.js';
import type { ChannelRule } from '../../lib/index.js';
import type { PushStreamServerKind } from '../../lib/options/push-stream-options.interface.js';
import { DEFAULT_MAX_CHANNELS_PER_REQUEST } from '../../lib/options/resolve-options.js';
import { NGINX_CONFIG_DIR, NginxTestServer } from '../../lib/testing/index.js';
import {
  type AuthStack,
  expectDeliveredOnlyTo,
  expectReceivedOverBoth,
  nextContaining,
  publishMarker,
  rawAttempt,
  type RawAttempt,
  rawStatus,
  startAuthStack,
  stopAuthStack,
} from '../support/auth-stack.js';
import { eventually, loopbackAddresses } from '../support/e2e-helpers.js';
import { SERVERS } from '../support/servers.js';
import { openEventSource, openWebSocket } from '../support/subscribers.js';

const MAX = DEFAULT_MAX_CHANNELS_PER_REQUEST;
/** The channel cap of the second stack's nginx (the shipped one, 20000, is out of a test's reach). */
const SMALL_CAP = 40;

/** What differs between the two servers, and only that; every test reads it from here. */
interface ServerTraits {
  /** Separator between channel ids in a subscriber URL, as the shipped config sets it. */
  delimiter: string;
  /** A resume request under /ev/ after which an allowed subscriber gets `channel`'s stored messages again. */
  replay(channel: string): string;
  /** `/sub/my-app__all__.b3`: push-stream reads `.bN` as "the last N" (the auth endpoint strips it); Nchan takes it as part of the name, outside the alphabet. */
  backtrackSuffix: 200 | 403;
  /** `?callback=` (JSONP): push-stream would reflect it unescaped, so nginx refuses it itself; Nchan has no JSONP and ignores it. */
  callback: 200 | 403;
  /** The directive of the shipped config that caps the channels subscribers can create. */
  capDirective: RegExp;
  /**
   * nginx's own 403 to a subscriber asking for new channels past the cap (the auth endpoint having
   * allowed it): push-stream explains it in a header; Nchan sends an empty body (its refusals
   * through the auth endpoint carry nginx's error page) and counts from a cached total, so it
   * may let a request or two past the cap first.
   */
  capRefusal: RegExp;
  /** Channels one allowed subscription to `n` new channels creates: Nchan adds one of its own to multiplex them. */
  channelsCreatedBy(n: number): number;
  /**
   * The app publishing to a channel that does not exist yet, past the cap: push-stream's cap counts
   * every channel; Nchan's counts only those subscribers created (accounting on the public listener only).
   */
  appNewChannelAtCap: 'published' | 403;
}

const TRAITS: Record<PushStreamServerKind, ServerTraits> = {
  nchan: {
    delimiter: '/',
    replay: (channel) => `/ev/${channel}?last_event_id=0:0`,
    backtrackSuffix: 403,
    callback: 200,
    capDirective: /nchan_group_max_channels \d+;/g,
    capRefusal: /\r\nContent-Length: 0\r\n/i,
    channelsCreatedBy: (n) => (n > 1 ? n + 1 : n),
    appNewChannelAtCap: 'published',
  },
  'push-stream': {
    delimiter: '/',
    replay: (channel) => `/ev/${channel}.b20`,
    backtrackSuffix: 200,
    callback: 403,
    capDirective: /push_stream_max_number_of_channels \d+;/g,
    capRefusal: /\r\nX-Nginx-PushStream-Explain: Number of channels were exceeded\.\r\n/i,
    channelsCreatedBy: (n) => n,
    appNewChannelAtCap: 403,
  },
};

/** One Nest application with its own nginx (test/support/auth-stack.ts, shared with the fuzzer). */
type Stack = AuthStack;

interface Visitor {
  cookie: string;
  /** The visitor's own `__session__` channel. */
  channel: string;
  /** Page channels the app handed this session (only from `/test/pages/:count`). */
  pages: string[];
}

/** What came back on a raw connection: the status line, and every byte the server ever sent on it. */
const startStack = startAuthStack;
const stopStack = stopAuthStack;

/** The shipped nginx folder with the subscriber channel cap lowered to `cap`. */
async function configWithCap(server: PushStreamServerKind, cap: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'auth-e2e-config-'));
  await cp(NGINX_CONFIG_DIR, dir, { recursive: true });
  const file = join(dir, `${server}.conf.template`);
  const shipped = await readFile(file, 'utf8');
  const lowered = shipped.replace(TRAITS[server].capDirective, (d) => d.replace(/\d+/, String(cap)));
  if (lowered === shipped) throw new Error(`${file} has no ${TRAITS[server].capDirective}`);
  await writeFile(file, lowered);
  return dir;
}

/** The per-address subscription limit the running nginx was given (`limit_req_zone` and `limit_req`). */
async function subscribeLimit(nginx: NginxTestServer): Promise<{ perSecond: number; burst: number }> {
  const conf = await readFile(join(nginx.workDir, 'server.conf'), 'utf8');
  const perSecond = Number(/limit_req_zone \S+ zone=push_subscribers:\S+ rate=(\d+)r\/s;/.exec(conf)?.[1]);
  const bursts = [...conf.matchAll(/limit_req zone=push_subscribers burst=(\d+) nodelay;/g)].map((m) => Number(m[1]));
  // One limit for every subscriber location (/sub/, /ws/, /ev/, /lp/), else the bound below is wrong.
  expect(bursts).toHaveLength(4);
  expect(new Set(bursts).size).toBe(1);
  expect(perSecond).toBeGreaterThan(0);
  return { perSecond, burst: bursts[0] };
}

async function visitor(s: Stack, path: string, cookie?: string): Promise<Visitor> {
  const res = await fetch(`${s.nginx.baseUrl}${path}`, { method: 'POST', headers: cookie ? { cookie } : {} });
  const setCookie = res.headers.get('set-cookie');
  if (res.status !== 201 || !(setCookie || cookie)) throw new Error(`${path}: HTTP ${res.status}, cookie ${setCookie}`);
  const body = (await res.json()) as { session: string; pages?: string[] };
  return { cookie: setCookie ? setCookie.split(';')[0] : cookie!, channel: body.session, pages: body.pages ?? [] };
}

/** Each raw request here is a visitor of its own unless a test floods from one address on purpose. */
const freshAddress = loopbackAddresses(1);

/**
 * One request on its own socket, bytes as given (so raw non-UTF-8 bytes and unusual escapes reach
 * nginx untouched). The socket stays open so that anything sent later would still be seen.
 */
function raw(s: Stack, path: string, headers: Record<string, string> = {}, from = freshAddress()): Promise<RawAttempt> {
  return rawAttempt(s.nginx.port, path, Object.entries(headers), from);
}

const ws = (cookie?: string): Record<string, string> => ({
  upgrade: 'websocket',
  connection: 'Upgrade',
  'sec-websocket-key': randomBytes(16).toString('base64'),
  'sec-websocket-version': '13',
  ...(cookie ? { cookie } : {}),
});
const ev = (cookie?: string): Record<string, string> => ({ accept: 'text/event-stream', ...(cookie ? { cookie } : {}) });
const freshPages = (n: number): string[] => Array.from({ length: n }, () => `my-app__uuid__${randomUUID()}`);


describe.each(SERVERS)('on %s', (server) => {
  const t = TRAITS[server];
  let s: Stack;
  const path = (channels: string[]) => channels.join(t.delimiter);

  beforeAll(async () => {
    s = await startStack(server);
  });

  afterAll(async () => {
    await stopStack(s);
  });

  describe('subscriber authorization through nginx', () => {
    it('anonymous session: gets __all__ and its own __session__ channel, over WebSocket and EventSource', async () => {
      const anon = await visitor(s, '/test/anon');
      await expectReceivedOverBoth(s, anon, [anon.channel, 'my-app__all__']);
    });

    it('anonymous session: refused __authorized__ with 403 before any message, and never gets its messages', async () => {
      const anon = await visitor(s, '/test/anon');
      const alice = await visitor(s, '/test/login/1');
      const refusedWs = await raw(s, '/ws/my-app__authorized__', ws(anon.cookie));
      const refusedEv = await raw(s, '/ev/my-app__authorized__', ev(anon.cookie));
      const noCookie = await raw(s, '/ev/my-app__authorized__', ev());
      expect([refusedWs.status, refusedEv.status, noCookie.status]).toEqual([403, 403, 401]);
      const control = await openEventSource(`${s.nginx.baseUrl}/ev/my-app__authorized__`, { cookie: alice.cookie });
      try {
        await expectDeliveredOnlyTo(s, 'my-app__authorized__', control, [refusedWs, refusedEv, noCookie]);
      } finally {
        await control.close();
        [refusedWs, refusedEv, noCookie].forEach((a) => a.close());
      }
    });

    it('after logging in: gets __authorized__ and its __user__ channel, over WebSocket and EventSource', async () => {
      const alice = await visitor(s, '/test/login/1');
      await expectReceivedOverBoth(s, alice, ['my-app__authorized__', 'my-app__user__1', alice.channel]);
    });

    it('a second session is refused the first session’s channel and user channel, and never gets their messages', async () => {
      const alice = await visitor(s, '/test/login/1');
      const mallory = await visitor(s, '/test/login/2');
      const attempts = [
        await raw(s, `/ws/${alice.channel}`, ws(mallory.cookie)),
        await raw(s, `/ev/${alice.channel}`, ev(mallory.cookie)),
        // One allowed channel does not carry a forbidden one along.
        await raw(s, `/ev/${path(['my-app__all__', alice.channel])}`, ev(mallory.cookie)),
        await raw(s, `/ws/my-app__user__1`, ws(mallory.cookie)),
      ];
      expect(attempts.map((a) => a.status)).toEqual([403, 403, 403, 403]);
      const control = await openWebSocket(`ws://127.0.0.1:${s.nginx.port}/ws/${path([alice.channel, 'my-app__user__1'])}`, { cookie: alice.cookie });
      try {
        await expectDeliveredOnlyTo(s, alice.channel, control, attempts);
        await expectDeliveredOnlyTo(s, 'my-app__user__1', control, attempts);
      } finally {
        await control.close();
        attempts.forEach((a) => a.close());
      }
    });

    it('no resume form of either server replays a forbidden channel’s history', async () => {
      const anon = await visitor(s, '/test/anon');
      const alice = await visitor(s, '/test/login/1');
      const marker = await publishMarker(s, 'my-app__authorized__');
      const since = { 'if-modified-since': 'Thu, 01 Jan 1970 00:00:01 GMT', 'if-none-match': '0', cookie: anon.cookie };
      const attempts = [
        // Nchan's: a message id in the header or the query.
        await raw(s, '/ev/my-app__authorized__', { ...ev(anon.cookie), 'last-event-id': '0:0' }),
        await raw(s, '/ev/my-app__authorized__?last_event_id=0:0', ev(anon.cookie)),
        await raw(s, '/ws/my-app__authorized__?last_event_id=0:0', ws(anon.cookie)),
        await raw(s, '/lp/my-app__authorized__', since),
        // push-stream's: backtrack, tag and time, event id; long polling drops .bN when a position is sent.
        await raw(s, '/ev/my-app__authorized__.b20', ev(anon.cookie)),
        await raw(s, '/ws/my-app__all__/my-app__authorized__.b20', ws(anon.cookie)),
        await raw(s, '/ev/my-app__authorized__?tag=0&time=Thu,%2001%20Jan%201970%2000:00:01%20GMT', ev(anon.cookie)),
        await raw(s, '/ev/my-app__authorized__?eventid=x', ev(anon.cookie)),
        await raw(s, '/lp/my-app__authorized__.b5', since),
        await raw(s, '/lp/my-app__all__.b5%2Fmy-app__authorized__.b5', since),
      ];
      expect(attempts.map((a) => a.status)).toEqual(attempts.map(() => 403));
      // The server's own resume request from an allowed user does replay it: the history was there to leak.
      const replay = await openEventSource(`${s.nginx.baseUrl}${t.replay('my-app__authorized__')}`, { cookie: alice.cookie });
      try {
        await nextContaining(replay, marker);
        for (const a of attempts) {
          await a.settle();
          expect(a.received()).not.toContain(marker);
        }
      } finally {
        await replay.close();
        attempts.forEach((a) => a.close());
      }
    });

    it('leaves the session alone: no Set-Cookie on subscription answers', async () => {
      const alice = await visitor(s, '/test/login/1');
      const allowed = await raw(s, '/ev/my-app__authorized__', ev(alice.cookie));
      const refused = await raw(s, '/ev/my-app__user__2', ev(alice.cookie));
      const anonymous = await raw(s, '/ev/my-app__all__', ev());
      try {
        expect([allowed.status, refused.status, anonymous.status]).toEqual([200, 403, 200]);
        for (const a of [allowed, refused, anonymous]) expect(a.received().toLowerCase()).not.toContain('set-cookie');
      } finally {
        [allowed, refused, anonymous].forEach((a) => a.close());
      }
    });

    it('answers what differs between the servers as the table says: .bN and ?callback=', async () => {
      const anon = await visitor(s, '/test/anon');
      const backtrack = await raw(s, '/sub/my-app__all__.b3', ev(anon.cookie));
      backtrack.close();
      expect(backtrack.status).toBe(t.backtrackSuffix);
      // Malformed suffixes are refused on both: the auth endpoint strips only a whole `.b<digits>`.
      for (const bad of ['my-app__all__.b', 'my-app__all__.bx', 'my-app__all__.b-1', 'my-app__all__.b1.b2', 'my-app__all__.B1']) {
        const attempt = await raw(s, `/sub/${bad}`, ev(anon.cookie));
        attempt.close();
        expect([bad, attempt.status]).toEqual([bad, 403]);
      }
      const callback = await raw(s, '/sub/my-app__all__?callback=alert(document.domain)', ev(anon.cookie));
      try {
        expect(callback.status).toBe(t.callback);
        // Where it is allowed, a message must still arrive without the callback wrapped around it.
        const marker = await publishMarker(s, 'my-app__all__');
        await (callback.status === 200
          ? eventually('marker on the ?callback= stream', async () => callback.received().includes(marker))
          : callback.settle());
        expect(callback.received()).not.toContain('alert(');
      } finally {
        callback.close();
      }
    });
  });

  describe('attacks through nginx: refused with 401/403 (or by nginx itself), never 2xx, never 5xx', () => {
    let anon: Visitor;
    let alice: Visitor;
    let forged: string;

    beforeAll(async () => {
      anon = await visitor(s, '/test/anon');
      alice = await visitor(s, '/test/login/1');
      const token = alice.channel.slice('my-app__session__'.length);
      forged = `my-app__session__${token.slice(0, -1)}${token.endsWith('0') ? '1' : '0'}`;
    });

    const cases: Array<[string, () => string, number[]]> = [
      ['double-encoded separator', () => `/sub/my-app__all__%252F${alice.channel}`, [403]],
      ['encoded separator', () => `/sub/my-app__all__%2F${alice.channel}`, [403]],
      ['%2F inside an id', () => '/sub/my-app__all%2F__', [403]],
      ['backtrack suffix on a forbidden channel', () => '/sub/my-app__authorized__.b10', [403]],
      ['encoded backtrack suffix on a forbidden channel', () => '/sub/my-app__authorized__%2Eb10', [403]],
      ['double-encoded newline (the module decodes again, and its parser would read "\\n" as an end)', () => '/sub/my-app__all__%250A', [403]],
      ['trailing empty segments', () => '/sub/my-app__all__//', [403]],
      ['no channel at all', () => '/sub/', [403]],
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
      ['a page channel in upper case', () => `/sub/my-app__uuid__${randomUUID().toUpperCase()}`, [403]],
      [`${MAX + 1} channels in one URL`, () => `/sub/${Array.from({ length: MAX + 1 }, () => 'my-app__all__').join('/')}`, [403]],
      ['500 channels in one URL', () => `/sub/${Array.from({ length: 500 }, () => 'my-app__all__').join('/')}`, [403]],
      ['an 8 KB URI', () => `/sub/${'my-app__all__'.repeat(620)}`, [403]],
      ['percent-encoded non-UTF-8 byte', () => '/sub/my-app__all__%FF', [403]],
      ['raw non-UTF-8 byte', () => '/sub/my-app__all__\u00ff', [403]],
      ['encoded control character', () => '/sub/my-app__all__%01', [403]],
      ['encoded DEL', () => '/sub/my-app__all__%7F', [403]],
      ['encoded tab', () => '/sub/my-app__all__%09/my-app__authorized__', [403]],
      ['encoded space', () => '/sub/my-app__all__%20/my-app__authorized__', [403]],
      // nginx itself refuses a decoded NUL in the path.
      ['encoded NUL', () => '/sub/my-app__all__%00/my-app__authorized__', [400]],
      ['double-encoded NUL (the module decodes again)', () => '/sub/my-app__all__%2500/my-app__authorized__', [403]],
      ['double-encoded "?" (the module stops decoding there)', () => '/sub/my-app__all__%253F%252Fmy-app__authorized__', [403]],
      ['a lone double-encoded "%"', () => '/sub/my-app__all__%25', [403]],
      ['a broken escape after one decoding', () => '/sub/my-app__all__%25zz/my-app__authorized__', [403]],
      ['an escaped escape of the separator, three times', () => '/sub/my-app__all__%25252F' + 'my-app__authorized__', [403]],
      // The decoded newline stops the `^/sub/(.*)$` location from matching: the app answers 404, nothing subscribes.
      ['encoded CR LF', () => '/sub/my-app__all__%0D%0AX-Push-Stream-Channels:%20my-app__authorized__', [404]],
      ['the auth endpoint asked directly on the public listener (nginx hides it)', () => '/push-stream/auth', [404]],
      ['the auth endpoint with a trailing slash', () => '/push-stream/auth/', [404]],
      ['the auth endpoint in another case (express routes case-insensitively)', () => '/Push-Stream/AUTH', [404]],
      ['the auth endpoint percent-encoded', () => '/push-stream/%61uth', [404]],
    ];

    it.each(cases)('%s', async (_name, uri, expected) => {
      const attempt = await raw(s, uri(), ev(anon.cookie));
      attempt.close();
      expect(expected).toContain(attempt.status);
    });

    it('the client’s own X-Push-Stream-Channels header is not what the auth endpoint reads', async () => {
      const spoofed = { ...ev(anon.cookie), 'x-push-stream-channels': 'my-app__all__' };
      const attempts = [
        await raw(s, '/sub/my-app__authorized__', spoofed),
        await raw(s, `/ws/${alice.channel}`, { ...ws(anon.cookie), 'x-push-stream-channels': 'my-app__all__' }),
        await raw(s, '/sub/', spoofed),
        await raw(s, '/lp/my-app__all__%252Fmy-app__authorized__.b5', { ...spoofed, 'if-modified-since': 'Thu, 01 Jan 1970 00:00:01 GMT' }),
      ];
      attempts.forEach((a) => a.close());
      expect(attempts.map((a) => a.status)).toEqual([403, 403, 403, 403]);
    });

    it('nginx merges a leading empty segment before the module sees it: allowed only because just __all__ is subscribed', async () => {
      // `/sub//my-app__all__` reaches the module (and the header) as `my-app__all__`; nothing else opens.
      const attempt = await raw(s, '/sub//my-app__all__', ev(anon.cookie));
      attempt.close();
      expect(attempt.status).toBe(200);
      const onlyForbidden = await raw(s, `/sub//${alice.channel}`, ev(anon.cookie));
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
        `${victim}.b2`,
        '',
        '%2F',
        '%252F',
        '%25',
        '%2E',
        '..',
        '.',
        `${victim.slice(0, 20)}%2F${victim.slice(20)}`,
        'my-app__all__%00',
      );
      const uri = fc
        .tuple(fc.array(segments, { minLength: 1, maxLength: 5 }), fc.constantFrom('/', '%2F', '//', '%252F'))
        .map(([parts, sep]) => parts.join(sep));
      const subscribers = async (channel: string) => (await s.service.channelInfo(channel))?.subscribers ?? 0;
      let allowed = 0;
      await fc.assert(
        fc.asyncProperty(uri, async (generated) => {
          // A fresh page channel at the end shows when the module has registered an allowed subscriber.
          const probe = `my-app__uuid__${randomUUID()}`;
          const before = { victim: await subscribers(victim), authorized: await subscribers('my-app__authorized__'), user: await subscribers('my-app__user__1') };
          const attempt = await raw(s, `/sub/${generated}/${probe}`, ev(anon.cookie));
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

  describe('the auth request: bounded, and only what nginx vouches for (issue: "Any visitor can turn a subscription into a 500")', () => {
    /** One subscription per transport; `/lp/` only where nginx answers at once (a refusal), since an allowed poll waits. */
    const transports: Array<[string, (cookie?: string) => Record<string, string>]> = [
      ['/sub/', ev],
      ['/ws/', ws],
      ['/ev/', ev],
      ['/lp/', (cookie): Record<string, string> => (cookie ? { cookie } : {})],
    ];
    const bigCookie = (i: number) => `big${i}=${'x'.repeat(8000)}`;
    const uuids = (n: number) => Array.from({ length: n }, () => `my-app__uuid__${randomUUID()}`).join(t.delimiter);

    it('three 8,000-byte cookies, 160 allowed __uuid__ channels, a cookie Node cannot parse: 4xx on every transport, never 5xx, and the app stays healthy', async () => {
      const alice = await visitor(s, '/test/login/1');
      const cases: Array<[string, string, Array<[string, string]>, number]> = [
        // nginx accepts each 8 KB line; joined they are 24 KB, past Node's 16 KiB: nginx refuses first.
        ['three 8,000-byte cookies, the first with a logged-in session', 'my-app__all__', [['cookie', `${alice.cookie}; ${bigCookie(1)}`], ['cookie', bigCookie(2)], ['cookie', bigCookie(3)]], 400],
        // 8 KB of URI, sent once now: the app sees it and refuses more than auth.maxChannelsPerRequest.
        ['160 allowed __uuid__ channels', uuids(160), [], 403],
        ['160 allowed __uuid__ channels and an 8,000-byte cookie', uuids(160), [['cookie', bigCookie(1)]], 400],
        // nginx takes a control character in a header value; Node answers 400, a refusal here.
        ['a cookie with a control character', 'my-app__all__', [['cookie', `${alice.cookie}; junk=a\u0001b`]], 403],
        ['a cookie with DEL', 'my-app__all__', [['cookie', `junk=a\u007fb`]], 403],
      ];
      const answers: Array<[string, string, number]> = [];
      for (const [name, channels, cookies, expected] of cases) {
        for (const [prefix, headers] of transports) {
          const status = await rawStatus(s.nginx.port, `${prefix}${channels}`, [...Object.entries(headers()), ...cookies], freshAddress());
          answers.push([name, prefix, status]);
          expect([name, prefix, status]).toEqual([name, prefix, expected]);
        }
      }
      expect(answers.every(([, , status]) => status >= 400 && status < 500)).toBe(true);
      // The client's other headers stay with nginx: 18 KB of them no longer reach the app.
      const manyHeaders = Array.from({ length: 300 }, (_, i): [string, string] => [`x-filler-${i}`, 'y'.repeat(60)]);
      for (const [prefix, headers] of transports.slice(0, 3)) {
        const status = await rawStatus(s.nginx.port, `${prefix}my-app__all__`, [...Object.entries(headers(alice.cookie)), ...manyHeaders], freshAddress());
        expect([prefix, status]).toEqual([prefix, prefix === '/ws/' ? 101 : 200]);
      }

      // Healthy: no auth request ended in an unexpected status, sessions start, a subscription gets its message.
      expect(await s.nginx.errorLog()).not.toMatch(/auth request unexpected status/);
      const after = await visitor(s, '/test/anon');
      await expectReceivedOverBoth(s, after, [after.channel, 'my-app__all__']);
    });

    it('with the size guard lifted (a config of its own), Node’s 431 still ends in a refusal, not a 500', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'auth-e2e-config-'));
      let unguarded: Stack | undefined;
      try {
        await cp(NGINX_CONFIG_DIR, dir, { recursive: true });
        const file = join(dir, `${server}.conf.template`);
        const shipped = await readFile(file, 'utf8');
        const lifted = shipped.replaceAll('if ($push_stream_auth_too_large) { return 494; }', '');
        expect(lifted).not.toBe(shipped);
        await writeFile(file, lifted);
        unguarded = await startStack(server, { configDir: dir });
        const cookies: Array<[string, string]> = [1, 2, 3].map((i) => ['cookie', bigCookie(i)]);
        for (const [prefix, headers] of transports) {
          const status = await rawStatus(unguarded.nginx.port, `${prefix}my-app__all__`, [...Object.entries(headers()), ...cookies], freshAddress());
          expect([prefix, status]).toEqual([prefix, 403]);
        }
        expect(await unguarded.nginx.errorLog()).not.toMatch(/auth request unexpected status/);
      } finally {
        await stopStack(unguarded);
        await rm(dir, { recursive: true, force: true });
      }
    });

    describe('with express’s `trust proxy` as the sample app sets it, and a rule that records what it sees', () => {
      let trusting: AuthStack;
      const seen = new Map<string, { ip: unknown; protocol: unknown; headers: Record<string, unknown> }>();
      const probeRule: ChannelRule<Request> = {
        kind: 'probe',
        canSubscribe: ({ request, channel }) => {
          seen.set(channel.value, { ip: request.ip, protocol: request.protocol, headers: { ...request.headers } });
          return true;
        },
      };

      beforeAll(async () => {
        trusting = await startAuthStack(server, { trustProxy: ['loopback', 'uniquelocal'], auth: { rules: [probeRule] } });
      });

      afterAll(async () => {
        await stopAuthStack(trusting);
      });

      it('the rule sees nginx’s address and scheme, never the client’s X-Forwarded-For, X-Real-IP, X-Forwarded-Proto or Authorization', async () => {
        const spoofed: Array<[string, string]> = [
          ['x-forwarded-for', '203.0.113.66'],
          ['x-real-ip', '203.0.113.66'],
          ['x-forwarded-proto', 'https'],
          ['x-forwarded-host', 'evil.example'],
          ['forwarded', 'for=203.0.113.66;proto=https'],
          ['authorization', 'Bearer forged'],
          ['x-original-uri', '/sub/my-app__all__'],
        ];
        for (const [prefix, headers] of transports.slice(0, 3)) {
          const from = freshAddress();
          const id = randomUUID().replaceAll('-', '');
          const status = await rawStatus(trusting.nginx.port, `${prefix}my-app__probe__${id}`, [...Object.entries(headers()), ...spoofed], from);
          expect([prefix, status]).toEqual([prefix, prefix === '/ws/' ? 101 : 200]);
          const got = seen.get(id);
          expect(got).toMatchObject({ ip: from, protocol: 'http' });
          // No Connection header: nginx keeps its connections to the app open (upstream keepalive).
          expect(got!.headers).toEqual({
            host: '127.0.0.1',
            'x-push-stream-channels': `my-app__probe__${id}`,
            'x-push-stream-server': server,
            'x-forwarded-for': from,
            'x-forwarded-proto': 'http',
            'x-real-ip': from,
          });
        }
      });
    });
  });

  describe('bounds on the channels anonymous visitors can make nginx create', () => {
    it(`a subscription naming more than ${MAX} channels (auth.maxChannelsPerRequest) is refused with 403 before nginx creates any`, async () => {
      const anon = await visitor(s, '/test/anon');
      const pages = freshPages(MAX + 1);
      const attempts = [
        await raw(s, `/sub/${path(pages)}`, ev(anon.cookie)),
        await raw(s, `/ws/${path(pages)}`, ws(anon.cookie)),
        await raw(s, `/ev/${path(pages)}`, ev(anon.cookie)),
        await raw(s, `/lp/${path(pages)}`, { cookie: anon.cookie }),
        await raw(s, `/lp/${path(pages)}`, {}),
      ];
      attempts.forEach((a) => a.close());
      expect(attempts.map((a) => a.status)).toEqual([403, 403, 403, 403, 403]);
      for (const page of pages) expect(await s.service.channelInfo(page)).toBeNull();
      // Exactly the limit opens, and creates its channels.
      const allowed = await raw(s, `/sub/${path(pages.slice(0, MAX))}`, ev(anon.cookie));
      try {
        expect(allowed.status).toBe(200);
        await eventually('the allowed subscription registered', async () => (await s.service.channelInfo(pages[0]))?.subscribers === 1);
        expect(await s.service.channelInfo(pages[MAX])).toBeNull();
      } finally {
        allowed.close();
      }
    });

    it('a flood of fresh page channels from one address: 403 or 429, never 5xx, a bounded number of channels, and the app still publishes', async () => {
      const limit = await subscribeLimit(s.nginx);
      const listener = await openEventSource(`${s.nginx.baseUrl}/ev/my-app__all__`);
      const from = freshAddress();
      const attempts: RawAttempt[] = [];
      try {
        const channelsBefore = (await s.service.stats()).channels;
        // All at once, as an attacker would: within the per-request limit, and past it.
        const within = Array.from({ length: 100 }, () => path(freshPages(MAX)));
        const tooMany = Array.from({ length: 20 }, () => path(freshPages(MAX + 1)));
        const started = Date.now();
        const answers = await Promise.all([...within, ...tooMany].map((p) => raw(s, `/sub/${p}`, ev(), from)));
        const elapsedSeconds = (Date.now() - started) / 1000;
        attempts.push(...answers);
        const statuses = answers.map((a) => a.status);
        const withinStatuses = new Set(statuses.slice(0, within.length));
        const tooManyStatuses = new Set(statuses.slice(within.length));
        expect([...withinStatuses].every((st) => st === 200 || st === 429)).toBe(true);
        expect([...tooManyStatuses].every((st) => st === 403 || st === 429)).toBe(true);

        // limit_req lets through its burst plus `perSecond` for every second the flood lasted: the
        // bound follows the measured time, so a slow machine loosens it instead of failing.
        const passed = statuses.filter((st) => st !== 429).length;
        const bound = limit.burst + 1 + Math.ceil(limit.perSecond * elapsedSeconds) + 1;
        expect(passed).toBeLessThanOrEqual(bound);
        expect(statuses.filter((st) => st === 429).length).toBeGreaterThanOrEqual(statuses.length - bound);

        // Only the requests that got through made channels, MAX pages each.
        const opened = statuses.filter((st) => st === 200).length;
        expect(opened).toBeGreaterThan(0);
        const channelsAfter = (await s.service.stats()).channels;
        expect(channelsAfter - channelsBefore).toBeLessThanOrEqual(opened * t.channelsCreatedBy(MAX));

        // The app's publishes still go out: to the shared channel, delivered, and to a brand-new one.
        const marker = await publishMarker(s, 'my-app__all__');
        await nextContaining(listener, marker);
        await expect(s.service.publish(s.channels.user(`u${randomUUID()}`), { after: 'flood' })).resolves.toBeDefined();
      } finally {
        attempts.forEach((a) => a.close());
        await listener.close();
      }
    });
  });

  describe('with auth.pageChannels "issued", and a config whose channel cap is small', () => {
    let hardened: Stack;
    let configDir: string;

    beforeAll(async () => {
      configDir = await configWithCap(server, SMALL_CAP);
      hardened = await startStack(server, { auth: { pageChannels: 'issued' }, configDir });
    });

    afterAll(async () => {
      await stopStack(hardened);
      if (configDir) await rm(configDir, { recursive: true, force: true });
    });

    it('a page channel opens only for the session the app handed it to; a fresh UUID is refused before nginx creates it', async () => {
      const owner = await visitor(hardened, '/test/pages/1');
      const [page] = owner.pages;
      expect(page).toMatch(/^my-app__uuid__[0-9a-f-]{36}$/);
      await expectReceivedOverBoth(hardened, owner, [page, 'my-app__all__']);

      const other = await visitor(hardened, '/test/anon');
      const unissued = `my-app__uuid__${randomUUID()}`;
      const attempts = [
        await raw(hardened, `/sub/${page}`, ev(other.cookie)),
        await raw(hardened, `/ws/${page}`, ws(other.cookie)),
        await raw(hardened, `/sub/${unissued}`, ev(owner.cookie)),
        await raw(hardened, `/sub/${unissued}`, ev(other.cookie)),
        await raw(hardened, `/sub/${page}`, ev()),
        await raw(hardened, `/lp/${unissued}`, {}),
      ];
      attempts.forEach((a) => a.close());
      expect(attempts.map((a) => a.status)).toEqual([403, 403, 403, 403, 401, 401]);
      expect(await hardened.service.channelInfo(unissued)).toBeNull();
    });

    it('at the channel cap nginx itself refuses new channels with 403, never 500, and the app still publishes to its channels', async () => {
      const listener = await openEventSource(`${hardened.nginx.baseUrl}/ev/my-app__all__`);
      const held: RawAttempt[] = [];
      let refusal: RawAttempt | undefined;
      // What the auth endpoint decided, to tell its refusals from nginx's own.
      const authorizer = hardened.app.get(ChannelAuthorizer);
      const authorize = authorizer.authorize.bind(authorizer);
      const decisions: ChannelAuthDecision[] = [];
      authorizer.authorize = async (req) => {
        const decision = await authorize(req);
        decisions.push(decision);
        return decision;
      };
      try {
        // Visitors with pages the app really handed out, until the cap is reached.
        for (let i = 0; i < Math.ceil(SMALL_CAP / MAX) + 2 && !refusal; i++) {
          const v = await visitor(hardened, `/test/pages/${MAX}`);
          const attempt = await raw(hardened, `/sub/${path(v.pages)}`, ev(v.cookie));
          if (attempt.status === 200) held.push(attempt);
          else refusal = attempt;
        }
        // Refused by nginx itself: the auth endpoint allowed it, the app had handed out every page.
        expect(refusal?.status).toBe(403);
        expect(decisions.map((d) => d.allowed)).toEqual([...held.map(() => true), true]);
        await refusal!.settle();
        expect(refusal!.received()).toMatch(t.capRefusal);
        expect(held.length).toBeGreaterThan(0);

        const marker = await publishMarker(hardened, 'my-app__all__');
        await nextContaining(listener, marker);
        const fresh = hardened.channels.user(`u${randomUUID()}`);
        const outcome = await hardened.service.publish(fresh, { at: 'cap' }).then(
          () => 'published' as const,
          (err: { status?: number }) => err.status,
        );
        expect(outcome).toBe(t.appNewChannelAtCap);
      } finally {
        authorizer.authorize = authorize;
        refusal?.close();
        held.forEach((a) => a.close());
        await listener.close();
      }
    });
  });
});
