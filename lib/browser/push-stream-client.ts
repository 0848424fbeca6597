/**
 * Browser subscriber for nginx pub/sub (Nginx Push Stream Module or Nchan), shipped as
 * `nestjs-push-stream/browser`: an ES module with no dependencies.
 *
 *   const client = new PushStreamClient({ server: 'nchan', channels: ['my-app__all__'] });
 *   client.addEventListener('message', (e) => console.log(e.detail.channel, e.detail.data));
 *   client.connect();
 */
import { isSecureLinkTicket, SUBSCRIBER_LOCATIONS, TICKET_QUERY_PARAMETER, ticketExpiry } from '../shared/push-stream-protocol.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { subscribableChannels } from './channel-set.js';
import type { DecodedFrame } from './decode-message.js';
import type { GapReason } from './dialects/browser-server-dialect.js';
import { browserDialect, type BrowserServerDialect, type PushStreamServerKind } from './dialects/index.js';
import { ResumeTracker, type TrackedGap } from './resume-tracker.js';
import { TRANSPORTS, type PushStreamTransport, type TransportContext, type TransportEnding } from './transports/index.js';
import { errorReason, hasGlobal } from './transports/transport.js';

export { backoffDelay } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export { splitJsonObjects } from './decode-message.js';
export type { DecodedFrame, DecodedMessage } from './decode-message.js';
export { decodeNchanMessage, parseNchanMessageId, parseNchanMetaFrame } from './dialects/nchan.dialect.js';
export type { NchanMessageId } from './dialects/nchan.dialect.js';
export { decodePushStreamMessage } from './dialects/push-stream.dialect.js';
export { ResumeTracker } from './resume-tracker.js';
export type { TrackedGap, TrackedMessageRef } from './resume-tracker.js';
export type { PushStreamServerKind } from './dialects/browser-server-dialect.js';
export type { PushStreamTransport } from './transports/transport.js';

export type PushStreamClientState = 'connecting' | 'open' | 'reconnecting' | 'closed' | 'denied';

export interface PushStreamClientOptions {
  /** nginx public origin. Default `location.origin`. */
  url?: string;
  server: PushStreamServerKind;
  channels: string[];
  /** Preference order. Default `['websocket', 'eventsource', 'longpolling']`. */
  transports?: PushStreamTransport[];
  /**
   * History on first join: push-stream `.bN` per channel. Nchan replays its buffer anyway. Not with
   * secure-link tickets (nginx refuses `.bN` paths then): a TypeError for such a `ticket`, and a
   * `denied` client (after an `error` event) when getTicket returns one.
   */
  backtrack?: Record<string, number>;
  reconnect?: BackoffOptions;
  /** Subscriber locations. Default `{ websocket: '/ws/', eventsource: '/ev/', longpolling: '/lp/' }`. */
  paths?: Partial<Record<PushStreamTransport, string>>;
  /** EventSource named events to listen for besides 'message' (the `event:` line, i.e. the published type). */
  eventTypes?: string[];
  /** Failed opens (server reachable, not denied) before trying the next transport. Default 2. */
  fallbackAfter?: number;
  /** Send cookies to a cross-origin nginx (EventSource `withCredentials`, fetch `credentials: 'include'`). */
  withCredentials?: boolean;
  /** How long the denial probe may wait for a status. Default 5000 ms. */
  probeTimeoutMs?: number;
  /**
   * Most channels in one subscription; more throws a RangeError at construction. Default 16, as
   * the module's `auth.maxChannelsPerRequest` (keep the two equal). At most 255.
   */
  maxChannels?: number;
  /** Longest channel name; longer throws a RangeError at construction. Default 128, as the module's `maxChannelNameLength`. */
  maxChannelNameLength?: number;
  /**
   * Signed-ticket mode (nginx rendered with `--auth ticket` or `--auth secure-link`): a ticket for
   * `channels` (in the order given, duplicates dropped), `<expiry>.<signature>` as the app's
   * `PushStreamTickets` issues it, of either flavor. Every subscriber URL carries it as `?ticket=`.
   * Without `getTicket`, it cannot be renewed.
   */
  ticket?: string;
  /**
   * Signed-ticket mode: asked for a ticket for `channels` (exactly the subscribed channels, in URL
   * order) before connecting or reconnecting without a ticket that is good for at least 10 more
   * seconds, when the channel set changed, and once more after nginx refused a connection. Resolve
   * null when the app refuses (the client ends `denied`, 403); a rejection is transient (an
   * `error` event, then a retry with the reconnect backoff).
   */
  getTicket?: (channels: readonly string[]) => Promise<string | null>;
}

