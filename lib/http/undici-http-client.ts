import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Agent, errors, request } from 'undici';
import { PushStreamConnectionError, PushStreamTimeoutError } from '../errors/push-stream.exception.js';
import type { PushStreamHttpClient, PushStreamHttpRequest, PushStreamHttpResponse } from './http-client.interface.js';

export interface UndiciHttpClientOptions {
  /** Keep-alive connections per nginx origin. Default 32. */
  connections?: number;
}

/**
 * Default transport: undici with a keep-alive pool per nginx origin. Closes its pool when the
 * Nest application shuts down so tests and CLIs exit promptly.
 */
@Injectable()
export class UndiciHttpClient implements PushStreamHttpClient, OnModuleDestroy {
  private readonly agent: Agent;

  constructor(options: UndiciHttpClientOptions = {}) {
    this.agent = new Agent({ connections: options.connections ?? 32, keepAliveTimeout: 30_000, pipelining: 1 });
  }

  async request(req: PushStreamHttpRequest): Promise<PushStreamHttpResponse> {
    try {
      const res = await request(req.url, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        dispatcher: this.agent,
        headersTimeout: req.timeoutMs,
        bodyTimeout: req.timeoutMs,
        signal: AbortSignal.timeout(req.timeoutMs),
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
