import { request, type IncomingHttpHeaders } from 'node:http';
import { splitJsonObjects } from '../../lib/browser/decode-message.js';
import type { PushStreamHttpClient, PushStreamHttpRequest } from '../../lib/http/http-client.interface.js';

/** A secret long enough for the module's validation; the publishing tests never check tokens. */
export const E2E_SECRET = 'e2e-secret-0123456789abcdef';

let counter = 0;
/** A channel name no other test uses, so replayed buffers never mix: `<prefix>__t__<unique>`. */
export function uniqueChannel(prefix: string, tag = 't'): string {
  counter += 1;
  return `${prefix}__${tag}__${process.pid}-${Date.now().toString(36)}-${counter}`;
}

/** Counts the requests a transport is asked to make, wrapping its `request` in place. */
export function countRequests(client: PushStreamHttpClient): { readonly calls: PushStreamHttpRequest[]; reset(): void } {
  const calls: PushStreamHttpRequest[] = [];
  const original = client.request.bind(client);
  client.request = (req) => {
    calls.push(req);
    return original(req);
  };
  return { calls, reset: () => void calls.splice(0) };
}

/**
 * Polls `check` until it returns true, for state another process settles (nginx registering a
 * subscriber). The bound only turns a hang into a clear failure; nothing asserts on time.
 */
export async function eventually(what: string, check: () => Promise<boolean>, boundMs = 5000): Promise<void> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${boundMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * A source of loopback addresses, each new: `127.<block>.x.y`. nginx limits subscriptions per
 * client address (10/s, burst 30), so a test whose requests stand for different visitors sends each
 * from an address of its own (`localAddress`). A suite takes a block of its own.
 */
export function loopbackAddresses(block: number): () => string {
  let used = 0;
  return () => {
    used = (used + 1) % 60_000;
    return `127.${block}.${Math.floor(used / 250)}.${(used % 250) + 1}`;
  };
}

export interface LongPollAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * One GET on nginx's long-poll location (`/lp/<channel>`), with request headers such as
 * If-None-Match / If-Modified-Since. `boundMs` turns a poll nginx keeps waiting into a clear
 * failure; nothing asserts on time.
 */
export function longPoll(url: string, headers: Record<string, string> = {}, boundMs = 5000): Promise<LongPollAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.setTimeout(boundMs, () => req.destroy(new Error(`long-poll ${url} did not answer within ${boundMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * The messages of a long-poll answer, each parsed as JSON (so an invalid one fails the test).
 * Nchan answers one message; the Push Stream Module concatenates every message it sends, `{..}{..}`.
 */
export function jsonMessages(body: string): unknown[] {
  const { objects } = splitJsonObjects(body);
  // Nothing but whitespace may lie between or around the messages.
  let pos = 0;
  for (const o of [...objects, '']) {
    const at = o === '' ? body.length : body.indexOf(o, pos);
    if (at < 0 || body.slice(pos, at).trim() !== '') throw new Error(`long-poll body is not JSON messages: ${JSON.stringify(body)}`);
    pos = at + o.length;
  }
  return objects.map((o) => JSON.parse(o) as unknown);
}