export interface PushStreamMessage {
  channel: string;
  /** The decoded `text`: the JSON the application published. */
  data: unknown;
  /** Publisher-set event id ('' if none). */
  eventId: string;
  /** Publisher-set event type ('' if none). */
  eventType: string;
  /** Server message id: push-stream's per-channel number as a string, or Nchan's message id ('' if unknown). */
  id: string;
  transport: PushStreamTransport;
}

export interface PushStreamStateDetail {
  state: PushStreamClientState;
  transport: PushStreamTransport | null;
}

export interface PushStreamDeniedDetail {
  status: number;
  transport: PushStreamTransport;
}

export interface PushStreamChannelDeletedDetail {
  channel: string;
}

/** Why a channel's messages may be incomplete: see PushStreamGapDetail. */
export type PushStreamGapReason = GapReason;

/** A message named by a `gap` event. */
export interface PushStreamMessageRef {
  /** The server's message id (`PushStreamMessage.id`). */
  id: string;
  /** The publisher-set event id ('' if none). */
  eventId: string;
}

/**
 * Messages of `channel` may be missing between `lastSeen` and `next`: refetch the channel's state.
 * Emitted once per gap, right before the `message` event of `next`.
 */
export interface PushStreamGapDetail {
  channel: string;
  /**
   * `overrun`: the server's numbering shows messages were skipped (they left its buffer before this
   * client got them); `store-reset`: the numbering started again (nginx restarted, or reloaded on
   * Nchan, or the channel was created again); `unknown`: the server no longer holds `lastSeen` and
   * does not say why (Nchan).
   */
  reason: PushStreamGapReason;
  /** True when messages are missing; false when they may be (the store that held them is gone). */
  certain: boolean;
  /** At least this many messages are missing, by the server's numbering; null when it does not say. */
  missed: number | null;
  /** The channel's last message before the gap. */
  lastSeen: PushStreamMessageRef;
  /** The first message after the gap. */
  next: PushStreamMessageRef;
  transport: PushStreamTransport;
}

export interface PushStreamErrorDetail {
  message: string;
  transport: PushStreamTransport | null;
  /** The undecodable frame, for 'invalid message' errors. */
  raw?: string;
}

export interface PushStreamClientEventMap {
  message: CustomEvent<PushStreamMessage>;
  state: CustomEvent<PushStreamStateDetail>;
  denied: CustomEvent<PushStreamDeniedDetail>;
  'channel-deleted': CustomEvent<PushStreamChannelDeletedDetail>;
  gap: CustomEvent<PushStreamGapDetail>;
  error: CustomEvent<PushStreamErrorDetail>;
}

const DEFAULT_TRANSPORTS: PushStreamTransport[] = ['websocket', 'eventsource', 'longpolling'];
const DEFAULT_PATHS: Record<PushStreamTransport, string> = {
  websocket: SUBSCRIBER_LOCATIONS.websocket,
  eventsource: SUBSCRIBER_LOCATIONS.eventsource,
  longpolling: SUBSCRIBER_LOCATIONS.longpolling,
};
/**
 * The least pause before subscribing again after the server ended an open subscription. On
 * `nginx -s reload` old workers close their subscribers, then keep accepting connections for
 * about 100 ms (nginx starts the new workers and waits that long before stopping the old ones).
 * The Push Stream Module loses what happens in that window: a subscriber an old worker takes
 * gets nothing, and a message an old worker publishes while a new worker already holds a
 * subscriber of that channel leaves the new worker deaf to every later message.
 */
const RELOAD_WINDOW_MS = 300;

/** Why a secure-link ticket cannot serve a client with `backtrack`. */
const SECURE_LINK_BACKTRACK =
  'a secure-link ticket cannot open the backtrack (.bN) history this client asks for: nginx refuses .bN paths in secure-link mode. ' +
  'Drop the backtrack option (reconnects resume by event id), or use HMAC tickets (nginx-config --auth ticket)';

/** A ticket expiring within this many seconds (by this page's clock) is renewed before a (re)connect. */
const TICKET_RENEW_MARGIN_S = 10;

