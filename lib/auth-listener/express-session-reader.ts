import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { cookiePairs } from '../auth/cookie-header.js';
import { BoundedMemo } from '../channels/bounded-memo.js';
import { PushStreamConfigError } from '../errors/push-stream.exception.js';
import { PushStreamSessionReader, type ReadSession } from './push-stream-session-reader.js';

/** Its options are the auth listener's `session`. */
const MODULE = 'PushStreamAuthListenerModule';

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
    const data = await new Promise<object | null | undefined>((resolve, reject) => {
      this.store.get(id, (err, session) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(session)));
    });
    if (data === null || data === undefined || typeof data !== 'object') return null;
    const record = data as Record<string, unknown>;
    return expired(record) ? null : { id, data: record };
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
