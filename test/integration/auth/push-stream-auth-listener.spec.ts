// PushStreamAuthListener (nestjs-push-stream/auth-listener) on real sockets, without nginx: a Nest
// application with PushStreamModule, express-session and the test login routes, and the listener
// beside it on a port of its own reading the same MemoryStore with the same cookie secret. Requests
// go straight to the listener as nginx's auth subrequest would send them (X-Push-Stream-Channels
// and the visitor's Cookie), and the same requests to the app's own Express endpoint
// (`/push-stream/auth`) must get the same answers.
import { type DynamicModule, Global, type INestApplication, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { sign } from 'cookie-signature';
import session from 'express-session';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import {
  PushStreamAuthListener,
  PushStreamAuthListenerModule,
  type PushStreamAuthListenerOptions,
  PushStreamSessionReader,
  type ReadSession,
} from '../../../lib/auth-listener/index.js';
import { PushStreamConfigError, PushStreamError } from '../../../lib/errors/push-stream.exception.js';
import {
  type AuthorizationEvent,
  PushStreamChannels,
  PushStreamModule,
  PushStreamObserver,
  type PublishEvent,
} from '../../../lib/index.js';
import type { PushStreamServerKind } from '../../../lib/options/push-stream-options.interface.js';
import { DEFAULT_MAX_CHANNELS_PER_REQUEST } from '../../../lib/options/resolve-options.js';
import { eventually } from '../../support/e2e-helpers.js';
import { SessionTestController } from '../../support/session-test.controller.js';

const SECRET = 'listener-spec-secret-0123456789';
const COOKIE_SECRET = 'listener-spec-cookie-secret';
const CHANNELS = 'x-push-stream-channels';
/** Safety bound on a wait for a socket event: turns a hang into a clear failure. */
const BOUND_MS = 10_000;

/** Records what ChannelAuthorizer reports, wherever it decided (the listener or the Express endpoint). */
class RecordingObserver extends PushStreamObserver {
  readonly decisions: AuthorizationEvent[] = [];
  published(_event: PublishEvent): void {}
  authorized(event: AuthorizationEvent): void {
    this.decisions.push(event);
  }
}

@Global()
@Module({ providers: [{ provide: PushStreamObserver, useClass: RecordingObserver }], exports: [PushStreamObserver] })
class ObserverModule {}

/** Counts the store's writes; the listener must never make one. */
interface StoreWrites {
  set: number;
  touch: number;
  destroy: number;
}

function countWrites(store: session.MemoryStore): StoreWrites {
  const writes: StoreWrites = { set: 0, touch: 0, destroy: 0 };
  for (const method of ['set', 'touch', 'destroy'] as const) {
    const original = (store[method] as (...args: unknown[]) => void).bind(store);
    (store as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      writes[method]++;
      return original(...args);
    };
  }
  return writes;
}

interface Harness {
  app: INestApplication;
  /** The app's own port: express-session, the login routes and the Express auth endpoint. */
  appBase: string;
  /** The auth listener's. */
  listenerBase: string;
  listener: PushStreamAuthListener;
  store: session.MemoryStore;
  writes: StoreWrites;
  observer: RecordingObserver;
  channels: PushStreamChannels;
}

function pushStreamModule(server: PushStreamServerKind = 'push-stream'): DynamicModule {
  return PushStreamModule.forRoot({ server, publisherUrl: 'http://127.0.0.1:1/pub', secret: SECRET, retry: { attempts: 1 } });
}

/**
 * The application and its listener. `listenerModule` builds the listener's module from the shared
 * store; default `forRoot({ port: 0, session: { store, secret } })`.
 */
async function startHarness(
  options: { server?: PushStreamServerKind; listenerModule?: (store: session.MemoryStore) => DynamicModule } = {},
): Promise<Harness> {
  const store = new session.MemoryStore();
  const listenerModule = options.listenerModule ?? ((s) => PushStreamAuthListenerModule.forRoot({ port: 0, session: { store: s, secret: COOKIE_SECRET } }));
  const moduleRef = await Test.createTestingModule({
    imports: [ObserverModule, pushStreamModule(options.server), listenerModule(store)],
    controllers: [SessionTestController],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  app.use(session({ store, secret: COOKIE_SECRET, resave: false, saveUninitialized: false, rolling: false, cookie: { maxAge: 3_600_000 } }));
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  const listener = app.get(PushStreamAuthListener);
  const bound = listener.address();
  if (!bound) throw new Error('the auth listener is not listening after app.listen');
  return {
    app,
    appBase: `http://127.0.0.1:${port}`,
    listenerBase: `http://127.0.0.1:${bound.port}`,
    listener,
    store,
    writes: countWrites(store),
    observer: app.get(PushStreamObserver) as RecordingObserver,
    channels: app.get(PushStreamChannels),
  };
}

interface Visitor {
  cookie: string;
  sid: string;
  /** Its `__session__` channel. */
  channel: string;
}

/** A session started with one of SessionTestController's routes on the app (`/test/anon`, `/test/login/1`). */
async function visitor(h: Harness, path: string): Promise<Visitor> {
  const res = await fetch(`${h.appBase}${path}`, { method: 'POST' });
  const setCookie = res.headers.get('set-cookie');
  if (res.status !== 201 || !setCookie) throw new Error(`${path}: HTTP ${res.status}, cookie ${setCookie}`);
  const cookie = setCookie.split(';')[0];
  const sid = decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1)).slice(2).split('.')[0];
  return { cookie, sid, channel: ((await res.json()) as { session: string }).session };
}

interface Answer {
  status: number;
  headers: Headers;
  body: string;
}

/** One auth request as nginx sends it: the channels header (when given) and the visitor's Cookie. */
async function ask(base: string, channels: string | undefined, cookie?: string, path = '/push-stream/auth'): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (channels !== undefined) headers[CHANNELS] = channels;
  if (cookie !== undefined) headers.cookie = cookie;
  const res = await fetch(`${base}${path}`, { headers });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

function storeGet(store: session.MemoryStore, sid: string): Promise<session.SessionData | null | undefined> {
  return new Promise((resolve, reject) => store.get(sid, (err, sess) => (err ? reject(err) : resolve(sess))));
}

/** MemoryStore's own table (not in its typings). */
function sessionsOf(store: session.MemoryStore): Record<string, string> {
  return (store as unknown as { sessions: Record<string, string> }).sessions;
}

function storeCall(fn: (cb: (err?: unknown) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => fn((err) => (err ? reject(err) : resolve())));
}

/** `promise`, or a failure saying `what` did not happen within BOUND_MS (a safety bound, not a timed assertion). */
function bounded<T>(promise: Promise<T>, what: string, boundMs = BOUND_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_r, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${boundMs} ms`)), boundMs);
  });
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

/** The error starting an application with `listenerModule` beside PushStreamModule ends in, or undefined when it started. */
async function startupError(listenerModule: DynamicModule, withPushStream = true): Promise<unknown> {
  let app: INestApplication | undefined;
  try {
    const moduleRef = await Test.createTestingModule({ imports: [...(withPushStream ? [pushStreamModule()] : []), listenerModule] })
      .setLogger({ log() {}, error() {}, warn() {} })
      .compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    return undefined;
  } catch (err) {
    return err;
  } finally {
    await app?.close().catch(() => undefined);
  }
}

describe('PushStreamAuthListener, straight on its socket', () => {
  let h: Harness;
  let anon: Visitor;
  let alice: Visitor;

  beforeAll(async () => {
    h = await startHarness();
    anon = await visitor(h, '/test/anon');
    alice = await visitor(h, '/test/login/1');
  });

  afterAll(async () => {
    await h?.app.close();
  });

  it('starts with the application, on the port it was given (0: a free one), on loopback by default', () => {
    const address = h.listener.address();
    expect(address).toEqual({ host: '127.0.0.1', port: expect.any(Number) });
    expect(address!.port).toBeGreaterThan(0);
    expect(`http://127.0.0.1:${address!.port}`).not.toBe(h.appBase);
  });

  it('answers 204 for the session’s own channel and __all__, with no body and cache-control: no-store', async () => {
    for (const channels of ['my-app__all__', anon.channel, `my-app__all__/${anon.channel}`]) {
      const res = await ask(h.listenerBase, channels, anon.cookie);
      expect([channels, res.status, res.body, res.headers.get('cache-control')]).toEqual([channels, 204, '', 'no-store']);
    }
  });

  it('answers 403 for another session’s channel, 401 without a cookie for a channel that needs a session, each with cache-control: no-store', async () => {
    const refusals: Array<[string, string, string | undefined, number]> = [
      ['another session’s channel', alice.channel, anon.cookie, 403],
      ['__authorized__ for an anonymous session', 'my-app__authorized__', anon.cookie, 403],
      ['a session channel without a cookie', anon.channel, undefined, 401],
      ['__authorized__ without a cookie', 'my-app__authorized__', undefined, 401],
    ];
    for (const [what, channels, cookie, status] of refusals) {
      const res = await ask(h.listenerBase, channels, cookie);
      expect([what, res.status, res.body, res.headers.get('cache-control'), res.headers.get('content-length')]).toEqual([what, status, '', 'no-store', '0']);
    }
  });

  it('answers 404 (no-store, no decision made) on every other path, and takes a query string on its own', async () => {
    const before = h.observer.decisions.length;
    for (const path of ['/', '/push-stream/auth/', '/push-stream/auth/x', '/push-stream/AUTH', '/push-stream', '/push-stream/authx', '//push-stream/auth']) {
      const res = await ask(h.listenerBase, 'my-app__all__', anon.cookie, path);
      expect([path, res.status, res.headers.get('cache-control')]).toEqual([path, 404, 'no-store']);
    }
    expect(h.observer.decisions.length).toBe(before);
    expect((await ask(h.listenerBase, 'my-app__all__', undefined, '/push-stream/auth?x=1')).status).toBe(204);
  });

  it('never writes the store (no set, touch or destroy) and never sends Set-Cookie, whatever it answers', async () => {
    const writesBefore = { ...h.writes };
    const sessionsBefore = Object.keys(sessionsOf(h.store)).sort();
    const expiryBefore = (await storeGet(h.store, alice.sid))?.cookie.expires;
    const asked: Array<[string | undefined, string | undefined]> = [
      ['my-app__all__', undefined],
      ['my-app__all__', anon.cookie],
      [anon.channel, anon.cookie],
      [`my-app__authorized__/my-app__user__1/${alice.channel}`, alice.cookie],
      [alice.channel, anon.cookie],
      [anon.channel, undefined],
      ['ALL', alice.cookie],
      [undefined, alice.cookie],
    ];
    const statuses: number[] = [];
    for (const [channels, cookie] of asked) {
      const res = await ask(h.listenerBase, channels, cookie);
      statuses.push(res.status);
      expect(res.headers.get('set-cookie')).toBeNull();
    }
    // The requests did reach decisions of every kind, with and without a stored session.
    expect(statuses).toEqual([204, 204, 204, 204, 403, 401, 403, 403]);
    expect(h.writes).toEqual(writesBefore);
    expect(Object.keys(sessionsOf(h.store)).sort()).toEqual(sessionsBefore);
    expect((await storeGet(h.store, alice.sid))?.cookie.expires).toEqual(expiryBefore);

    // The counters count: the app's login route does write.
    await visitor(h, '/test/anon');
    expect(h.writes.set).toBeGreaterThan(writesBefore.set);
  });

  it('subscriptions of one session arriving together share one store read; after a logout the next one is refused', async () => {
    const bob = await visitor(h, '/test/login/2');
    const together = 12;
    const port = h.listener.address()!.port;
    // Each read of bob's session is held until every request has reached the listener, so that
    // they are all in flight together (as a page's channels or its tabs reconnecting are).
    let arrived = 0;
    const held: Array<() => void> = [];
    const onArrival = ({ socket }: { socket: Socket }) => {
      if (socket.localPort !== port || ++arrived < together) return;
      for (const release of held.splice(0)) release();
    };
    const get = h.store.get.bind(h.store);
    let reads = 0;
    h.store.get = (sid, callback) => {
      if (sid !== bob.sid) return get(sid, callback);
      reads++;
      if (arrived >= together) return get(sid, callback);
      held.push(() => get(sid, callback));
    };
    subscribe('http.server.request.start', onArrival as (message: unknown) => void);
    try {
      const answers = await bounded(
        Promise.all(Array.from({ length: together }, () => ask(h.listenerBase, `my-app__authorized__/${bob.channel}`, bob.cookie))),
        'answers to the requests in flight together',
      );
      expect(answers.map((a) => a.status)).toEqual(Array(together).fill(204));
      // One read each without sharing; with it, one per 100 ms the arrivals span (one or two,
      // a few on a loaded machine): half as many as requests is far from either.
      expect(reads).toBeGreaterThanOrEqual(1);
      expect(reads).toBeLessThanOrEqual(together / 2);

      // Nothing is kept: the first subscription after the session is destroyed reads it again: 401, no session.
      await storeCall((cb) => h.store.destroy(bob.sid, cb));
      const readsBefore = reads;
      expect((await ask(h.listenerBase, bob.channel, bob.cookie)).status).toBe(401);
      expect(reads).toBe(readsBefore + 1);
    } finally {
      unsubscribe('http.server.request.start', onArrival as (message: unknown) => void);
      h.store.get = get;
      // Answer whatever is still held (a failure above), so that no request stays open.
      for (const release of held.splice(0)) release();
    }
  });

  it('keeps the connection alive: several answers (204, 401, 403, 404) over one socket', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<unknown>();
    const reused: boolean[] = [];
    const get = (path: string, headers: Record<string, string>) =>
      new Promise<{ status: number; headers: IncomingHttpHeaders }>((resolve, reject) => {
        const req = request(`${h.listenerBase}${path}`, { agent, headers }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
        });
        req.on('socket', (socket) => sockets.add(socket));
        req.on('error', reject);
        req.on('finish', () => reused.push(req.reusedSocket));
        req.end();
      });
    try {
      const answers = [];
      answers.push(await get('/push-stream/auth', { [CHANNELS]: 'my-app__all__' }));
      answers.push(await get('/push-stream/auth', { [CHANNELS]: anon.channel }));
      answers.push(await get('/push-stream/auth', { [CHANNELS]: alice.channel, cookie: anon.cookie }));
      answers.push(await get('/elsewhere', {}));
      answers.push(await get('/push-stream/auth', { [CHANNELS]: anon.channel, cookie: anon.cookie }));
      expect(answers.map((a) => a.status)).toEqual([204, 401, 403, 404, 204]);
      expect(answers.map((a) => a.headers.connection)).toEqual(Array(5).fill('keep-alive'));
      expect(sockets.size).toBe(1);
      expect(reused).toEqual([false, true, true, true, true]);
    } finally {
      agent.destroy();
    }
  });

  it('reports its decisions to the application’s PushStreamObserver, once per request, as the Express endpoint does', async () => {
    const before = h.observer.decisions.length;
    await ask(h.listenerBase, `my-app__all__/${anon.channel}`, anon.cookie);
    await ask(h.listenerBase, alice.channel, anon.cookie);
    await ask(h.listenerBase, 'my-app__nokind__x', anon.cookie);
    const fromListener = h.observer.decisions.slice(before);
    expect(fromListener).toEqual([
      { allowed: true, kinds: ['all', 'session'] },
      { allowed: false, kinds: ['session'] },
      { allowed: false, kinds: [] },
    ]);
    await ask(h.appBase, `my-app__all__/${anon.channel}`, anon.cookie);
    await ask(h.appBase, alice.channel, anon.cookie);
    await ask(h.appBase, 'my-app__nokind__x', anon.cookie);
    expect(h.observer.decisions.slice(before + 3)).toEqual(fromListener);
  });
});

