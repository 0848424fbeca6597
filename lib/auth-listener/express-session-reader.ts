import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { cookiePairs } from '../auth/cookie-header.js';
import { BoundedMemo } from '../channels/bounded-memo.js';
import { PushStreamConfigError } from '../errors/push-stream.exception.js';
import { PushStreamSessionReader, type ReadSession } from './push-stream-session-reader.js';

/** Its options are the auth listener's `session`. */
const MODULE = 'PushStreamAuthListenerModule';
/**
 * How long a store read in flight is shared with later requests of the same session. A read takes
 * well under a millisecond; one older than this is presumed stuck, and a new one is made rather
 * than joined, so that a store that never answers cannot hold a session's later subscriptions.
 */
const SHARE_READ_MS = 100;
/**
 * Past this many reads in flight, the stuck ones are dropped from the table. Only a store that
 * stops answering (an outage) gets here; their requests keep waiting, but no session's entry stays.
 */
const SWEEP_AT = 1024;

type StoredSession = object | null | undefined;

/** What the reader needs of an express-session store (MemoryStore, connect-redis, ...). */
export interface SessionStoreLike {
  get(sid: string, callback: (err: unknown, session?: object | null) => void): unknown;
}

export interface ExpressSessionReaderOptions {
  /** The store given to express-session. */
  store: SessionStoreLike;
  /** express-session's `secret`: one, or several with the current one first. */
  secret: string | string[];
  /** express-session's `name`, the cookie's. Default `connect.sid`. */
  name?: string;
}

/** A session cookie's `expires` that has passed: the store should not have it, but a store that keeps it is not trusted. */
function expired(data: Record<string, unknown>): boolean {
  const cookie = data.cookie as { expires?: unknown } | undefined;
  const expires = cookie?.expires;
  if (typeof expires !== 'string' && !(expires instanceof Date)) return false;
  const at = new Date(expires).getTime();
  return Number.isFinite(at) && at <= Date.now();
}

/**
 * Reads express-session's sessions as express-session does: the signed cookie
 * (`s:<id>.<signature>`, cookie-signature's HMAC-SHA256 under each secret in turn), then the store.
 * It never writes: a subscription neither creates, extends nor saves a session.
 */
export class ExpressSessionReader extends PushStreamSessionReader {
  private readonly store: SessionStoreLike;
  private readonly name: string;
  // Prepared once: the key of every cookie check.
  private readonly keys: KeyObject[];
  /** Signed cookie value → the id it carries, or null: a subscriber reconnects with the same cookie. */
  private readonly verified = new BoundedMemo<string | null>((signed) => this.verify(signed));
  /**
   * Session id → its store read in flight. The subscriptions a page opens at once, and the
   * reconnects of a session's tabs, arrive together: they share one `store.get` (a Redis round
   * trip costs the app more than the rest of a decision). Nothing is kept once the read settled.
   * Those requests get the same data object as `request.session`: rules must not change it.
   */
  private readonly reading = new Map<string, { at: number; data: Promise<StoredSession> }>();

  constructor(options: ExpressSessionReaderOptions) {
    super();
    if (options === null || typeof options !== 'object' || typeof options.store?.get !== 'function') {
      throw new PushStreamConfigError('session.store', "must be express-session's store (an object with get(sid, callback))", MODULE);
    }
    const secrets = Array.isArray(options.secret) ? options.secret : [options.secret];
    if (secrets.length === 0 || secrets.some((s) => typeof s !== 'string' || s === '')) {
      throw new PushStreamConfigError('session.secret', "must be express-session's secret: a non-empty string or array of them", MODULE);
    }
    const name = options.name ?? 'connect.sid';
    if (typeof name !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw new PushStreamConfigError('session.name', `must be a cookie name, got ${JSON.stringify(name)}`, MODULE);
    }
    this.store = options.store;
    this.name = name;
    this.keys = secrets.map((s) => createSecretKey(Buffer.from(s, 'utf8')));
  }

  async read(headers: IncomingHttpHeaders): Promise<ReadSession | null> {
    const id = this.sessionId(headers.cookie);
    if (id === null) return null;
    const data = await this.load(id);
    if (data === null || data === undefined || typeof data !== 'object') return null;
    const record = data as Record<string, unknown>;
    return expired(record) ? null : { id, data: record };
  }

  /** The store's session, through the read of the same id in flight when there is a recent one. */
  private load(id: string): Promise<StoredSession> {
    // Monotonic: a wall clock set back must not make a stuck read look recent.
    const now = performance.now();
    const shared = this.reading.get(id);
    if (shared !== undefined && now - shared.at < SHARE_READ_MS) return shared.data;
    const data = new Promise<StoredSession>((resolve, reject) => {
      this.store.get(id, (err, session) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(session)));
    });
    const entry = { at: now, data };
    if (this.reading.size >= SWEEP_AT) this.dropStuck(now);
    this.reading.set(id, entry);
    const settled = () => {
      // Only its own entry: a newer read may have replaced a stuck one.
      if (this.reading.get(id) === entry) this.reading.delete(id);
    };
    data.then(settled, settled);
    return data;
  }

  /** Forgets the reads in flight too old to be joined. */
  private dropStuck(now: number): void {
    for (const [id, entry] of this.reading) if (now - entry.at >= SHARE_READ_MS) this.reading.delete(id);
  }

  /** The id the cookie carries when one of the secrets signed it, else null. */
  private sessionId(header: string | undefined): string | null {
    // The first cookie of the name, as express-session reads it.
    for (const [name, value] of cookiePairs(header)) {
      if (name === this.name) return value.startsWith('s:') ? this.verified.get(value.slice(2)) : null;
    }
    return null;
  }

  /** `<id>.<signature>` → the id, when the signature is cookie-signature's under one of the secrets. */
  private verify(signed: string): string | null {
    const dot = signed.lastIndexOf('.');
    if (dot <= 0) return null;
    const id = signed.slice(0, dot);
    const signature = Buffer.from(signed.slice(dot + 1), 'utf8');
    for (const key of this.keys) {
      const expected = Buffer.from(createHmac('sha256', key).update(id).digest('base64').replace(/=+$/, ''), 'utf8');
      if (expected.length === signature.length && timingSafeEqual(expected, signature)) return id;
    }
    return null;
  }
}