/** The ticket in use (signed-ticket mode) and what it was issued for. */
interface HeldTicket {
  value: string;
  /** Unix seconds. */
  expiresAt: number;
  /** The channel set it covers (channelKey()). */
  channels: string;
  /**
   * Whether a long-poll chain may renew it before a poll: false once a renewal for it failed, or
   * when it came near its expiry already (a lifetime under the margin, or this page's clock ahead):
   * then only reconnects renew it, each at most once per attempt.
   */
  renewBetweenPolls: boolean;
}

/** Why an attempt ended. */
interface Ending extends TransportEnding {
  /** The subscription had been open (messages could flow). */
  wasOpen: boolean;
}

/** What an attempt knows for judging a store found emptied (see `gap`). */
interface GapContext {
  /** The attempt started right after an open subscription ended (see followsOpenSubscription). */
  followsOpen: boolean;
  /**
   * Channels that had a message on this attempt: a store change seen later on one of them happened
   * between two polls of a live long-poll chain, and the client was there until then.
   */
  live: Set<string>;
}

/** One connection attempt on one transport. */
interface Attempt {
  transport: PushStreamTransport;
  stop(): void;
}

/**
 * Subscribes to channels over WebSocket, EventSource or long polling, reconnects with backoff,
 * resumes without losing or repeating messages, and reports refusals and deleted channels as events.
 * Server-neutral: what differs between the servers is in the dialect (dialects/*.dialect.ts).
 *
 * Events: `message`, `state`, `denied`, `channel-deleted`, `gap`, `error` (all `CustomEvent`s).
 */
export class PushStreamClient extends EventTarget {
  private readonly origin: string;
  private readonly dialect: BrowserServerDialect;
  private readonly transports: PushStreamTransport[];
  private readonly paths: Record<PushStreamTransport, string>;
  private readonly options: PushStreamClientOptions;
  private readonly tracker: ResumeTracker;
  private channels: string[];
  private currentState: PushStreamClientState = 'closed';
  private transportIndex = 0;
  private attempt: Attempt | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  /** Consecutive failed reconnects, for the backoff. */
  private failures = 0;
  /** Consecutive failed opens on the current transport while nginx answered HTTP. */
  private transportFailures = 0;
  private everOpened = false;
  /** Bumped by connect()/close(): callbacks of an older generation are ignored. */
  private generation = 0;
  /**
   * The next subscription follows right after an open one ended (no failed attempt, no close()
   * between): the client was subscribed until its server went away, so a store it finds emptied
   * was emptied by that very reload or restart, after everything it held had been delivered.
   */
  private followsOpenSubscription = false;
  /** What the tracker detected while accepting the current frame. */
  private readonly detectedGaps: TrackedGap[] = [];
  /** The ticket subscriber URLs carry (signed-ticket mode); null: none, or ask getTicket before connecting. */
  private ticket: HeldTicket | null = null;
  /**
   * nginx refused a connection since the last open one, and getTicket was asked again for it: the
   * next refusal is final.
   */
  private renewedAfterRefusal = false;

  /**
   * Throws before any request for options nginx or the application would refuse: an unknown
   * server or transport, or a channel set `subscribableChannels()` refuses (TypeError for bad
   * names, RangeError for a limit, which the message names).
   */
  constructor(options: PushStreamClientOptions) {
    super();
    this.dialect = browserDialect(options.server);
    this.channels = subscribableChannels(options.channels, this.dialect, options);
    const origin = options.url ?? (typeof location !== 'undefined' ? location.origin : '');
    if (!origin) throw new TypeError('PushStreamClient: url is required outside a page');
    this.options = options;
    this.origin = origin.replace(/\/+$/, '');
    this.transports = (options.transports ?? DEFAULT_TRANSPORTS).filter((t, i, all) => all.indexOf(t) === i);
    if (this.transports.length === 0) throw new TypeError('PushStreamClient: transports must not be empty');
    const unknown = this.transports.find((t) => !Object.prototype.hasOwnProperty.call(TRANSPORTS, t));
    if (unknown !== undefined) {
      throw new TypeError(`PushStreamClient: unknown transport ${JSON.stringify(unknown)} (known: ${Object.keys(TRANSPORTS).join(', ')})`);
    }
    this.paths = { ...DEFAULT_PATHS, ...options.paths };
    this.tracker = new ResumeTracker(
      this.dialect.kind,
      (gap) => this.detectedGaps.push(gap),
      // Numbers missing at a forward jump, still missing after a wait (messages may come out of
      // order): reported on their own, after the message that follows them.
      ({ channel, reason, proven, missed, last, next }) =>
        this.emit('gap', { channel, reason, certain: proven, missed, lastSeen: last, next, transport: this.transports[this.transportIndex] }),
    );
    if (options.getTicket !== undefined && typeof options.getTicket !== 'function') {
      throw new TypeError('PushStreamClient: getTicket must be a function');
    }
    if (options.ticket !== undefined) {
      this.ticket = this.heldTicket(options.ticket, this.channels);
      if (this.ticket === null) throw new TypeError(`PushStreamClient: ticket is not a subscription ticket (<expiry>.<signature>): ${describeValue(options.ticket)}`);
      if (this.refusesHistory(this.ticket)) throw new TypeError(`PushStreamClient: ${SECURE_LINK_BACKTRACK}`);
    }
  }

