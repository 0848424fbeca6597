import { Inject, Injectable, type OnModuleDestroy, Optional } from '@nestjs/common';
import { Agent, errors, util } from 'undici';
import { PushStreamConfigError, PushStreamConnectionError, PushStreamTimeoutError } from '../errors/push-stream.exception.js';
import { PUSH_STREAM_UNDICI_OPTIONS } from '../push-stream.constants.js';
import { PushStreamHttpClient, type PushStreamHttpRequest, type PushStreamHttpResponse } from './http-client.interface.js';

/**
 * undici's Agent (pool) options, e.g. `{ connections: 64, connect: { ca } }`. Defaults:
 * `connections` 32 per nginx origin, `keepAliveTimeout` 30 s, `pipelining` 1. Each request is
 * bounded as a whole by its `timeoutMs` (`publishTimeoutMs`); undici's own `headersTimeout`,
 * `bodyTimeout` and `connect.timeout` apply too, if lower.
 */
export type UndiciHttpClientOptions = Agent.Options;

const POOL_DEFAULTS: UndiciHttpClientOptions = { connections: 32, keepAliveTimeout: 30_000, pipelining: 1 };

/** A publisher or stats URL's part before "?", parsed once. */
interface ParsedBase {
  base: string;
  origin: string;
  pathname: string;
  authorization?: string;
}

/**
 * Default transport: undici with a keep-alive pool per nginx origin. Closes its pool when the
 * Nest application shuts down so tests and CLIs exit promptly.
 *
 * In PushStreamModule its pool options come from the `undici` module option; outside it,
 * `new UndiciHttpClient({ connections: 8 })`.
 */
@Injectable()
export class UndiciHttpClient extends PushStreamHttpClient implements OnModuleDestroy {
  private readonly agent: Agent;
  private readonly parsed = new Map<string, ParsedBase>();
  private last: ParsedBase | null = null;

  // The token is optional so that the class also works as a provider outside PushStreamModule.
  constructor(@Optional() @Inject(PUSH_STREAM_UNDICI_OPTIONS) options?: UndiciHttpClientOptions | null) {
    super();
    // An option given as undefined keeps its default instead of switching undici's off.
    const given = Object.fromEntries(Object.entries(options ?? {}).filter(([, v]) => v !== undefined));
    try {
      this.agent = new Agent({ ...POOL_DEFAULTS, ...given });
    } catch (err) {
      throw new PushStreamConfigError('undici', err instanceof Error ? err.message : String(err));
    }
  }

  /**
   * One attempt, bounded by `timeoutMs` overall (waiting for a pooled connection, connecting,
   * sending and the whole answer), with one timer. The request goes through undici's dispatch
   * API with a small handler (UndiciAttempt) rather than `agent.request`: no body stream, no
   * per-request AbortSignal, no header object until one is read (bench/, P1).
   */
  request(req: PushStreamHttpRequest): Promise<PushStreamHttpResponse> {
    let target: { origin: string; path: string; authorization?: string };
    try {
      target = this.target(req.url);
    } catch (err) {
      return Promise.reject(new PushStreamConnectionError(req.url, err));
    }
    const { origin, path, authorization } = target;
    return new Promise((resolve, reject) => {
      const attempt = new UndiciAttempt(req.url, req.timeoutMs, resolve, reject);
      try {
        // undici calls the handler's onError for a request it refuses, also synchronously.
        this.agent.dispatch(
          {
            origin,
            path,
            method: req.method,
            headers: authorization === undefined || 'authorization' in req.headers ? req.headers : { ...req.headers, authorization },
            body: req.body,
          },
          attempt,
        );
      } catch (err) {
        // Settles the attempt and clears its timer.
        attempt.onError(err as Error);
      }
    });
  }

