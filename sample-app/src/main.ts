import 'reflect-metadata';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Logger, ValidationPipe } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import { AppModule } from './app.module.js';
import type { SampleConfig } from './sample.config.js';
import './session-data.js';
import { createSessionMiddleware } from './session.js';

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

  // nginx sits in front; X-Forwarded-Proto tells express-session whether the cookie may be Secure.
  app.set('trust proxy', ['loopback', 'uniquelocal']);
  app.disable('x-powered-by');
  app.use((_req: Request, res: Response, next: NextFunction) => {
    res.setHeader('Content-Security-Policy', CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'same-origin');
    next();
  });

  const sessions = await createSessionMiddleware(config);
  app.use(sessions.middleware);
  if (config.sessionSecretIsRandom) logger.warn('SESSION_SECRET is not set: using a random one, sessions end when the app stops');
  logger.log(config.redisUrl ? `sessions in Redis at ${config.redisUrl}` : 'sessions in memory (set REDIS_URL for Redis)');

  app.useGlobalPipes(new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }));

  const clientDir = browserClientDir();
  if (clientDir) {
    app.useStaticAssets(clientDir, { prefix: '/assets/push-stream/' });
    // The client imports ../shared/ (dist/shared, next to dist/browser): serve it where that resolves.
    app.useStaticAssets(join(clientDir, '..', 'shared'), { prefix: '/assets/shared/' });
  } else logger.error('nestjs-push-stream/browser not found: build the package (npm run build)');
  app.useStaticAssets(PUBLIC_DIR);

  app.enableShutdownHooks();
  app.getHttpServer().on('close', () => void sessions.close());
  await app.listen(config.port, config.host);
  logger.log(`listening on http://${config.host}:${config.port} (open it through nginx, not directly)`);
}

bootstrap().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : err);
  process.exit(1);
});
