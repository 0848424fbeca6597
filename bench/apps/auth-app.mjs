// The application nginx asks before each subscription (auth_request), in a child process of the
// bench so that it has its own event loop, as in production.
//
//   node bench/apps/auth-app.mjs <mode> <server> [redisUrl]
//     mode    bare     a bare Node http server answering 204 to everything (the floor of an answer)
//             memory   NestJS + PushStreamModule's auth endpoint + express-session, MemoryStore
//             redis    the same with connect-redis (sessions in Redis at redisUrl)
//     server  nchan | push-stream (which dialect reads X-Push-Stream-Channels)
//
// The session setup is the sample app's (sample-app/src/session.ts): express-session with
// resave: false, saveUninitialized: false, the same cookie options, trust proxy for loopback.
// POST /bench/login starts a logged-in session (user 1) and answers the session's own channel.
// IPC: { cmd: 'count' } answers how many auth requests reached the app so far, the TCP connections
// it accepted (nginx keeps its connections to the app alive: about none per auth request), and
// the process's CPU time.
import 'reflect-metadata';
import { createServer } from 'node:http';
import { lib, serveHelper } from '../lib/common.mjs';

const [mode, server = 'nchan', redisUrl] = process.argv.slice(2);
export const SESSION_COOKIE = 'sample.sid';
const AUTH_PATH = '/push-stream/auth';
let authRequests = 0;
let otherRequests = 0;
let connections = 0;

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
  const { PushStreamModule, PushStreamChannels } = await lib('index.js');
  const session = (await import('express-session')).default;
  const app = await NestFactory.create(
    PushStreamModule.forRoot({
      server,
      // Never published to here; the auth endpoint is what is measured.
      publisherUrl: 'http://127.0.0.1:9/pub',
      prefix: 'bench',
      secret: 'bench-secret-0123456789',
    }),
    { logger: false, abortOnError: false },
  );
  app.set('trust proxy', ['loopback', 'uniquelocal']);
  app.disable('x-powered-by');
  let store;
  let closeStore = async () => undefined;
  if (mode === 'redis') {
    const { createClient } = await import('redis');
    const { RedisStore } = await import('connect-redis');
    const client = createClient({ url: redisUrl });
    client.on('error', (err) => console.error(`redis: ${err.message}`));
    await client.connect();
    store = new RedisStore({ client, prefix: 'bench-sess:' });
    closeStore = () => client.close();
  }
  app.use((req, _res, next) => {
    if (req.url.startsWith(AUTH_PATH)) authRequests++;
    else otherRequests++;
    next();
  });
  app.use(
    session({
      name: SESSION_COOKIE,
      secret: 'bench-session-secret-0123456789',
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
    res.end(JSON.stringify({ session: channels.session(req.sessionID), user: channels.user('1'), all: channels.all() }));
  });
  await app.listen(0, '127.0.0.1');
  app.getHttpServer().on('connection', () => connections++);
  return {
    port: app.getHttpServer().address().port,
    close: async () => {
      await app.close();
      await closeStore();
    },
  };
}

try {
  if (!['bare', 'memory', 'redis'].includes(mode)) throw new Error(`unknown mode ${mode}`);
  const running = mode === 'bare' ? await bare() : await nest();
  serveHelper({
    count: () => {
      const cpu = process.cpuUsage();
      return { auth: authRequests, other: otherRequests, connections, cpuMicros: cpu.user + cpu.system };
    },
    memory: () => ({ rss: process.memoryUsage().rss }),
  });
  process.on('SIGTERM', () => {
    running.close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
  process.send({ type: 'ready', port: running.port });
} catch (err) {
  process.send?.({ type: 'fatal', error: err?.stack ?? String(err) });
  process.exit(1);
}
