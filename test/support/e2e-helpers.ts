import { request } from 'node:http';
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

/** GET through nginx's long-poll location: the channel's oldest stored message, as nginx stores it. */
export function longPollOldest(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.setTimeout(5000, () => req.destroy(new Error(`long-poll ${url} did not answer within 5000 ms`)));
    req.on('error', reject);
    req.end();
  });
}
