import 'reflect-metadata';
import { createServer } from 'node:http';
import { BlockList, isIP } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Logger, ValidationPipe } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import { redactUrl } from 'nestjs-push-stream';
import { AppModule } from './app.module.js';
import type { SampleConfig } from './sample.config.js';
import { SessionStore } from './sessions/session-store.js';

/** sample-app/public, next to src/ and dist/. */
const PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url));

/** The package's browser client folder, found through its public entry point as any app would. */
function browserClientDir(): string | undefined {
  try {
    return dirname(fileURLToPath(import.meta.resolve('nestjs-push-stream/browser')));
  } catch {
    return undefined;
  }
}

/** Loopback and private networks: where nginx may connect from (Docker's network included). */
const PROXIES = new BlockList();
PROXIES.addSubnet('127.0.0.0', 8, 'ipv4');
PROXIES.addSubnet('10.0.0.0', 8, 'ipv4');
PROXIES.addSubnet('172.16.0.0', 12, 'ipv4');
PROXIES.addSubnet('192.168.0.0', 16, 'ipv4');
PROXIES.addAddress('::1', 'ipv6');
PROXIES.addSubnet('fc00::', 7, 'ipv6');

/**
 * `trust proxy`: the connection's peer, when it is local, and only that one hop. nginx appends the
 * visitor's address to whatever X-Forwarded-For the visitor sent ($proxy_add_x_forwarded_for), so
 * trusting more hops would let a visitor on a private network pick its own address, and with it a
 * fresh rate-limit budget per request.
 */
function trustNginxHop(address: string, hop: number): boolean {
  if (hop !== 0) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const ip = mapped ?? address;
  const family = isIP(ip);
  return family !== 0 && PROXIES.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}

const CSP = [
  "default-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

async function bootstrap(): Promise<void> {
  const logger = new Logger('SampleApp');
  const app = await NestFactory.create<NestExpressApplication>(AppModule);
  const config = app.get(ConfigService).getOrThrow<SampleConfig>('sample');

  // nginx sits in front: X-Forwarded-Proto tells express-session whether the cookie may be Secure,
  // X-Forwarded-For gives the visitor's address (req.ip: rate limits, auth rules).
  app.set('trust proxy', trustNginxHop);
  app.disable('x-powered-by');
  app.use((_req: Request, res: Response, next: NextFunction) => {
    res.setHeader('Content-Security-Policy', CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'same-origin');
    next();
  });

  // The store SessionStoreModule opened (and closes on shutdown), shared with the auth listener.
  app.use(app.get(SessionStore).middleware());
  if (config.sessionSecretIsRandom) logger.warn('SESSION_SECRET is not set: using a random one, sessions end when the app stops');
  logger.log(config.redisUrl ? `sessions in Redis at ${redactUrl(config.redisUrl)}` : 'sessions in memory (set REDIS_URL for Redis)');

  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }));

  const clientDir = browserClientDir();
  if (clientDir) {
    app.useStaticAssets(clientDir, { prefix: '/assets/push-stream/' });
    // The client imports ../shared/ (dist/shared, next to dist/browser): serve it where that resolves.
    app.useStaticAssets(join(clientDir, '..', 'shared'), { prefix: '/assets/shared/' });
  } else logger.error('nestjs-push-stream/browser not found: build the package (npm run build)');
  app.useStaticAssets(PUBLIC_DIR);

  app.enableShutdownHooks();
  await app.listen(config.port, config.host);
  logger.log(`listening on http://${config.host}:${config.port} (open it through nginx, not directly)`);
  if (config.internalPort !== undefined) {
    // The same application on a loopback-only port: /internal/* answers there and nowhere else.
    const internal = createServer(app.getHttpAdapter().getInstance());
    await new Promise<void>((resolve, reject) => internal.once('error', reject).listen(config.internalPort, '127.0.0.1', resolve));
    app.getHttpServer().on('close', () => internal.close());
    logger.log(`internal listener (health, metrics) on http://127.0.0.1:${config.internalPort}/internal/`);
  }
}

bootstrap().catch((err: unknown) => {
  // A failed connection's message may quote REDIS_URL or the publisher URL, password included.
  console.error(redactUrl(err instanceof Error ? (err.stack ?? err.message) : String(err)));
  process.exit(1);
});
