import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Label of the key tickets are signed with: HMAC-SHA256(secret, label), hex. nginx holds this
 * derived key, never the secret itself (which also keys session channel tokens).
 */
const TICKET_KEY_LABEL = 'nestjs-push-stream subscription ticket v1';

/**
 * How a ticket is signed, which is how nginx checks it (both with the same derived key):
 *
 * - `hmac-sha256` (default; `nginx-config --auth ticket`): `<expiry>.<base64url HMAC-SHA256 of
 *   "<expiry>:<channel path>">`, checked by njs (nginx/push-stream-ticket.js). The channel path
 *   leaves out push-stream's `.b<n>` suffixes, so a backtrack or a resume keeps its ticket.
 * - `secure-link-md5` (`--auth secure-link`): `<expiry>.<base64url MD5 of "<expiry>:<channel path>
 *   <key>">`, checked by nginx's own secure_link module: no njs, no memory per subscriber for it.
 *   The channel path is exactly the URL's, and nginx refuses a path with a `.b<n>` suffix (it
 *   cannot strip them): history comes by event-id resume instead. nginx still accepts the ticket
 *   during the second `expiresAt` itself (secure_link refuses only `expires < now`).
 */
export type TicketFormat = 'hmac-sha256' | 'secure-link-md5';

/** Every TicketFormat, the default first. */
export const TICKET_FORMATS: readonly TicketFormat[] = ['hmac-sha256', 'secure-link-md5'];

/** A push-stream backtrack suffix at the end of a segment (`a.b5/b`): what ticketChannelPath removes and secure-link refuses. */
const BACKTRACK = /\.b\d+(?=\/|$)/;
const HMAC_TICKET = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/;
/**
 * The secure-link flavor as the rendered config's map accepts it: at most 12 digits, and the MD5 in
 * the one base64url spelling whose last character carries no spare bits (nginx's decoder ignores
 * them, so it would take 16 spellings of each digest).
 */
const SECURE_LINK_TICKET = /^(\d{1,12})\.([A-Za-z0-9_-]{21}[AQgw])$/;
/** Largest expiry either flavor can carry (12 digits). */
const MAX_EXPIRY = 999_999_999_999;

/** The key nginx verifies tickets with, derived from the module's `secret`: 64 hex characters. */
export function deriveTicketKey(secret: string): string {
  return createHmac('sha256', secret).update(TICKET_KEY_LABEL, 'utf8').digest('hex');
}

/**
 * What an HMAC ticket signs for a channel path (the subscriber URL's path after `/sub/`, `/ws/`, ...):
 * the path with push-stream's backtrack suffixes (`.b<n>` at the end of a segment) removed, so a
 * resume does not need a new ticket. Channel names cannot contain ".", so nothing else changes.
 * nginx/push-stream-ticket.js applies the same rule. (A secure-link ticket signs the path as is.)
 */
export function ticketChannelPath(path: string): string {
  return path.replace(/\.b\d+(?=\/|$)/g, '');
}

function hmacSignature(key: string, expiresAt: number, channelPath: string): string {
  return createHmac('sha256', key).update(`${expiresAt}:${ticketChannelPath(channelPath)}`, 'utf8').digest('base64url');
}

/** secure_link_md5 of the rendered config: `"$expiry:$push_channels <key>"`, the expiry as the ticket writes it. */
function secureLinkDigest(key: string, expiryText: string, channelPath: string): Buffer {
  return createHash('md5').update(`${expiryText}:${channelPath} ${key}`, 'utf8').digest();
}

function checkFormat(format: unknown): asserts format is TicketFormat {
  if (!TICKET_FORMATS.includes(format as TicketFormat)) throw new TypeError(`ticket format must be ${TICKET_FORMATS.map((f) => JSON.stringify(f)).join(' or ')}, got ${JSON.stringify(format)}`);
}

/**
 * A ticket for `channelPath` valid until `expiresAt` (unix seconds), in `format` (default
 * `hmac-sha256`). A secure-link ticket needs an expiry from 1 to 12 digits (nginx reads 0 as none),
 * and refuses a path with a `.b<n>` suffix, which nginx would never open: RangeError.
 */
export function signTicket(key: string, channelPath: string, expiresAt: number, format: TicketFormat = 'hmac-sha256'): string {
  checkFormat(format);
  if (!Number.isSafeInteger(expiresAt) || expiresAt < 0) throw new RangeError(`expiresAt must be unix seconds, got ${expiresAt}`);
  if (format === 'hmac-sha256') return `${expiresAt}.${hmacSignature(key, expiresAt, channelPath)}`;
  if (expiresAt < 1 || expiresAt > MAX_EXPIRY) throw new RangeError(`a secure-link ticket's expiresAt must be 1 to ${MAX_EXPIRY}, got ${expiresAt}`);
  if (BACKTRACK.test(channelPath)) {
    throw new RangeError(`a secure-link ticket cannot open a path with a .b<n> backtrack suffix (nginx refuses them in secure-link mode): ${JSON.stringify(channelPath)}`);
  }
  return `${expiresAt}.${secureLinkDigest(key, String(expiresAt), channelPath).toString('base64url')}`;
}

export type TicketVerdict = 'valid' | 'expired' | 'invalid';

export interface VerifyTicketOptions {
  /** Unix seconds. Default: now. */
  now?: number;
  /** The flavor the nginx in question checks. Default `hmac-sha256`. */
  format?: TicketFormat;
}

/**
 * nginx's decision, in Node: for tests (the fuzzer's oracle) and for apps that check a ticket
 * themselves. Expired is only said of a ticket whose signature is right. The last argument is the
 * current time (unix seconds) or `{ now, format }`; each flavor follows its own nginx check exactly
 * (secure-link: still valid during the second `expiresAt`; an expiry of 0 or a `.b<n>` path invalid).
 */
export function verifyTicket(key: string, ticket: string, channelPath: string, nowOrOptions: number | VerifyTicketOptions = {}): TicketVerdict {
  const options = typeof nowOrOptions === 'number' ? { now: nowOrOptions } : nowOrOptions;
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const format = options.format ?? 'hmac-sha256';
  checkFormat(format);
  if (format === 'secure-link-md5') {
    const m = SECURE_LINK_TICKET.exec(ticket);
    if (m === null || BACKTRACK.test(channelPath)) return 'invalid';
    const expiresAt = Number(m[1]);
    // secure_link: an expiry that reads as 0 is refused outright. The digest covers the expiry as
    // written (leading zeros too), as the config's secure_link_md5 does.
    if (expiresAt === 0 || !timingSafeEqual(Buffer.from(m[2], 'base64url'), secureLinkDigest(key, m[1], channelPath))) return 'invalid';
    return expiresAt < now ? 'expired' : 'valid';
  }
  const m = HMAC_TICKET.exec(ticket);
  if (m === null) return 'invalid';
  const expiresAt = Number(m[1]);
  const given = Buffer.from(m[2], 'utf8');
  const expected = Buffer.from(hmacSignature(key, expiresAt, channelPath), 'utf8');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid';
  return expiresAt <= now ? 'expired' : 'valid';
}
