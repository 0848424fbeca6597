// A Nest application (PushStreamModule + express-session + the test session routes) behind its
// own real nginx, as test/e2e/auth.e2e.spec.ts builds it; shared by the suites that attack the
// auth flow from outside (test/e2e/subscription-fuzz.e2e.spec.ts, the hardening tests).
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Express, NextFunction, Request, Response } from 'express';
import session from 'express-session';
import { randomUUID } from 'node:crypto';
import { connect, type AddressInfo } from 'node:net';
import { PushStreamAuthListener, PushStreamAuthListenerModule } from '../../lib/auth-listener/index.js';
import { PushStreamChannels, PushStreamModule, PushStreamService } from '../../lib/index.js';
import type { PushStreamAuthOptions, PushStreamServerKind } from '../../lib/options/push-stream-options.interface.js';
import { findFreePort, NginxTestServer } from '../../lib/testing/index.js';
import { SessionTestController } from './session-test.controller.js';
import { openEventSource, openWebSocket } from './subscribers.js';

export const STACK_SECRET = 'auth-stack-secret-0123456789';
/** express-session's secret (the cookie signature), shared with the auth listener when there is one. */
export const STACK_COOKIE_SECRET = 'cookie-secret-for-e2e';

export interface AuthStack {
  app: INestApplication;
  nginx: NginxTestServer;
  service: PushStreamService;
  channels: PushStreamChannels;
  /** express-session's store (the one given, else a MemoryStore of the stack's own). */
  store: session.Store;
  /** With `authListener`: the listener nginx asks instead of the app's auth endpoint. */
  authListener?: PushStreamAuthListener;
  /** Requests that reached the app's own auth endpoint (`/push-stream/auth`, any case or suffix) since the start. */
  appAuthRequests(): number;
}

export interface AuthStackOptions {
  auth?: PushStreamAuthOptions;
  configDir?: string;
  /** express's `trust proxy`, as the sample app sets it (nginx in front). */
  trustProxy?: string[];
  /** The session store; default a MemoryStore of its own. */
  store?: session.Store;
  /**
   * Also start PushStreamAuthListenerModule (port 0) on the stack's store and cookie secret, and
   * point nginx's auth subrequests at it (`authUpstream`) instead of the app's auth endpoint.
   */
  authListener?: boolean;
}

export async function startAuthStack(server: PushStreamServerKind, options: AuthStackOptions = {}): Promise<AuthStack> {
  const pubPort = await findFreePort();
  // Explicit (express-session's default is this same MemoryStore) so that the listener reads it too.
  const store = options.store ?? new session.MemoryStore();
  const moduleRef = await Test.createTestingModule({
    imports: [
      PushStreamModule.forRoot({
        server,
        publisherUrl: `http://127.0.0.1:${pubPort}/pub`,
        secret: STACK_SECRET,
        retry: { attempts: 1 },
        auth: options.auth,
      }),
      ...(options.authListener ? [PushStreamAuthListenerModule.forRoot({ port: 0, session: { store, secret: STACK_COOKIE_SECRET } })] : []),
    ],
    controllers: [SessionTestController],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  if (options.trustProxy) (app.getHttpAdapter().getInstance() as Express).set('trust proxy', options.trustProxy);
  let appAuthRequests = 0;
  app.use((req: Request, _res: Response, next: NextFunction) => {
    if (/^\/push-stream\/auth(\/|$)/i.test(req.path)) appAuthRequests++;
    next();
  });
  app.use(
    session({
      secret: STACK_COOKIE_SECRET,
      resave: false,
      saveUninitialized: false,
      rolling: false,
      cookie: { maxAge: 3_600_000 },
      store,
    }),
  );
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  try {
    // Listening since app.listen (onApplicationBootstrap), on a port of its own.
    const authListener = options.authListener ? app.get(PushStreamAuthListener) : undefined;
    const listening = authListener?.address();
    if (authListener && !listening) throw new Error('the auth listener is not listening');
    const nginx = await NginxTestServer.start({
      server,
      appUpstream: `127.0.0.1:${port}`,
      authUpstream: listening ? `127.0.0.1:${listening.port}` : undefined,
      pubPort,
      configDir: options.configDir,
    });
    return {
      app,
      nginx,
      service: app.get(PushStreamService),
      channels: app.get(PushStreamChannels),
      store,
      authListener,
      appAuthRequests: () => appAuthRequests,
    };
  } catch (err) {
    await app.close();
    throw err;
  }
}

export async function stopAuthStack(s: AuthStack | undefined): Promise<void> {
  await s?.nginx.dispose();
  await s?.app.close();
}

export interface StackVisitor {
  cookie: string;
  /** The visitor's own `__session__` channel. */
  channel: string;
}

/** Starts a session through nginx with one of SessionTestController's routes (`/test/anon`, `/test/login/1`). */
export async function stackVisitor(s: AuthStack, path: string): Promise<StackVisitor> {
  const res = await fetch(`${s.nginx.baseUrl}${path}`, { method: 'POST' });
  const setCookie = res.headers.get('set-cookie');
  if (res.status !== 201 || !setCookie) throw new Error(`${path}: HTTP ${res.status}, cookie ${setCookie}`);
  const body = (await res.json()) as { session: string };
  return { cookie: setCookie.split(';')[0], channel: body.session };
}

/** The status nginx answers for one raw GET (bytes as given), from `localAddress`; the socket is closed at once. */
export function rawStatus(port: number, path: string, headers: Array<[string, string]>, localAddress: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      data += chunk;
      const m = /^HTTP\/1\.1 (\d{3})[^\r\n]*\r\n/.exec(data);
      if (m) {
        socket.destroy();
        resolve(Number(m[1]));
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`no status line for ${path.slice(0, 80)}: ${JSON.stringify(data.slice(0, 200))}`)));
    const head = [['host', '127.0.0.1'], ...headers].map(([k, v]) => `${k}: ${v}\r\n`).join('');
    socket.write(Buffer.from(`GET ${path} HTTP/1.1\r\n${head}\r\n`, 'latin1'));
  });
}

