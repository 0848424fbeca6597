// One way of answering nginx's auth subrequest, in its own process, for p2-app-layers.mjs: where
// an auth answer's CPU time goes, layer by layer. Driven directly (no nginx).
//
//   node bench/apps/auth-layers-app.mjs <layer> [redisUrl]
//     bare            node:http answering 204 (P2's "bare Node 204")
//     express         Express 5, one route answering 204: the framework alone
//     express-session Express 5 + express-session (MemoryStore), 401 without a logged-in session
//     nest            NestJS + PushStreamModule's auth endpoint, no session middleware
//     nest-session    the same + express-session, MemoryStore (P2's "session, MemoryStore")
//     nest-redis      the same with connect-redis (P2's "session, Redis")
//     lean-session    node:http: the signed cookie checked by hand (cookie-signature), MemoryStore.get,
//                     and the library's own ChannelAuthorizer from a Nest application context: the
//                     same decision without Express, Nest's request pipeline or express-session
// NO_BODY_PARSER=1 (nest*): NestFactory.create(..., { bodyParser: false }).
// The session settings are P2's (bench/apps/auth-app.mjs). POST /bench/login starts a logged-in
// session and answers its channel; GET /bench/cpu answers the process's CPU time (µs) and the
// auth requests handled. IPC: { type: 'ready', port } once listening.
import 'reflect-metadata';
import { createServer } from 'node:http';
import { lib } from '../lib/common.mjs';

const [layer, redisUrl] = process.argv.slice(2);
const SESSION_SECRET = 'bench-session-secret-0123456789';
const MODULE_OPTIONS = { server: 'push-stream', publisherUrl: 'http://127.0.0.1:9/pub', prefix: 'bench', secret: 'bench-secret-0123456789' };
let handled = 0;

function cpuRoute(_req, res) {
  const c = process.cpuUsage();
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ cpuMicros: c.user + c.system, handled }));
}

function sessionOptions(store) {
  return {
    name: 'sample.sid',
    secret: SESSION_SECRET,
    store,
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: 'lax', secure: 'auto', maxAge: 24 * 3600 * 1000 },
  };
}

async function listen(server) {
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server.address().port;
}

async function bare() {
  return listen(
    createServer((req, res) => {
      if (req.url === '/bench/cpu') return cpuRoute(req, res);
      handled++;
      res.statusCode = 204;
      res.end();
    }),
  );
}

async function express() {
  const { default: createApp } = await import('express');
  const { default: session } = await import('express-session');
  const app = createApp();
  app.get('/bench/cpu', cpuRoute);
  if (layer === 'express-session') app.use(session(sessionOptions()));
  app.post('/bench/login', (req, res) => {
    if (req.session) req.session.user = { id: '1' };
    res.json({});
  });
  app.all('/push-stream/auth', (req, res) => {
    handled++;
    if (layer === 'express-session' && !req.session?.user) return res.sendStatus(401);
    res.status(204).end();
  });
  return listen(createServer(app));
}

async function nest() {
  const { NestFactory } = await import('@nestjs/core');
  const { PushStreamModule, PushStreamChannels } = await lib('index.js');
  const app = await NestFactory.create(PushStreamModule.forRoot(MODULE_OPTIONS), { logger: false, bodyParser: !process.env.NO_BODY_PARSER });
  app.set('trust proxy', ['loopback', 'uniquelocal']);
  app.use('/bench/cpu', cpuRoute);
  app.use((req, _res, next) => {
    if (req.url.startsWith('/push-stream/auth')) handled++;
    next();
  });
  if (layer !== 'nest') {
    const { default: session } = await import('express-session');
    let store;
    if (layer === 'nest-redis') {
      const { createClient } = await import('redis');
      const { RedisStore } = await import('connect-redis');
      const client = createClient({ url: redisUrl });
      await client.connect();
      store = new RedisStore({ client, prefix: 'bench-sess:' });
    }
    app.use(session(sessionOptions(store)));
  }
  const channels = app.get(PushStreamChannels);
  app.use('/bench/login', (req, res) => {
    if (req.session) req.session.user = { id: '1' };
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ session: req.sessionID ? channels.session(req.sessionID) : null, all: channels.all() }));
  });
  await app.listen(0, '127.0.0.1');
  return app.getHttpServer().address().port;
}

async function leanSession() {
  const { NestFactory } = await import('@nestjs/core');
  const { PushStreamModule, PushStreamChannels } = await lib('index.js');
  // Not a public export: the bench reaches into the library for its decision alone.
  const { ChannelAuthorizer } = await lib('auth/channel-authorizer.js');
  const { default: session } = await import('express-session');
  const { default: signature } = await import('cookie-signature');
  const { randomUUID } = await import('node:crypto');
  const ctx = await NestFactory.createApplicationContext(PushStreamModule.forRoot({ ...MODULE_OPTIONS, authRoute: false }), { logger: false });
  const authorizer = ctx.get(ChannelAuthorizer, { strict: false });
  const channels = ctx.get(PushStreamChannels);
  const store = new session.MemoryStore();
  return listen(
    createServer((req, res) => {
      if (req.url === '/bench/cpu') return cpuRoute(req, res);
      if (req.url === '/bench/login') {
        const sid = randomUUID();
        const cookie = { originalMaxAge: 86_400_000, expires: new Date(Date.now() + 86_400_000).toISOString(), httpOnly: true, path: '/' };
        store.set(sid, { cookie, user: { id: '1' } }, () => {
          res.setHeader('set-cookie', `sample.sid=${encodeURIComponent(`s:${signature.sign(sid, SESSION_SECRET)}`)}; Path=/; HttpOnly`);
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ session: channels.session(sid), all: channels.all() }));
        });
        return;
      }
      handled++;
      const raw = /(?:^|;\s*)sample\.sid=([^;]*)/.exec(req.headers.cookie ?? '')?.[1];
      const value = raw ? decodeURIComponent(raw) : '';
      const sid = value.startsWith('s:') ? signature.unsign(value.slice(2), SESSION_SECRET) : false;
      const answer = (status) => {
        res.statusCode = status;
        res.end();
      };
      const decide = (sess) => {
        // What ChannelAuthorizer reads: the session and its id (loadedSessionId checks the cookie).
        req.session = sess ?? undefined;
        req.sessionID = sess ? sid : undefined;
        authorizer.authorize(req).then(
          (d) => answer(d.allowed ? 204 : d.status),
          () => answer(403),
        );
      };
      if (!sid) return decide(null);
      store.get(sid, (err, sess) => decide(err ? null : sess));
    }),
  );
}

const LAYERS = { bare, express, 'express-session': express, nest, 'nest-session': nest, 'nest-redis': nest, 'lean-session': leanSession };
try {
  if (!LAYERS[layer]) throw new Error(`unknown layer ${layer}`);
  const port = await LAYERS[layer]();
  process.on('disconnect', () => process.exit(0));
  process.send({ type: 'ready', port });
} catch (err) {
  process.send?.({ type: 'fatal', error: err?.stack ?? String(err) });
  process.exit(1);
}