describe.each(['push-stream', 'nchan'] as PushStreamServerKind[])('the listener and the app’s Express endpoint give the same answers (on %s)', (server) => {
  let h: Harness;
  const cases: Array<{ what: string; channels: string | undefined; cookie: string | undefined; expected: 204 | 401 | 403 }> = [];

  beforeAll(async () => {
    h = await startHarness({ server });
    const anon = await visitor(h, '/test/anon');
    const alice = await visitor(h, '/test/login/1');
    const mallory = await visitor(h, '/test/login/2');
    const destroyed = await visitor(h, '/test/login/3');
    await storeCall((cb) => h.store.destroy(destroyed.sid, cb));
    const expired = await visitor(h, '/test/anon');
    const stored = (await storeGet(h.store, expired.sid))!;
    stored.cookie.expires = new Date(Date.now() - 60_000);
    await storeCall((cb) => h.store.set(expired.sid, stored, cb));

    const signature = sign(alice.sid, COOKIE_SECRET).slice(alice.sid.length + 1);
    const flipped = `${signature.slice(0, -1)}${signature.endsWith('A') ? 'B' : 'A'}`;
    const tampered = `connect.sid=${encodeURIComponent(`s:${alice.sid}.${flipped}`)}`;
    const otherSecret = `connect.sid=${encodeURIComponent(`s:${sign(alice.sid, 'not-the-cookie-secret')}`)}`;
    const unsigned = `connect.sid=${alice.sid}`;
    const anonValue = anon.cookie.slice(anon.cookie.indexOf('=') + 1);
    const uuid = randomUUID();
    const many = Array.from({ length: DEFAULT_MAX_CHANNELS_PER_REQUEST + 1 }, () => `my-app__uuid__${randomUUID()}`).join('/');
    const add = (what: string, channels: string | undefined, cookie: string | undefined, expected: 204 | 401 | 403) =>
      cases.push({ what, channels, cookie, expected });

    add('__all__, no cookie', 'my-app__all__', undefined, 204);
    add('__all__, anonymous', 'my-app__all__', anon.cookie, 204);
    add('own __session__, anonymous', anon.channel, anon.cookie, 204);
    add('__all__ and own __session__', `my-app__all__/${anon.channel}`, anon.cookie, 204);
    add('own __session__, the cookie quoted', anon.channel, `connect.sid="${anonValue}"`, 204);
    add('own __session__, among other cookies', anon.channel, `a=1; ${anon.cookie}; b=2`, 204);
    add('__session__, no cookie', anon.channel, undefined, 401);
    add('another session’s __session__', anon.channel, alice.cookie, 403);
    add('another user’s __session__', alice.channel, mallory.cookie, 403);
    add('__all__ and another’s __session__', `my-app__all__/${alice.channel}`, mallory.cookie, 403);
    add('__authorized__, no cookie', 'my-app__authorized__', undefined, 401);
    add('__authorized__, anonymous', 'my-app__authorized__', anon.cookie, 403);
    add('__authorized__, __user__ and own __session__, logged in', `my-app__authorized__/my-app__user__1/${alice.channel}`, alice.cookie, 204);
    add('another user’s __user__', 'my-app__user__1', mallory.cookie, 403);
    add('__user__, no cookie', 'my-app__user__1', undefined, 401);
    add('__session__, a tampered signature', alice.channel, tampered, 401);
    add('__authorized__, a tampered signature', 'my-app__authorized__', tampered, 401);
    add('__session__, signed under another secret', alice.channel, otherSecret, 401);
    add('__session__, an unsigned id', alice.channel, unsigned, 401);
    add('__session__, the session destroyed', destroyed.channel, destroyed.cookie, 401);
    add('__user__, the session destroyed', 'my-app__user__3', destroyed.cookie, 401);
    add('__session__, the session expired', expired.channel, expired.cookie, 401);
    add('__session__, a forged cookie before a valid one', anon.channel, `${tampered}; ${anon.cookie}`, 401);
    add('__session__, a valid cookie before a forged one', anon.channel, `${anon.cookie}; ${tampered}`, 204);
    add('__session__, the signed value under another cookie name', anon.channel, `other.sid=${anonValue}`, 401);
    add('__uuid__, lower case', `my-app__uuid__${uuid}`, undefined, 204);
    add('__uuid__, upper case', `my-app__uuid__${uuid.toUpperCase()}`, undefined, 403);
    add('no channels header', undefined, alice.cookie, 403);
    for (const bad of ['', '/', 'my-app__all__//', '%', 'ALL', '*', 'my-app__all__evil', 'other-app__all__', 'my-app__nokind__x', 'my-app__all__%252Fx']) {
      add(`malformed ${JSON.stringify(bad)}`, bad, alice.cookie, 403);
    }
    add(`${DEFAULT_MAX_CHANNELS_PER_REQUEST + 1} channels`, many, undefined, 403);
  });

  afterAll(async () => {
    await h?.app.close();
  });

  it('every case of the table: the same status from both, the expected one', async () => {
    const writesBefore = { ...h.writes };
    const rows: Array<[string, number, number]> = [];
    for (const c of cases) {
      const fromListener = await ask(h.listenerBase, c.channels, c.cookie);
      const fromApp = await ask(h.appBase, c.channels, c.cookie);
      rows.push([c.what, fromListener.status, fromApp.status]);
      expect(fromListener.headers.get('set-cookie')).toBeNull();
    }
    expect(rows).toEqual(cases.map((c) => [c.what, c.expected, c.expected]));
    // Both endpoints leave the store alone.
    expect(h.writes).toEqual(writesBefore);
  });

  // The listener trims a cookie's name and value as express-session's parser (cookie 0.7) does,
  // spaces and tabs only: String#trim would also drop U+00A0 and answer 204 where Express says 401.
  it('a session cookie with a non-breaking space (0xA0) beside its name or value: the same answer from both', async () => {
    const anon = await visitor(h, '/test/anon');
    const value = anon.cookie.slice(anon.cookie.indexOf('=') + 1);
    const rows: Array<[string, number, number]> = [];
    const cookies: Array<[string, string]> = [
      ['before the value', `connect.sid=\u00a0${value}`],
      ['before the name', `\u00a0connect.sid=${value}`],
      ['after the value', `connect.sid=${value}\u00a0`],
    ];
    for (const [where, cookie] of cookies) {
      rows.push([where, (await ask(h.listenerBase, anon.channel, cookie)).status, (await ask(h.appBase, anon.channel, cookie)).status]);
    }
    expect(rows.map(([what, fromListener]) => [what, fromListener])).toEqual(rows.map(([what, , fromApp]) => [what, fromApp]));
  });
});