  get state(): PushStreamClientState {
    return this.currentState;
  }

  /** The transport in use (or being tried); null before connect(). */
  get transport(): PushStreamTransport | null {
    return this.attempt?.transport ?? (this.generation === 0 ? null : this.transports[this.transportIndex]);
  }

  /** Channels still subscribed (deleted channels are dropped). */
  get subscribedChannels(): readonly string[] {
    return this.channels;
  }

  override addEventListener<K extends keyof PushStreamClientEventMap>(
    type: K,
    listener: ((event: PushStreamClientEventMap[K]) => void) | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  override addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  override addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void {
    super.addEventListener(type, listener, options);
  }

  override removeEventListener<K extends keyof PushStreamClientEventMap>(
    type: K,
    listener: ((event: PushStreamClientEventMap[K]) => void) | null,
    options?: boolean | EventListenerOptions,
  ): void;
  override removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
  override removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void {
    super.removeEventListener(type, listener, options);
  }

  /**
   * Starts (or restarts after close() or 'denied') the subscription. Again after close(), it resumes
   * from the servers' buffers like a reconnect, and reports a `gap` where they no longer reach back.
   */
  connect(): void {
    this.followsOpenSubscription = this.currentState === 'open';
    this.stopAttempt();
    // As after any reconnect: the dialect decides whether the position still holds.
    this.tracker.forgetPosition();
    this.generation++;
    this.failures = 0;
    this.transportFailures = 0;
    this.renewedAfterRefusal = false;
    this.transportIndex = this.firstAvailableTransport(0);
    this.setState(this.everOpened ? 'reconnecting' : 'connecting');
    this.start();
  }

  /** Closes the subscription; no reconnect. */
  close(): void {
    this.generation++;
    this.stopAttempt();
    this.tracker.pause();
    this.setState('closed');
  }

  /** The subscriber URL for a transport, with history or resume arguments and the ticket. Exposed for tests and logs. */
  subscriberUrl(transport: PushStreamTransport, resume = true): string {
    // History only on the first join of a channel; afterwards the resume arguments cover it.
    const path = this.dialect.subscriberPath(this.channels, (c) => (this.tracker.has(c) ? undefined : this.options.backtrack?.[c]));
    // encodeURIComponent, not URLSearchParams: push-stream unescapes %XX (ngx_unescape_uri) but not '+'.
    const query = resume
      ? Object.entries(this.tracker.resumeQuery())
          .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
          .join('&')
      : '';
    let url = `${this.origin}${this.paths[transport]}${path}${query ? `?${query}` : ''}`;
    // An HMAC ticket signs the channel path without `.bN`: the same ticket serves a resume. A
    // secure-link ticket is never held for a path with one (refusesHistory).
    if (this.ticket !== null) url += `${query ? '&' : '?'}${TICKET_QUERY_PARAMETER}=${encodeURIComponent(this.ticket.value)}`;
    if (transport === 'websocket') url = url.replace(/^http/, 'ws');
    return url;
  }

  /** The URL of a new subscriber request; tells the tracker whether the server will resume it. */
  private connectionUrl(transport: PushStreamTransport): string {
    this.tracker.startConnection();
    return this.subscriberUrl(transport);
  }

  // ---------------------------------------------------------------------------------------------

  private firstAvailableTransport(from: number): number {
    for (let i = from; i < this.transports.length; i++) {
      if (TRANSPORTS[this.transports[i]].available()) return i;
    }
    return Math.min(from, this.transports.length - 1);
  }

  private setState(state: PushStreamClientState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.emit('state', { state, transport: this.transport });
  }

  private emit<K extends keyof PushStreamClientEventMap>(type: K, detail: PushStreamClientEventMap[K]['detail']): void {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  private stopAttempt(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const attempt = this.attempt;
    this.attempt = null;
    attempt?.stop();
  }

  private open(): void {
    const generation = this.generation;
    const transport = this.transports[this.transportIndex];
    const followsOpen = this.followsOpenSubscription;
    this.followsOpenSubscription = false;
    let ended = false;
    let stopped = false;
    let wasOpen = false;
    const gapContext: GapContext = { followsOpen, live: new Set() };
    const current = (): boolean => generation === this.generation && !ended && !stopped;
    const ctx: TransportContext = {
      dialect: this.dialect,
      url: () => this.connectionUrl(transport),
      channels: () => this.channels,
      withCredentials: this.options.withCredentials === true,
      eventTypes: this.options.eventTypes ?? [],
      // An answer without messages may be nginx reloading (push-stream answers every waiting poll
      // with 304 then): stay out of the reload window. The next poll resumes: nothing is lost.
      noMessagePauseMs: () => Math.max(RELOAD_WINDOW_MS, backoffDelay(0, this.options.reconnect)),
      beforeNextRequest: () => (this.ticketNeedsRenewal(true) ? this.renewBetweenPolls(generation, transport) : undefined),
      onOpen: () => {
        if (!current() || wasOpen) return;
        wasOpen = true;
        this.everOpened = true;
        this.failures = 0;
        this.transportFailures = 0;
        this.renewedAfterRefusal = false;
        this.setState('open');
      },
      onFrame: (frame: DecodedFrame) => current() && this.handleFrame(frame, transport, gapContext),
      onEnd: (ending: TransportEnding) => {
        if (!current()) return;
        ended = true;
        if (this.attempt === attempt) this.attempt = null;
        stopTransport();
        void this.handleEnd(generation, transport, { ...ending, wasOpen });
      },
      isCurrent: current,
    };
    const attempt: Attempt = {
      transport,
      stop: () => {
        stopped = true;
        stopTransport();
      },
    };
    this.attempt = attempt;
    const stopTransport = TRANSPORTS[transport].open(ctx);
  }

  /** Handles one frame; true when it brought something new (a message delivered, a notice, an error). */
  private handleFrame(frame: DecodedFrame, transport: PushStreamTransport, gapContext: GapContext): boolean {
    switch (frame.kind) {
      case 'ping':
        return false;
      case 'invalid':
        this.emit('error', { message: `invalid message: ${frame.reason}`, transport, raw: frame.raw });
        return true;
      case 'channel-deleted':
        this.channelDeleted(frame.channel);
        return true;
      case 'message': {
        const generation = this.generation;
        const deliver = this.tracker.accept(frame);
        const thereUntilChange = gapContext.followsOpen || gapContext.live.has(frame.channel);
        gapContext.live.add(frame.channel);
        for (const gap of this.detectedGaps.splice(0)) {
          // A store found emptied after the client was there until it went away: nothing missed.
          if (!gap.proven && thereUntilChange) continue;
          const { channel, reason, proven, missed, last, next } = gap;
          this.emit('gap', { channel, reason, certain: proven, missed, lastSeen: last, next, transport });
        }
        // A listener may have closed the client.
        if (!deliver || generation !== this.generation) return false;
        const { channel, data, eventId, eventType, id } = frame;
        this.emit('message', { channel, data, eventId, eventType, id, transport });
        return true;
      }
    }
  }

  private channelDeleted(channel: string): void {
    const known = this.channels.includes(channel);
    if (known) {
      this.channels = this.channels.filter((c) => c !== channel);
      this.tracker.channelsChanged();
      // The ticket covers the old channel set: the next connection needs one for the new set
      // (ticketNeedsRenewal() compares the sets).
    }
    this.emit('channel-deleted', { channel });
    if (this.channels.length === 0) {
      this.close();
    } else if (known && this.dialect.resubscribeAfterChannelDeleted) {
      this.stopAttempt();
      this.followsOpenSubscription = true;
      this.start();
    }
  }

  private async handleEnd(generation: number, transport: PushStreamTransport, ending: Ending): Promise<void> {
    if (generation !== this.generation) return;
    let denied: number | null = ending.status === 401 || ending.status === 403 ? ending.status : null;
    let reachable = ending.status !== undefined;
    if (denied === null && !ending.wasOpen && ending.status === undefined) {
      // A failed WebSocket upgrade or EventSource hides its status: ask nginx with a plain GET.
      const status = await this.probe();
      if (generation !== this.generation) return;
      if (status === 401 || status === 403) denied = status;
      reachable = status !== null;
    }
    if (denied !== null) {
      if (!this.options.getTicket || this.renewedAfterRefusal) {
        this.deny(denied, transport);
        return;
      }
      // Signed-ticket mode: the ticket may have expired by nginx's clock, or the app rotated its
      // key. Ask for a new one once; the next refusal is final.
      this.renewedAfterRefusal = true;
      this.ticket = null;
      this.emit('error', { message: `${transport} refused (${denied}): asking getTicket for a new ticket`, transport });
      this.retryLater(generation, ending.wasOpen, backoffDelay(this.failures++, this.options.reconnect));
      return;
    }
    this.emit('error', { message: `${transport} ${ending.wasOpen ? 'closed' : 'failed to open'}: ${ending.reason}`, transport });
    if (!ending.wasOpen && reachable) {
      // nginx answers HTTP but this transport does not work (a proxy without WebSocket support...).
      this.transportFailures++;
      const fallbackAfter = Math.max(1, this.options.fallbackAfter ?? 2);
      if (this.transportFailures >= fallbackAfter && this.transportIndex < this.transports.length - 1) {
        this.transportIndex = this.firstAvailableTransport(this.transportIndex + 1);
        this.transportFailures = 0;
        this.failures = 0;
      }
    }
    // A subscription the server closed after it was open (reload, 410) comes back after the first
    // backoff step, and never inside the reload window; repeated failures back off further.
    const backoff = backoffDelay(this.failures, this.options.reconnect);
    const delay = ending.wasOpen ? Math.max(RELOAD_WINDOW_MS, backoff) : backoff;
    this.failures++;
    this.retryLater(generation, ending.wasOpen, delay);
  }

  /** Schedules the next attempt. `afterOpen`: the attempt that ended had been open. */
  private retryLater(generation: number, afterOpen: boolean, delay: number): void {
    this.setState('reconnecting');
    this.tracker.forgetPosition();
    // A failed attempt breaks the chain: nginx was down, or this client could not reach it.
    this.followsOpenSubscription = afterOpen;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (generation === this.generation) this.start();
    }, delay);
  }

