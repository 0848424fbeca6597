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
 * The sample's one session store: express-session's MemoryStore, or Redis (connect-redis) when
 * REDIS_URL is set. One instance, provided by SessionStoreModule, is read and written by the
 * express-session middleware (main.ts installs `middleware()`) and read by the auth listener
 * (AUTH_PORT, auth-listener.ts) with the same secret and cookie name: with MemoryStore, a second
 * store would hold none of the sessions the app writes.
 */
export class SessionStore {
  /** The session cookie's name, express-session's `name`. */
  readonly cookieName = SESSION_COOKIE;

  private constructor(
    readonly store: Store,
    /** Signs the session cookie (SESSION_SECRET). */
    readonly secret: string,
    private readonly closeStore: () => Promise<void>,
  ) {}

  /** Connects to Redis first when REDIS_URL is set. */
  static async open(config: SampleConfig): Promise<SessionStore> {
    if (!config.redisUrl) return new SessionStore(new session.MemoryStore(), config.sessionSecret, async () => undefined);
    const { createClient } = await import('redis');
    const { RedisStore } = await import('connect-redis');
    const client = createClient({ url: config.redisUrl });
    // The client's messages may quote the URL, password included.
    client.on('error', (err: Error) => console.error(`redis: ${redactUrl(err.message)}`));
    try {
      await client.connect();
    } catch (err) {
      // Nest logs a provider's error as it is: say where without the password.
      throw new Error(`sessions: cannot connect to Redis at ${redactUrl(config.redisUrl)}: ${redactUrl(err instanceof Error ? err.message : String(err))}`);
    }
    return new SessionStore(new RedisStore({ client, prefix: 'sample-sess:' }), config.sessionSecret, async () => {
      await client.close();
    });
  }

  /**
   * express-session over this store. `saveUninitialized: false`: a session is stored (and its
   * cookie set) only once something is put in it, which happens only when a visitor writes
   * (SessionsService). Loading the page, and the auth subrequests nginx sends for every
   * subscription (to the app, or to the auth listener), read sessions and never create one.
   */
  middleware(): RequestHandler {
    return session({
      name: this.cookieName,
      secret: this.secret,
      store: this.store,
      resave: false,
      saveUninitialized: false,
      cookie: { ...SESSION_COOKIE_OPTIONS, secure: 'auto', maxAge: 24 * 3600 * 1000 },
    });
  }

  /** Closes the Redis client, if any (SessionStoreModule, once the listeners are closed). */
  async close(): Promise<void> {
    await this.closeStore();
  }
}