/**
 * One connection to the listener with requests written by hand, as nginx's kept-alive upstream
 * connection sends them; it keeps every answer's head (the answers have no body).
 */
function rawClient(port: number) {
  const socket = connect({ port, host: '127.0.0.1' });
  let data = '';
  let closed = false;
  const waiters = new Set<() => void>();
  const wake = () => waiters.forEach((w) => w());
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    data += chunk;
    wake();
  });
  socket.on('close', () => {
    closed = true;
    wake();
  });
  socket.on('error', () => undefined);
  const heads = () => data.split('\r\n\r\n').slice(0, -1);
  /** Resolves once `done()` holds or the connection closed, within `boundMs` (a safety bound). */
  const until = (what: string, done: () => boolean, boundMs = BOUND_MS) =>
    bounded(
      new Promise<void>((resolve) => {
        const check = () => {
          if (done() || closed) {
            waiters.delete(check);
            resolve();
          }
        };
        waiters.add(check);
        check();
      }),
      what,
      boundMs,
    );
  return {
    send(channels: string): void {
      socket.write(`GET /push-stream/auth HTTP/1.1\r\nhost: 127.0.0.1\r\n${CHANNELS}: ${channels}\r\n\r\n`);
    },
    heads,
    /** Waits for the `n`th answer, or the connection's end; then check `heads()`. */
    answered: (n: number) => until(`answer ${n}`, () => heads().length >= n),
    closedWithin: (boundMs: number) => until('the connection closed by the server', () => closed, boundMs),
    get closed() {
      return closed;
    },
    destroy: () => socket.destroy(),
  };
}