  /** Terminal: nginx or the app refused the subscription. connect() starts again. */
  private deny(status: number, transport: PushStreamTransport): void {
    this.generation++;
    this.stopAttempt();
    this.tracker.pause();
    this.setState('denied');
    this.emit('denied', { status, transport });
  }

  // --- signed tickets -------------------------------------------------------------------------

  /** Opens the next attempt; in signed-ticket mode once the ticket is good for the channels. */
  private start(): void {
    if (this.ticketNeedsRenewal(false)) void this.renewThenOpen(this.generation);
    else this.open();
  }

  /**
   * Whether getTicket must be asked before the next request: no ticket, one for another channel
   * set, or one within TICKET_RENEW_MARGIN_S of its expiry. `betweenPolls`: within a live long-poll
   * chain, where a ticket that cannot be renewed there is left to nginx.
   */
  private ticketNeedsRenewal(betweenPolls: boolean): boolean {
    if (!this.options.getTicket) return false;
    const ticket = this.ticket;
    if (ticket === null || ticket.channels !== channelKey(this.channels)) return true;
    if (betweenPolls && !ticket.renewBetweenPolls) return false;
    return ticket.expiresAt - TICKET_RENEW_MARGIN_S <= Date.now() / 1000;
  }

  /** A ticket for `channels`, or null when `value` is not one. */
  private heldTicket(value: unknown, channels: readonly string[]): HeldTicket | null {
    const expiresAt = typeof value === 'string' ? ticketExpiry(value) : null;
    if (expiresAt === null) return null;
    return {
      value: value as string,
      expiresAt,
      channels: channelKey(channels),
      renewBetweenPolls: expiresAt - TICKET_RENEW_MARGIN_S > Date.now() / 1000,
    };
  }

