import type { RequestHandler } from 'express';
import session, { type Store } from 'express-session';
import type { SampleConfig } from './sample.config.js';

export const SESSION_COOKIE = 'sample.sid';

/**
 * express-session with the in-memory store, or Redis (connect-redis) when REDIS_URL is set.
 * `saveUninitialized: false`: a session is stored (and its cookie set) only once something is put
 * in it, which the page bootstrap does. The auth subrequests nginx sends for every subscription
 * read sessions and never create one.
 */
export async function createSessionMiddleware(config: SampleConfig): Promise<{ middleware: RequestHandler; close: () => Promise<void> }> {
  let store: Store | undefined;
  let close = async (): Promise<void> => undefined;
  if (config.redisUrl) {
    const { createClient } = await import('redis');
    const { RedisStore } = await import('connect-redis');
    const client = createClient({ url: config.redisUrl });
    client.on('error', (err: Error) => console.error(`redis: ${err.message}`));
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
    cookie: { httpOnly: true, sameSite: 'lax', secure: 'auto', maxAge: 24 * 3600 * 1000 },
  });
  return { middleware, close };
}