describe('shutting down', () => {
  /** A reader that holds its first read until released: an answer in flight when shutdown starts. */
  function heldReader() {
    let release!: () => void;
    let entered!: () => void;
    const reading = new Promise<void>((resolve) => (entered = resolve));
    const gate = new Promise<void>((resolve) => (release = resolve));
    let first = true;
    class HeldReader extends PushStreamSessionReader {
      async read(): Promise<ReadSession | null> {
        if (first) {
          first = false;
          entered();
          await gate;
        }
        return null;
      }
    }
    return { reader: new HeldReader(), reading, release };
  }

  /** Begins app.close() and resolves once the listener is in its shutdown hook (it no longer has an address). */
  async function shuttingDown(h: Harness): Promise<{ closing: Promise<void> }> {
    const closing = h.app.close();
    await eventually('the listener shutting down', async () => h.listener.address() === null);
    return { closing };
  }

  it('app.close() closes an idle kept-alive connection itself (not left to the keep-alive timer), and stops listening', async () => {
    const h = await startHarness();
    const { port } = h.listener.address()!;
    const client = rawClient(port);
    try {
      client.send('my-app__all__');
      await client.answered(1);
      expect(client.heads()[0]).toMatch(/^HTTP\/1\.1 204 /);
      // Kept open after the answer, for the server's idle timer to close unless shutdown does first.
      const keepAlive = /\r\nkeep-alive: timeout=(\d+)/i.exec(client.heads()[0]);
      expect(keepAlive).not.toBeNull();
      const idleTimeoutMs = Number(keepAlive![1]) * 1000;
      expect(idleTimeoutMs).toBeGreaterThan(1000);
      expect(client.closed).toBe(false);

      // The only bound that tells shutdown from the idle timer: counted from the answer (when that
      // timer started), the close must come before the server's own keep-alive timeout could end it.
      const closedByShutdown = client.closedWithin(idleTimeoutMs - 1000);
      await h.app.close();
      await closedByShutdown;
      expect(client.closed).toBe(true);
    } finally {
      client.destroy();
      await h.app.close();
    }
    expect(h.listener.address()).toBeNull();
    const refused = await new Promise<string>((resolve) => {
      const again = connect({ port, host: '127.0.0.1' });
      again.once('connect', () => {
        again.destroy();
        resolve('connected');
      });
      again.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
    expect(refused).toBe('ECONNREFUSED');
  });

  // During shutdown an answer says `Connection: close`: otherwise nginx's kept-alive connections
  // would go on bringing requests for the whole grace period, and app.close() would wait for it.
  it('an answer in flight when shutdown starts is still given, and closes its connection (Connection: close), so that app.close() need not wait for the grace period', async () => {
    const held = heldReader();
    const h = await startHarness({ listenerModule: () => PushStreamAuthListenerModule.forRoot({ port: 0, session: held.reader }) });
    const client = rawClient(h.listener.address()!.port);
    let closing: Promise<void> | undefined;
    try {
      client.send('my-app__all__');
      await bounded(held.reading, 'the reader asked');
      ({ closing } = await shuttingDown(h));
      held.release();
      await client.answered(1);
      expect(client.heads()[0]).toMatch(/^HTTP\/1\.1 204 /);
      expect(client.heads()[0]).toMatch(/\r\nconnection: close(\r\n|$)/i);
      await client.closedWithin(BOUND_MS);
      expect(client.closed).toBe(true);
    } finally {
      client.destroy();
      held.release();
      await (closing ?? h.app.close());
    }
  });
});

describe('start-up failures', () => {
  let occupier: Server;
  let occupied: number;
  const store = new session.MemoryStore();

  beforeAll(async () => {
    occupier = createServer();
    await new Promise<void>((resolve) => occupier.listen(0, '127.0.0.1', resolve));
    occupied = (occupier.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise((resolve) => occupier.close(resolve));
  });

  // Four columns each: jest hands a test function of more parameters than a row has a `done` callback.
  const cases: Array<[string, () => PushStreamAuthListenerOptions, string, RegExp | null]> = [
    ['port -1', () => ({ port: -1, session: { store, secret: COOKIE_SECRET } }), 'port', null],
    ['port 65536', () => ({ port: 65536, session: { store, secret: COOKIE_SECRET } }), 'port', null],
    ['port "0" (a string)', () => ({ port: '0' as unknown as number, session: { store, secret: COOKIE_SECRET } }), 'port', null],
    ['a path without its leading slash', () => ({ port: 0, path: 'push-stream/auth', session: { store, secret: COOKIE_SECRET } }), 'path', null],
    ['a path with a space', () => ({ port: 0, path: '/push stream', session: { store, secret: COOKIE_SECRET } }), 'path', null],
    ['a host with a space', () => ({ port: 0, host: 'local host', session: { store, secret: COOKIE_SECRET } }), 'host', null],
    ['no session', () => ({ port: 0 }) as PushStreamAuthListenerOptions, 'session', null],
    ['a session without a store', () => ({ port: 0, session: { secret: COOKIE_SECRET } }) as unknown as PushStreamAuthListenerOptions, 'session.store', null],
    ['a session with an empty secret', () => ({ port: 0, session: { store, secret: '' } }), 'session.secret', null],
  ];

  it.each(cases)('%s: PushStreamConfigError naming the module and the field', async (_what, options, field, detail) => {
    const err = await startupError(PushStreamAuthListenerModule.forRoot(options()));
    expect(err).toBeInstanceOf(PushStreamConfigError);
    expect((err as PushStreamConfigError).field).toBe(field);
    expect((err as Error).message).toContain(`Invalid PushStreamAuthListenerModule option "${field}"`);
    if (detail) expect((err as Error).message).toMatch(detail);
  });

  // Not a bad option (the same port may be free at the next start): a PushStreamError naming where
  // it tried, with the listen error as its cause.
  it('a port in use: PushStreamError naming the address, the listen error as its cause', async () => {
    const err = await startupError(PushStreamAuthListenerModule.forRoot({ port: occupied, session: { store, secret: COOKIE_SECRET } }));
    expect(err).toBeInstanceOf(PushStreamError);
    expect(err).not.toBeInstanceOf(PushStreamConfigError);
    expect((err as Error).message).toContain(`127.0.0.1:${occupied}`);
    expect((err as Error).message).toMatch(/EADDRINUSE/);
    expect(((err as Error).cause as NodeJS.ErrnoException | undefined)?.code).toBe('EADDRINUSE');
  });

  it('without PushStreamModule in the application: PushStreamError saying so', async () => {
    const err = await startupError(PushStreamAuthListenerModule.forRoot({ port: 0, session: { store, secret: COOKIE_SECRET } }), false);
    expect(err).toBeInstanceOf(PushStreamError);
    expect(err).not.toBeInstanceOf(PushStreamConfigError);
    expect((err as Error).message).toMatch(/PushStreamAuthListenerModule needs PushStreamModule/);
  });

  it('a valid configuration starts (the negative control of the cases above)', async () => {
    expect(await startupError(PushStreamAuthListenerModule.forRoot({ port: 0, session: { store, secret: COOKIE_SECRET } }))).toBeUndefined();
  });
});

describe('configured with forRootAsync (useFactory and inject)', () => {
  const SESSION_OPTIONS = Symbol('session options');

  /** Stands in for an application's configuration module. */
  function configModule(store: session.MemoryStore, port: number): DynamicModule {
    @Module({})
    class SessionConfigModule {}
    return {
      module: SessionConfigModule,
      providers: [{ provide: SESSION_OPTIONS, useValue: { port, store, secret: COOKIE_SECRET } }],
      exports: [SESSION_OPTIONS],
    };
  }

  it('takes its options from the factory, with what it injects, and answers from that store', async () => {
    const factoryCalls: unknown[] = [];
    const h = await startHarness({
      listenerModule: (store) =>
        PushStreamAuthListenerModule.forRootAsync({
          imports: [configModule(store, 0)],
          inject: [SESSION_OPTIONS],
          useFactory: async (config: { port: number; store: session.MemoryStore; secret: string }) => {
            factoryCalls.push(config);
            return { port: config.port, session: { store: config.store, secret: config.secret } };
          },
        }),
    });
    try {
      expect(factoryCalls).toEqual([{ port: 0, store: h.store, secret: COOKIE_SECRET }]);
      const anon = await visitor(h, '/test/anon');
      const other = await visitor(h, '/test/anon');
      expect((await ask(h.listenerBase, anon.channel, anon.cookie)).status).toBe(204);
      expect((await ask(h.listenerBase, anon.channel, other.cookie)).status).toBe(403);
      expect((await ask(h.listenerBase, anon.channel)).status).toBe(401);
    } finally {
      await h.app.close();
    }
  });

  it('refuses what the factory returns with PushStreamConfigError naming the field', async () => {
    const store = new session.MemoryStore();
    const err = await startupError(
      PushStreamAuthListenerModule.forRootAsync({
        imports: [configModule(store, -1)],
        inject: [SESSION_OPTIONS],
        useFactory: (config: { port: number; store: session.MemoryStore; secret: string }) => ({ port: config.port, session: config }),
      }),
    );
    expect(err).toBeInstanceOf(PushStreamConfigError);
    expect((err as PushStreamConfigError).field).toBe('port');
  });
});

describe('a PushStreamSessionReader of the application’s own as `session`', () => {
  /** Sessions named by a plain `tok=<id>` cookie, as another session scheme would. */
  class TokenReader extends PushStreamSessionReader {
    readonly asked: IncomingHttpHeaders[] = [];
    constructor(private readonly sessions: Map<string, Record<string, unknown>>) {
      super();
    }
    async read(headers: IncomingHttpHeaders): Promise<ReadSession | null> {
      this.asked.push(headers);
      const id = /(?:^|;\s*)tok=([^;]+)/.exec(headers.cookie ?? '')?.[1];
      const data = id === undefined ? undefined : this.sessions.get(id);
      return id !== undefined && data ? { id, data } : null;
    }
  }

  it('is the reader used, for the rules’ session and user; asked only for requests that passed the structural checks', async () => {
    const reader = new TokenReader(
      new Map([
        ['tok-anon', { visited: true }],
        ['tok-7', { user: { id: 7 } }],
      ]),
    );
    const h = await startHarness({ listenerModule: () => PushStreamAuthListenerModule.forRoot({ port: 0, session: reader }) });
    try {
      expect(h.app.get(PushStreamSessionReader)).toBe(reader);
      const anonChannel = h.channels.session('tok-anon');
      const sevenChannel = h.channels.session('tok-7');
      const answers = [
        (await ask(h.listenerBase, anonChannel, 'tok=tok-anon')).status,
        (await ask(h.listenerBase, `my-app__authorized__/my-app__user__7/${sevenChannel}`, 'x=1; tok=tok-7')).status,
        (await ask(h.listenerBase, sevenChannel, 'tok=tok-anon')).status,
        (await ask(h.listenerBase, 'my-app__authorized__', 'tok=tok-anon')).status,
        (await ask(h.listenerBase, anonChannel, 'tok=unknown')).status,
        (await ask(h.listenerBase, anonChannel)).status,
      ];
      expect(answers).toEqual([204, 204, 403, 403, 401, 401]);
      expect(reader.asked).toHaveLength(answers.length);
      expect(reader.asked[1]).toMatchObject({ cookie: 'x=1; tok=tok-7', [CHANNELS]: `my-app__authorized__/my-app__user__7/${sevenChannel}` });
      // Refused on its form: the reader (a store, a database) is not asked.
      expect((await ask(h.listenerBase, 'ALL', 'tok=tok-7')).status).toBe(403);
      expect((await ask(h.listenerBase, 'my-app__nokind__x', 'tok=tok-7')).status).toBe(403);
      expect(reader.asked).toHaveLength(answers.length);
      // express-session's cookie means nothing to this reader.
      const express = await visitor(h, '/test/anon');
      expect((await ask(h.listenerBase, express.channel, express.cookie)).status).toBe(401);
    } finally {
      await h.app.close();
    }
  });

  // A failed read is not a refusal: 503, which nginx turns into a 500 that the browser client
  // retries, as it retries the Express endpoint's 500 when express-session's store fails.
  it('a reader that throws or rejects: 503 for that request (never 2xx, 401 or 403), and the listener keeps answering', async () => {
    class FailingReader extends PushStreamSessionReader {
      read(headers: IncomingHttpHeaders): Promise<ReadSession | null> {
        const how = /(?:^|;\s*)fail=([^;]+)/.exec(headers.cookie ?? '')?.[1];
        if (how === 'sync') throw new Error('reader threw');
        if (how === 'async') return Promise.reject(new Error('store down'));
        if (how === 'string') return Promise.reject('not an Error');
        if (how === 'null') return Promise.reject(null);
        return Promise.resolve(how === 'ok' ? { id: 'sid-ok', data: {} } : null);
      }
    }
    const h = await startHarness({ listenerModule: () => PushStreamAuthListenerModule.forRoot({ port: 0, session: new FailingReader() }) });
    try {
      const before = h.observer.decisions.length;
      for (const how of ['sync', 'async', 'string', 'null']) {
        const res = await ask(h.listenerBase, 'my-app__all__', `fail=${how}`);
        expect([how, res.status, res.headers.get('cache-control')]).toEqual([how, 503, 'no-store']);
      }
      expect(h.observer.decisions.slice(before)).toEqual(Array(4).fill({ allowed: false, kinds: [] }));
      // Still answering, one request after another and many at once, failures mixed in.
      const ok = h.channels.session('sid-ok');
      expect((await ask(h.listenerBase, 'my-app__all__')).status).toBe(204);
      expect((await ask(h.listenerBase, ok, 'fail=ok')).status).toBe(204);
      const mixed = await Promise.all(
        Array.from({ length: 40 }, (_, i) => ask(h.listenerBase, i % 2 === 0 ? ok : 'my-app__all__', i % 2 === 0 ? 'fail=ok' : `fail=${['sync', 'async'][i % 4 === 1 ? 0 : 1]}`)),
      );
      expect(mixed.map((r) => r.status)).toEqual(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? 204 : 503)));
    } finally {
      await h.app.close();
    }
  });
});