  /**
   * Asks getTicket for the current channels. Resolves the ticket (now in use), 'refused' (null:
   * the client is then denied), 'failed' (an `error` event was emitted) or 'stale' (the client
   * was closed or reconnected meanwhile, or the channel set changed).
   */
  private async askTicket(generation: number, transport: PushStreamTransport): Promise<'ok' | 'refused' | 'failed' | 'stale'> {
    const channels = this.channels;
    let value: unknown;
    try {
      const getTicket = this.options.getTicket!;
      // A getTicket that throws instead of rejecting is a rejection too.
      value = await new Promise((resolve) => resolve(getTicket([...channels])));
    } catch (err) {
      if (generation !== this.generation) return 'stale';
      this.emit('error', { message: `getTicket failed: ${errorReason(err)}`, transport });
      return 'failed';
    }
    if (generation !== this.generation || channels !== this.channels) return 'stale';
    if (value === null) {
      this.deny(403, transport);
      return 'refused';
    }
    const ticket = this.heldTicket(value, channels);
    if (ticket === null) {
      this.emit('error', { message: `getTicket failed: not a subscription ticket (<expiry>.<signature>): ${describeValue(value)}`, transport });
      return 'failed';
    }
    if (this.refusesHistory(ticket)) {
      // Asking again would give the same kind of ticket, and nginx would answer 403 each time.
      this.emit('error', { message: `getTicket: ${SECURE_LINK_BACKTRACK}`, transport });
      this.deny(403, transport);
      return 'refused';
    }
    this.ticket = ticket;
    return 'ok';
  }

