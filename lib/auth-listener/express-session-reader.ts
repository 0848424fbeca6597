import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
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

/** `s` without the spaces and tabs around it: what the `cookie` package trims (not String#trim's other white space). */
function trimSpaces(s: string): string {
  let from = 0;
  let to = s.length;
  while (from < to && (s.charCodeAt(from) === 0x20 || s.charCodeAt(from) === 0x09)) from++;
  while (to > from && (s.charCodeAt(to - 1) === 0x20 || s.charCodeAt(to - 1) === 0x09)) to--;
  return s.slice(from, to);
}

/** The value of the first cookie called `name`, percent-decoded, as the `cookie` package parses it. */
function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  let start = 0;
  while (start < header.length) {
    let end = header.indexOf(';', start);
    if (end < 0) end = header.length;
    const eq = header.indexOf('=', start);
    if (eq > start && eq < end && trimSpaces(header.slice(start, eq)) === name) {
      let value = trimSpaces(header.slice(eq + 1, end));
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      if (!value.includes('%')) return value;
      try {
        return decodeURIComponent(value);
      } catch {
        return value;
      }
    }
    start = end + 1;
  }
  return undefined;
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
    const raw = cookieValue(header, this.name);
    if (raw === undefined || !raw.startsWith('s:')) return null;
    return this.verified.get(raw.slice(2));
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
