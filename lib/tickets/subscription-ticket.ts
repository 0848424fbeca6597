import { createHmac, timingSafeEqual } from 'node:crypto';
import { ticketExpiry } from '../shared/push-stream-protocol.js';

/**
 * Label of the key tickets are signed with: HMAC-SHA256(secret, label), hex. nginx holds this
 * derived key, never the secret itself (which also keys session channel tokens).
 */
const TICKET_KEY_LABEL = 'nestjs-push-stream subscription ticket v1';

/** The key nginx verifies tickets with, derived from the module's `secret`: 64 hex characters. */
export function deriveTicketKey(secret: string): string {
  return createHmac('sha256', secret).update(TICKET_KEY_LABEL, 'utf8').digest('hex');
}

/**
 * What a ticket signs for a channel path (the subscriber URL's path after `/sub/`, `/ws/`, ...):
 * the path with push-stream's backtrack suffixes (`.b<n>` at the end of a segment) removed, so a
 * resume does not need a new ticket. Channel names cannot contain ".", so nothing else changes.
 * nginx/push-stream-ticket.js applies the same rule.
 */
export function ticketChannelPath(path: string): string {
  return path.replace(/\.b\d+(?=\/|$)/g, '');
}

function signature(key: string, expiresAt: number, channelPath: string): string {
  return createHmac('sha256', key).update(`${expiresAt}:${ticketChannelPath(channelPath)}`, 'utf8').digest('base64url');
}

/** A ticket for `channelPath` valid until `expiresAt` (unix seconds). */
export function signTicket(key: string, channelPath: string, expiresAt: number): string {
  if (!Number.isSafeInteger(expiresAt) || expiresAt < 0) throw new RangeError(`expiresAt must be unix seconds, got ${expiresAt}`);
  return `${expiresAt}.${signature(key, expiresAt, channelPath)}`;
}

export type TicketVerdict = 'valid' | 'expired' | 'invalid';

/**
 * nginx's decision, in Node: for tests (the fuzzer's oracle) and for apps that check a ticket
 * themselves. Expired is only said of a ticket whose signature is right.
 */
export function verifyTicket(key: string, ticket: string, channelPath: string, now = Math.floor(Date.now() / 1000)): TicketVerdict {
  const expiresAt = ticketExpiry(ticket);
  if (expiresAt === null) return 'invalid';
  const given = Buffer.from(ticket.slice(ticket.indexOf('.') + 1), 'utf8');
  const expected = Buffer.from(signature(key, expiresAt, channelPath), 'utf8');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid';
  return expiresAt <= now ? 'expired' : 'valid';
}