  /**
   * Whether nginx would refuse `ticket` for the next URL: a secure-link ticket while the path asks
   * for history with `.bN` (push-stream's backtrack on a channel not joined yet).
   */
  private refusesHistory(ticket: HeldTicket): boolean {
    if (!isSecureLinkTicket(ticket.value)) return false;
    const withHistory = this.dialect.subscriberPath(this.channels, (c) => (this.tracker.has(c) ? undefined : this.options.backtrack?.[c]));
    return withHistory !== this.dialect.subscriberPath(this.channels, () => undefined);
  }

  /** Before an attempt: a ticket, then open(); a failed getTicket backs off like a failed attempt. */
  private async renewThenOpen(generation: number): Promise<void> {
    const transport = this.transports[this.transportIndex];
    const result = await this.askTicket(generation, transport);
    if (result === 'ok') {
      this.open();
    } else if (result === 'stale') {
      if (generation === this.generation) this.start();
    } else if (result === 'failed') {
      this.retryLater(generation, false, backoffDelay(this.failures++, this.options.reconnect));
    }
  }

  /**
   * Between two polls of a live long-poll chain (each poll is a new request nginx checks): a
   * ticket near its expiry is renewed. If getTicket fails, the chain goes on with the ticket it
   * has (nginx refuses it once expired, and the refusal path takes over).
   */
  private async renewBetweenPolls(generation: number, transport: PushStreamTransport): Promise<void> {
    const held = this.ticket;
    const result = await this.askTicket(generation, transport);
    if (result === 'failed' && held !== null && this.ticket === held) held.renewBetweenPolls = false;
  }

  /**
   * GET the EventSource URL (its status is what the upgrade got: same auth_request), read only the
   * status. Not the WebSocket URL: Nchan answers 403 to a GET without an upgrade there.
   */
  private async probe(): Promise<number | null> {
    if (!hasGlobal('fetch')) return null;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.options.probeTimeoutMs ?? 5000);
    try {
      const res = await fetch(this.subscriberUrl('eventsource', false), {
        method: 'GET',
        headers: { accept: 'text/event-stream' },
        cache: 'no-store',
        credentials: this.options.withCredentials ? 'include' : 'same-origin',
        signal: controller.signal,
      });
      return res.status;
    } catch {
      return null;
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
  }
}

/** The identity of a channel set as a ticket covers it: the names in URL order. */
function channelKey(channels: readonly string[]): string {
  return channels.join('/');
}

/** A value, short enough for an error message. */
function describeValue(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}
