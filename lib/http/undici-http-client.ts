import { Inject, Injectable, type OnModuleDestroy, Optional } from '@nestjs/common';
import { Agent, errors } from 'undici';
import { PushStreamConfigError, PushStreamConnectionError, PushStreamTimeoutError } from '../errors/push-stream.exception.js';
import { PUSH_STREAM_UNDICI_OPTIONS } from '../push-stream.constants.js';
import { PushStreamHttpClient, type PushStreamHttpRequest, type PushStreamHttpResponse } from './http-client.interface.js';

/**
 * undici's Agent (pool) options, e.g. `{ connections: 64, connect: { ca } }`. Defaults:
 * `connections` 32 per nginx origin, `keepAliveTimeout` 30 s, `pipelining` 1. Header and body
 * timeouts are set per request from `publishTimeoutMs`.
 */
export type UndiciHttpClientOptions = Agent.Options;

const POOL_DEFAULTS: UndiciHttpClientOptions = { connections: 32, keepAliveTimeout: 30_000, pipelining: 1 };

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
  private readonly parsed = new Map<string, { origin: string; pathname: string; authorization?: string }>();

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
   * One attempt, bounded by `timeoutMs` overall. The deadline is a plain timer raced against the
   * request rather than an AbortSignal: undici's per-request abort handling cost a fifth to a third of
   * the throughput (bench/). The request itself is also bounded by headersTimeout/bodyTimeout, so a
   * request that lost the race frees its connection on its own.
   */
  request(req: PushStreamHttpRequest): Promise<PushStreamHttpResponse> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new PushStreamTimeoutError(req.url, req.timeoutMs)), req.timeoutMs);
      this.send(req).then(
        (res) => {
          clearTimeout(timer);
          resolve(res);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  private async send(req: PushStreamHttpRequest): Promise<PushStreamHttpResponse> {
    try {
      // agent.request with origin and path: the top-level request(url) re-parses and re-checks
      // options on every call, which showed in the publish benchmark.
      const { origin, path, authorization } = this.target(req.url);
      const res = await this.agent.request({
        origin,
        path,
        method: req.method,
        headers: authorization === undefined || 'authorization' in req.headers ? req.headers : { ...req.headers, authorization },
        body: req.body,
        headersTimeout: req.timeoutMs,
        bodyTimeout: req.timeoutMs,
      });
      const body = await res.body.text();
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) {
        if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
      }
      return { status: res.statusCode, headers, body };
    } catch (err) {
      if (isTimeout(err)) throw new PushStreamTimeoutError(req.url, req.timeoutMs);
      throw new PushStreamConnectionError(req.url, err);
    }
  }

  /**
   * Origin, path and Basic credentials of `url`; the part before "?" (a few publisher and stats
   * URLs) is parsed once. Credentials in the URL (`http://user:pass@proxy/pub`) become an
   * Authorization header, as axios and curl do: an origin never carries them.
   */
  private target(url: string): { origin: string; path: string; authorization?: string } {
    const q = url.indexOf('?');
    const base = q === -1 ? url : url.slice(0, q);
    let parsed = this.parsed.get(base);
    if (parsed === undefined) {
      const u = new URL(base);
      const authorization =
        u.username === '' && u.password === ''
          ? undefined
          : `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`, 'utf8').toString('base64')}`;
      parsed = { origin: u.origin, pathname: u.pathname, authorization };
      if (this.parsed.size < 64) this.parsed.set(base, parsed);
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
