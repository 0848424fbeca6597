// A Nest application (PushStreamModule + express-session + the test session routes) behind its
// own real nginx, as test/e2e/auth.e2e.spec.ts builds it; shared by the suites that attack the
// auth flow from outside (test/e2e/subscription-fuzz.e2e.spec.ts, the hardening tests).
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Express } from 'express';
import session from 'express-session';
import { connect, type AddressInfo } from 'node:net';
import { PushStreamChannels, PushStreamModule, PushStreamService } from '../../lib/index.js';
import type { PushStreamAuthOptions, PushStreamServerKind } from '../../lib/options/push-stream-options.interface.js';
import { findFreePort, NginxTestServer } from '../../lib/testing/index.js';
import { SessionTestController } from './session-test.controller.js';

export const STACK_SECRET = 'auth-stack-secret-0123456789';

export interface AuthStack {
  app: INestApplication;
  nginx: NginxTestServer;
  service: PushStreamService;
  channels: PushStreamChannels;
}

export interface AuthStackOptions {
  auth?: PushStreamAuthOptions;
  configDir?: string;
  /** express's `trust proxy`, as the sample app sets it (nginx in front). */
  trustProxy?: string[];
  /** The session store; default a MemoryStore of its own. */
  store?: session.Store;
}

export async function startAuthStack(server: PushStreamServerKind, options: AuthStackOptions = {}): Promise<AuthStack> {
  const pubPort = await findFreePort();
  const moduleRef = await Test.createTestingModule({
    imports: [
      PushStreamModule.forRoot({
        server,
        publisherUrl: `http://127.0.0.1:${pubPort}/pub`,
        secret: STACK_SECRET,
        retry: { attempts: 1 },
        auth: options.auth,
      }),
    ],
    controllers: [SessionTestController],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  if (options.trustProxy) (app.getHttpAdapter().getInstance() as Express).set('trust proxy', options.trustProxy);
  app.use(
    session({
      secret: 'cookie-secret-for-e2e',
      resave: false,
      saveUninitialized: false,
      rolling: false,
      cookie: { maxAge: 3_600_000 },
      store: options.store,
    }),
  );
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  try {
    const nginx = await NginxTestServer.start({ server, appUpstream: `127.0.0.1:${port}`, pubPort, configDir: options.configDir });
    return { app, nginx, service: app.get(PushStreamService), channels: app.get(PushStreamChannels) };
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
