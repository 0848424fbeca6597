// The application nginx asks before each subscription (auth_request), in a child process of the
// bench so that it has its own event loop, as in production.
//
//   node bench/apps/auth-app.mjs <mode> <server> [redisUrl]
//     mode    bare     a bare Node http server answering 204 to everything (the floor of an answer)
//             memory   NestJS + PushStreamModule's auth endpoint + express-session, MemoryStore
//             redis    the same with connect-redis (sessions in Redis at redisUrl)
//             memory-listener, redis-listener
//                      the same app (express-session, the same store, secret and cookie) plus
//                      PushStreamAuthListenerModule (nestjs-push-stream/auth-listener) on a port of
//                      its own: nginx's auth subrequests go there (authUpstream), logins to Express
//     server  nchan | push-stream (which dialect reads X-Push-Stream-Channels)
//
// The session setup is the sample app's (sample-app/src/sessions/session-store.ts): express-session
// with resave: false, saveUninitialized: false, the same cookie options, trust proxy for loopback;
// with the listener, as sample-app/src/sessions/auth-listener.ts: the same store, secret and name.
// POST /bench/login starts a logged-in session (user 1) and answers the session's own channel (and
// the logged-in users' one, which any of the sessions may open).
// IPC: { cmd: 'count' } answers how many auth requests reached the app so far, the TCP connections
// it accepted (nginx keeps its connections to the app alive: about none per auth request), and
// the process's CPU time. With a listener, `auth` and `connections` are the listener's (the server
// nginx asks), counted by node:diagnostics_channel ('http.server.request.start', 'net.server.socket')
// for the listener's port, so that nothing of the library is patched or reached into; `expressAuth`
// and `expressConnections` are Express's own, which must stay 0 and ~0 during the runs. The ready
// message carries `authPort`: where nginx's auth subrequests go (the listener's, or the app's).
import 'reflect-metadata';
import { subscribe } from 'node:diagnostics_channel';
import { createServer } from 'node:http';
import { lib, serveHelper } from '../lib/common.mjs';

const [mode, server = 'nchan', redisUrl] = process.argv.slice(2);
export const SESSION_COOKIE = 'sample.sid';
const SESSION_SECRET = 'bench-session-secret-0123456789';
const AUTH_PATH = '/push-stream/auth';
const MODES = ['bare', 'memory', 'redis', 'memory-listener', 'redis-listener'];
const withListener = mode.endsWith('-listener');
const storeKind = mode.replace(/-listener$/, '');
// Requests and connections of the app's main server (Express, or the bare server).
let authRequests = 0;
let otherRequests = 0;
let connections = 0;
// The auth listener's, when there is one.
let listenerAuth = 0;
let listenerOther = 0;
let listenerConnections = 0;

async function bare() {
  const srv = createServer((req, res) => {
    if (req.url.startsWith(AUTH_PATH)) authRequests++;
    else otherRequests++;
    res.statusCode = 204;
    res.end();
  });
  srv.keepAliveTimeout = 60_000;
  srv.on('connection', () => connections++);
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return { port: srv.address().port, close: () => new Promise((r) => srv.close(r)) };
}

async function nest() {
  const { NestFactory } = await import('@nestjs/core');
  const { Module } = await import('@nestjs/common');
  const { PushStreamModule, PushStreamChannels } = await lib('index.js');
  const session = (await import('express-session')).default;
  // The store, made here so that the auth listener reads the one express-session writes.
  // (express-session makes `new MemoryStore()` itself when given none: the same thing.)
  let store;
  let closeStore = async () => undefined;
  if (storeKind === 'redis') {
    const { createClient } = await import('redis');
    const { RedisStore } = await import('connect-redis');
    const client = createClient({ url: redisUrl });
    client.on('error', (err) => console.error(`redis: ${err.message}`));
    await client.connect();
    store = new RedisStore({ client, prefix: 'bench-sess:' });
    closeStore = () => client.close();
  } else {
    store = new session.MemoryStore();
  }
  const pushStream = PushStreamModule.forRoot({
    server,
    // Never published to here; the auth endpoint (or listener) is what is measured.
    publisherUrl: 'http://127.0.0.1:9/pub',
    prefix: 'bench',
    secret: 'bench-secret-0123456789',
  });
  let root = pushStream;
  let PushStreamAuthListener;
  if (withListener) {
    const listenerLib = await lib('auth-listener/index.js');
    PushStreamAuthListener = listenerLib.PushStreamAuthListener;
    // The sample app's way: a root module importing both, the listener on a port of its own.
    class BenchAuthListenerAppModule {}
    Module({
      imports: [pushStream, listenerLib.PushStreamAuthListenerModule.forRoot({ port: 0, session: { store, secret: SESSION_SECRET, name: SESSION_COOKIE } })],
    })(BenchAuthListenerAppModule);
    root = BenchAuthListenerAppModule;
  }
  const app = await NestFactory.create(root, { logger: false, abortOnError: false });
  app.set('trust proxy', ['loopback', 'uniquelocal']);
  app.disable('x-powered-by');
  app.use((req, _res, next) => {
    if (req.url.startsWith(AUTH_PATH)) authRequests++;
    else otherRequests++;
    next();
  });
  app.use(
    session({
      name: SESSION_COOKIE,
      secret: SESSION_SECRET,
      store,
      resave: false,
      saveUninitialized: false,
      cookie: { httpOnly: true, sameSite: 'lax', secure: 'auto', maxAge: 24 * 3600 * 1000 },
    }),
  );
  const channels = app.get(PushStreamChannels);
  app.use('/bench/login', (req, res) => {
    req.session.user = { id: '1' };
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ session: channels.session(req.sessionID), user: channels.user('1'), all: channels.all(), authorized: channels.authorized() }));
  });
  await app.listen(0, '127.0.0.1');
  app.getHttpServer().on('connection', () => connections++);
  const port = app.getHttpServer().address().port;
  let authPort = port;
  if (withListener) {
    const bound = app.get(PushStreamAuthListener).address();
    if (!bound) throw new Error('the auth listener is not listening');
    authPort = bound.port;
    // Counted from outside: the listener's own server is not exposed, and nothing of it is patched.
    subscribe('net.server.socket', ({ socket }) => {
      if (socket.localPort === authPort) listenerConnections++;
    });
    subscribe('http.server.request.start', ({ request, socket }) => {
      if (socket.localPort !== authPort) return;
      if (request.url.startsWith(AUTH_PATH)) listenerAuth++;
      else listenerOther++;
    });
  }
  return {
    port,
    authPort,
    close: async () => {
      await app.close();
      await closeStore();
    },
  };
}

try {
  if (!MODES.includes(mode)) throw new Error(`unknown mode ${mode}`);
  const running = mode === 'bare' ? await bare() : await nest();
  serveHelper({
    count: () => {
      const cpu = process.cpuUsage();
      const cpuMicros = cpu.user + cpu.system;
      if (!withListener) return { auth: authRequests, other: otherRequests, connections, expressAuth: authRequests, expressConnections: connections, cpuMicros };
      return {
        auth: listenerAuth,
        other: listenerOther,
        connections: listenerConnections,
        expressAuth: authRequests,
        expressOther: otherRequests,
        expressConnections: connections,
        cpuMicros,
      };
    },
    memory: () => ({ rss: process.memoryUsage().rss }),
  });
  process.on('SIGTERM', () => {
    running.close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
  process.send({ type: 'ready', port: running.port, authPort: running.authPort ?? running.port, listener: withListener });
} catch (err) {
  process.send?.({ type: 'fatal', error: err?.stack ?? String(err) });
  process.exit(1);
}
