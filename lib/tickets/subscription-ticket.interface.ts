import type { SubscriberUrls } from '../service/subscriber-urls.interface.js';

/** A signed subscription ticket and what it opens. */
export interface SubscriptionTicket {
  /** The `ticket` query argument's value: `<expiresAt>.<signature>`. */
  ticket: string;
  /** Unix seconds after which nginx refuses it for new subscriptions (open ones are not cut). */
  expiresAt: number;
  /** The channels it covers, in the order the subscriber URL must name them. */
  channels: string[];
  /** The subscriber URLs with the ticket, when the module has a `subscriber` endpoint. */
  urls?: SubscriberUrls;
}

export interface TicketOptions {
  /** Lifetime in seconds. Default: the module's auth.ticketTtlSeconds. */
  ttlSeconds?: number;
}