  /**
   * Origin, path and Basic credentials of `url`; the part before "?" (a few publisher and stats
   * URLs) is parsed once. Credentials in the URL (`http://user:pass@proxy/pub`) become an
   * Authorization header, as axios and curl do: an origin never carries them.
   */
  private target(url: string): { origin: string; path: string; authorization?: string } {
    // The last base seen first (a service publishes to one or a few URLs): a prefix compare
    // instead of slicing and hashing the URL for the map.
    let parsed = this.last;
    let q: number;
    if (parsed !== null && url.startsWith(parsed.base) && (url.length === parsed.base.length || url.charCodeAt(parsed.base.length) === 63 /* ? */)) {
      q = url.length === parsed.base.length ? -1 : parsed.base.length;
    } else {
      q = url.indexOf('?');
      const base = q === -1 ? url : url.slice(0, q);
      parsed = this.parsed.get(base) ?? null;
      if (parsed === null) {
        const u = new URL(base);
        const authorization =
          u.username === '' && u.password === ''
            ? undefined
            : `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`, 'utf8').toString('base64')}`;
        parsed = { base, origin: u.origin, pathname: u.pathname, authorization };
        if (this.parsed.size < 64) this.parsed.set(base, parsed);
      }
      this.last = parsed;
    }
    return { origin: parsed.origin, path: q === -1 ? parsed.pathname : parsed.pathname + url.slice(q), authorization: parsed.authorization };
  }

  async onModuleDestroy(): Promise<void> {
    await this.agent.close();
  }
}

function isTimeout(err: unknown): boolean {
  return (
    err instanceof errors.HeadersTimeoutError ||
    err instanceof errors.BodyTimeoutError ||
    err instanceof errors.ConnectTimeoutError ||
    (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError'))
  );
}

/** The reason given to undici when an attempt's deadline passes (never reaches the caller). */
class AttemptExpired extends Error {
  override readonly name = 'AttemptExpired';
}

function expire(attempt: UndiciAttempt): void {
  attempt.expire();
}

/**
 * One request's undici dispatch handler (undici 7's handler interface, the one its clients call
 * directly: the newer onRequestStart/onResponse* interface is adapted to it per request and
 * parses every header). It collects the status, the raw headers and the body, settles the
 * attempt's promise once, and owns the attempt's only timer: at the deadline the caller gets a
 * PushStreamTimeoutError at once, and undici drops the request (not yet sent: before it is
 * written, the connection kept) or aborts it (sent: the connection is closed, as undici's own
 * headersTimeout does).
 */
class UndiciAttempt {
  private readonly timer: ReturnType<typeof setTimeout>;
  private abort: ((err?: Error) => void) | null = null;
  private settled = false;
  private status = 0;
  private rawHeaders: Buffer[] | null = null;
  private chunk: Buffer | null = null;
  private chunks: Buffer[] | null = null;

  constructor(
    private readonly url: string,
    private readonly timeoutMs: number,
    private readonly resolve: (res: PushStreamHttpResponse) => void,
    private readonly reject: (err: unknown) => void,
  ) {
    this.timer = setTimeout(expire, timeoutMs, this);
  }

  expire(): void {
    if (this.settled) return;
    this.settled = true;
    this.reject(new PushStreamTimeoutError(this.url, this.timeoutMs));
    // Not yet written (waiting for a connection): onConnect refuses it when its turn comes.
    this.abort?.(new AttemptExpired('deadline passed'));
  }

  onConnect(abort: (err?: Error) => void): void {
    // Throwing here makes undici drop the request unsent and keep the connection.
    if (this.settled) throw new AttemptExpired('deadline passed before the request was sent');
    this.abort = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], _resume: () => void, _statusText: string): boolean {
    // 1xx informational answers come before the real one.
    if (statusCode >= 200) {
      this.status = statusCode;
      this.rawHeaders = rawHeaders;
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.chunk === null) this.chunk = chunk;
    else (this.chunks ??= [this.chunk]).push(chunk);
    return true;
  }

  onComplete(_trailers: string[] | null): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    const body = this.chunks !== null ? Buffer.concat(this.chunks) : this.chunk;
    this.resolve(new UndiciResponse(this.status, this.rawHeaders ?? [], body === null ? '' : utf8Text(body)));
  }

  onError(err: Error): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.reject(isTimeout(err) ? new PushStreamTimeoutError(this.url, this.timeoutMs) : new PushStreamConnectionError(this.url, err));
  }
}

/** A body as text, as undici's `body.text()` reads it: UTF-8, a leading byte order mark dropped. */
function utf8Text(body: Buffer): string {
  const bom = body.length > 2 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf;
  return body.toString('utf8', bom ? 3 : 0);
}

/**
 * An answer whose header record is built on first read: the service reads a header only on an
 * error status (nginx's explain header), and the dialects read none. Names are lower case and a
 * repeated header's values are joined with ", ", as before. `headers` is a getter on the
 * prototype: spread or Object.keys do not see it, JSON.stringify does (toJSON).
 */
class UndiciResponse implements PushStreamHttpResponse {
  #raw: Buffer[] | null;
  #headers: Record<string, string> | null = null;

  constructor(
    readonly status: number,
    raw: Buffer[],
    readonly body: string,
  ) {
    this.#raw = raw;
  }

  get headers(): Record<string, string> {
    if (this.#headers === null) {
      const parsed = util.parseHeaders(this.#raw ?? []) as Record<string, string | string[] | undefined>;
      const headers: Record<string, string> = {};
      for (const k of Object.keys(parsed)) {
        const v = parsed[k];
        if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      }
      this.#headers = headers;
      this.#raw = null;
    }
    return this.#headers;
  }

  toJSON(): PushStreamHttpResponse {
    return { status: this.status, headers: this.headers, body: this.body };
  }
}
