/**
 * What the library (NestJS side) and the browser client (`nestjs-push-stream/browser`) must agree
 * on, for both servers. No imports on purpose: the browser loads this file as a plain ES module
 * next to dist/browser, and the library must not pull anything browser-only with it.
 *
 * Server-specific details (delimiters, backtrack, resume arguments, subprotocols, limits of one
 * server) live in the dialect files of each side, not here.
 */

/**
 * The only characters a channel id may have. Both servers percent-decode and split ids
 * (push-stream on "/", Nchan on its delimiter), and neither JSON-escapes names, so anything
 * else could publish to, or subscribe to, a channel the caller did not name.
 */
export const CHANNEL_NAME_PATTERN = /^[A-Za-z0-9_-]+$/;

/** CHANNEL_NAME_PATTERN in words, for error messages. */
export const CHANNEL_NAME_ALPHABET = 'A-Z a-z 0-9 _ -';

/** Names the servers treat specially: push-stream reserves ALL for the statistics of every channel. */
export const RESERVED_CHANNEL_NAMES: readonly string[] = ['ALL'];

/**
 * Default longest channel name (the module option maxChannelNameLength). The shipped push-stream
 * config sets push_stream_max_channel_id_length to the same value.
 */
export const DEFAULT_MAX_CHANNEL_NAME_LENGTH = 128;

/**
 * Default most channels in one subscription (the module option auth.maxChannelsPerRequest): the
 * auth endpoint refuses more with 403, and the shipped Nchan config sizes
 * nchan_max_channel_id_length for this many names of DEFAULT_MAX_CHANNEL_NAME_LENGTH.
 */
export const DEFAULT_MAX_CHANNELS_PER_SUBSCRIPTION = 16;

/** Nchan multiplexes no more channels than this in one subscriber (or publish); the library uses it for both servers. */
export const MAX_CHANNELS_PER_REQUEST = 255;

/** Subscriber locations of nginx/*.conf.template, by transport (`stream` is curl-style, not used by the browser). */
export const SUBSCRIBER_LOCATIONS = {
  stream: '/sub/',
  websocket: '/ws/',
  eventsource: '/ev/',
  longpolling: '/lp/',
} as const;

/** Message id push-stream gives its pings. */
export const PING_MESSAGE_ID = -1;

/**
 * Message id of the channel-deleted notice: push-stream's own, and the one the library's in-band
 * notice on Nchan copies so that the browser reads both alike.
 */
export const CHANNEL_DELETED_MESSAGE_ID = -2;

/** Text of the channel-deleted notice (push_stream_channel_deleted_message_text, the Nchan notice's text). */
export const CHANNEL_DELETED_TEXT = 'Channel deleted';

/**
 * Signed subscription tickets (opt-in): the app signs a channel set and an expiry, nginx checks the
 * signature by itself and never asks the app. A ticket is `<expiry, unix seconds>.<signature>`,
 * sent as the query argument named here. Two flavors (TicketFormat in lib/tickets): base64url
 * HMAC-SHA256, 43 characters (`--auth ticket`, njs: nginx/push-stream-ticket.js), or base64url MD5,
 * 22 characters (`--auth secure-link`, nginx's secure_link module).
 */
export const TICKET_QUERY_PARAMETER = 'ticket';

/**
 * A ticket of either flavor: the expiry, then an HMAC-SHA256 (43 characters) or an MD5 written as
 * nginx's secure_link decodes it (22 characters whose last one carries no spare bits: one spelling
 * per digest).
 */
const TICKET = /^(\d{1,12})\.(?:([A-Za-z0-9_-]{43})|([A-Za-z0-9_-]{21}[AQgw]))$/;

/** The expiry (unix seconds) a ticket of either flavor carries in clear, or null when `ticket` is not one. */
export function ticketExpiry(ticket: string): number | null {
  const m = TICKET.exec(ticket);
  return m ? Number(m[1]) : null;
}

/**
 * Whether a ticket is of the secure-link flavor (MD5, 22 characters), which cannot open a path with
 * push-stream's `.b<n>` backtrack suffixes; false for an HMAC ticket or anything else.
 */
export function isSecureLinkTicket(ticket: string): boolean {
  return TICKET.exec(ticket)?.[3] !== undefined;
}
