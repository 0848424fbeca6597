import type { ChannelRule } from '../auth/channel-rule.interface.js';
import type { UndiciHttpClientOptions } from '../http/undici-http-client.js';
import type { TicketFormat } from '../tickets/subscription-ticket.js';

export type PushStreamServerKind = 'push-stream' | 'nchan';

export interface RetryPolicy {
  /** Total attempts including the first one. 1 disables retrying. */
  attempts: number;
  /** Backoff before the 2nd attempt; doubles each time, with full jitter. */
  baseDelayMs: number;
  /** Upper bound of one backoff delay. */
  maxDelayMs: number;
}

export interface SubscriberEndpoint {
  /** Host the browser connects to, e.g. `localhost` or `push.example.com`. */
  host: string;
  /** Port the browser connects to; omitted from URLs when it is the protocol's default. */
  port?: number;
  /** `http` or `https`; WebSocket URLs use `ws`/`wss` accordingly. */
  protocol: 'http' | 'https';
}

/** The user as the auth rules see it. Only `id` is read by the built-in rules. */
export interface PushStreamUser {
  id: string | number;
  [key: string]: unknown;
}

export interface PushStreamModuleOptions {
  /** Which nginx module answers: the Nginx Push Stream Module (default) or Nchan. */
  server?: PushStreamServerKind;
  /**
   * Publisher location(s), e.g. `http://127.0.0.1:9080/pub`. With several nginx servers each
   * holding its own subscribers, every message is published to every URL.
   */
  publisherUrl: string | string[];
  /** Statistics location; defaults to the shipped config's (`/channels-stats` on push-stream, `/nchan-stats` on Nchan) on the first publisher's origin. */
  statsUrl?: string;
  /** Where browsers connect, used to build subscriber URLs for pages. */
  subscriber?: SubscriberEndpoint;
  /** Prefix of every channel name (the seed's NGINX_PUSH_STREAM_PUB_PREFIX). Default `my-app`. */
  prefix?: string;
  /** Key of the HMAC that turns a session id into a session channel token. At least 16 characters. */
  secret: string;
  /** Timeout of one HTTP attempt. Default 5000 ms. */
  publishTimeoutMs?: number;
  /** Retry policy for retryable failures (connection refused, timeout, 5xx). */
  retry?: Partial<RetryPolicy>;
  /** Largest encoded message, in bytes; keep equal to nginx's client_max_body_size. Default 65536. */
  maxMessageBytes?: number;
  /** Longest channel name accepted. Default 128. */
  maxChannelNameLength?: number;
  /** Separator between channel ids in one URL, as set in the nginx config (Nchan's split delimiter). Default `/`. */
  channelDelimiter?: string;
  /** Subscriber authorization (the auth_request endpoint). */
  auth?: PushStreamAuthOptions;
  /**
   * Pool options of the default transport, UndiciHttpClient (undici's Agent options), e.g.
   * `{ connections: 64 }` or `{ connect: { ca } }`. Ignored by other transports.
   */
  undici?: UndiciHttpClientOptions;
}

export interface PushStreamAuthOptions {
  /** Session key read when `req.user` is absent. Default `user`. */
  sessionUserKey?: string;
  /** Overrides how the user is found on the request. Return null for anonymous. */
  resolveUser?: (req: unknown) => PushStreamUser | null | undefined | Promise<PushStreamUser | null | undefined>;
  /** Channel kinds with a `*` wildcard meaning on the server that have no rule: always denied. */
  wildcardPrefixes?: string[];
  /** Extra rules given inline; see ChannelRule. */
  rules?: ChannelRule[];
  /**
   * Most channels one subscription may name. A request naming more is refused with 403 by the
   * auth endpoint, before nginx creates any of them. Default 16; at most 255 (Nchan's own limit).
   * Nchan also caps the whole channel path (`nchan_max_channel_id_length`, 2063 in the shipped
   * config: 16 ids of 128 characters): raise it with this.
   */
  maxChannelsPerRequest?: number;
  /**
   * Who may subscribe to a page channel (`<prefix>__uuid__<uuid>`). `any` (default): whoever
   * knows the UUID, so any visitor can make nginx create fresh page channels. `issued`: only the
   * session the application handed it to with `PushStreamChannels.issuePage(req.session)`.
   */
  pageChannels?: PageChannelPolicy;
  /**
   * How long a signed subscription ticket (PushStreamTickets) opens subscriptions, in seconds.
   * nginx checks tickets without asking the app, so this is also how long a revoked session can
   * still reconnect with a ticket it holds. Default 60.
   */
  ticketTtlSeconds?: number;
  /**
   * How PushStreamTickets signs, which must be what nginx checks: `hmac-sha256` (default) for
   * `nginx-config --auth ticket` (njs), `secure-link-md5` for `--auth secure-link` (nginx's
   * secure_link module: less memory per subscriber, no `.b<n>` backtrack). Both use the key derived
   * from `secret`. See docs/deployment.md, "Signed tickets".
   */
  ticketFormat?: TicketFormat;
}

export type PageChannelPolicy = 'any' | 'issued';

/** Options with every default applied, as the rest of the library reads them. */
export interface ResolvedPushStreamOptions {
  server: PushStreamServerKind;
  publisherUrls: string[];
  statsUrl: string;
  subscriber?: SubscriberEndpoint;
  prefix: string;
  secret: string;
  publishTimeoutMs: number;
  retry: RetryPolicy;
  maxMessageBytes: number;
  maxChannelNameLength: number;
  channelDelimiter: string;
  auth: Required<
    Pick<PushStreamAuthOptions, 'sessionUserKey' | 'wildcardPrefixes' | 'rules' | 'maxChannelsPerRequest' | 'pageChannels' | 'ticketTtlSeconds' | 'ticketFormat'>
  > &
    Pick<PushStreamAuthOptions, 'resolveUser'>;
  undici: UndiciHttpClientOptions;
}
