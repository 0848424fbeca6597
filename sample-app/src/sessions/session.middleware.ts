import type { CookieOptions, RequestHandler } from 'express';
import session, { type Store } from 'express-session';
import { redactUrl } from 'nestjs-push-stream';
import type { SampleConfig } from '../sample.config.js';
// The fields the sample keeps in req.session, for the compiler.
import './session-data.js';

export const SESSION_COOKIE = 'sample.sid';
/** Also what logout clears the cookie with (a cookie is cleared only with its path and flags). */
export const SESSION_COOKIE_OPTIONS = { httpOnly: true, sameSite: 'lax', path: '/' } as const satisfies CookieOptions;

/**
 * express-session with the in-memory store, or Redis (connect-redis) when REDIS_URL is set.
 * `saveUninitialized: false`: a session is stored (and its cookie set) only once something is put
 * in it, which happens only when a visitor writes (SessionsService). Loading the page, and the
 * auth subrequests nginx sends for every subscription, read sessions and never create one.
 */
export async function createSessionMiddleware(config: SampleConfig): Promise<{ middleware: RequestHandler; close: () => Promise<void> }> {
  let store: Store | undefined;
  let close = async (): Promise<void> => undefined;
  if (config.redisUrl) {
    const { createClient } = await import('redis');
    const { RedisStore } = await import('connect-redis');
    const client = createClient({ url: config.redisUrl });
    // The client's messages may quote the URL, password included.
    client.on('error', (err: Error) => console.error(`redis: ${redactUrl(err.message)}`));
    await client.connect();
    store = new RedisStore({ client, prefix: 'sample-sess:' });
    close = async () => {
      await client.close();
    };
  }
  const middleware = session({
    name: SESSION_COOKIE,
    secret: config.sessionSecret,
    store,
    resave: false,
    saveUninitialized: false,
    cookie: { ...SESSION_COOKIE_OPTIONS, secure: 'auto', maxAge: 24 * 3600 * 1000 },
  });
  return { middleware, close };
}