/** One raw request left open (see `rawAttempt`): its status, and every byte nginx ever sent on it. */
export interface RawAttempt {
  status: number;
  received(): string;
  /**
   * Resolves once nothing sent on this connection before now can still be on its way: a second
   * request written on it now has been answered (TCP keeps order), or nginx closed it. The
   * closing marker of "never receives": no sleep.
   */
  settle(): Promise<void>;
  close(): void;
}

/**
 * One GET on its own socket from `localAddress`, bytes as given, resolving once the status line and
 * headers arrived; the socket stays open so that anything nginx sends later is still seen.
 */
export function rawAttempt(port: number, path: string, headers: Array<[string, string]>, localAddress: string): Promise<RawAttempt> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    let data = '';
    let settled = false;
    let closed = false;
    const waiters: Array<() => void> = [];
    const wake = () => waiters.splice(0).forEach((w) => w());
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      data += chunk;
      wake();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      if (!settled && m && data.includes('\r\n\r\n')) {
        settled = true;
        resolve({
          status: Number(m[1]),
          received: () => data,
          settle: async () => {
            const answers = () => data.match(/HTTP\/1\.1 \d{3} /g)?.length ?? 0;
            const seen = answers();
            if (!closed) socket.write(Buffer.from('GET /test/closing-marker HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n', 'latin1'));
            while (!closed && answers() === seen) await new Promise<void>((w) => waiters.push(w));
          },
          close: () => socket.destroy(),
        });
      }
    });
    socket.on('error', (err) => (settled ? undefined : reject(err)));
    socket.on('close', () => {
      closed = true;
      wake();
      if (!settled) reject(new Error(`no answer for ${path.slice(0, 80)}: ${JSON.stringify(data.slice(0, 200))}`));
    });
    const head = [['host', '127.0.0.1'], ...headers].map(([k, v]) => `${k}: ${v}\r\n`).join('');
    socket.write(Buffer.from(`GET ${path} HTTP/1.1\r\n${head}\r\n`, 'latin1'));
  });
}

/** Publishes a unique marker to `channel` through the stack's service and returns it. */
export async function publishMarker(s: AuthStack, channel: string): Promise<string> {
  const marker = `marker-${randomUUID()}`;
  await s.service.publish(channel, { marker });
  return marker;
}

/**
 * Reads until a message carries `marker`: subscribers may first get the channel's stored
 * messages, published by earlier tests.
 */
export async function nextContaining(sub: { next(): Promise<unknown> }, marker: string): Promise<void> {
  for (;;) {
    const message = await sub.next();
    if (JSON.stringify(message).includes(marker)) return;
  }
}

/**
 * Publishes a marker to `channel`: the allowed `control` subscriber's copy proves it went out; only
 * then does its absence on the refused connections (each settled: a later request answered) mean
 * anything.
 */
export async function expectDeliveredOnlyTo(s: AuthStack, channel: string, control: { next(): Promise<unknown> }, refused: RawAttempt[]): Promise<void> {
  const marker = await publishMarker(s, channel);
  await nextContaining(control, marker);
  for (const attempt of refused) {
    await attempt.settle();
    expect(attempt.received()).not.toContain(marker);
  }
}

/**
 * Subscribes `who` to `channels` over a WebSocket and an EventSource (both servers join channels
 * with "/" in the path); each must get a message published to each channel.
 */
export async function expectReceivedOverBoth(s: AuthStack, who: { cookie: string }, channels: string[]): Promise<void> {
  const socket = await openWebSocket(`ws://127.0.0.1:${s.nginx.port}/ws/${channels.join('/')}`, { cookie: who.cookie });
  const source = await openEventSource(`${s.nginx.baseUrl}/ev/${channels.join('/')}`, { cookie: who.cookie });
  try {
    for (const channel of channels) {
      const marker = await publishMarker(s, channel);
      await nextContaining(socket, marker);
      await nextContaining(source, marker);
    }
  } finally {
    await socket.close();
    await source.close();
  }
}
