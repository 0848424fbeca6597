/**
 * Browser subscriber for nginx pub/sub (Nginx Push Stream Module or Nchan), shipped as
 * `nestjs-push-stream/browser`: an ES module with no dependencies.
 *
 *   const client = new PushStreamClient({ server: 'nchan', channels: ['my-app__all__'] });
 *   client.addEventListener('message', (e) => console.log(e.detail.channel, e.detail.data));
 *   client.connect();
 */
import { backoffDelay, type BackoffOptions } from './backoff.js';
import {
  decodeNchanMessage,
  decodePushStreamMessage,
  nchanIdFromLongPoll,
  parseNchanMessageId,
  parseNchanMetaFrame,
  splitJsonObjects,
  type DecodedFrame,
} from './decode-message.js';
import { ResumeTracker, type PushStreamServerKind } from './resume-tracker.js';

export { backoffDelay } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export {
  decodeNchanMessage,
  decodePushStreamMessage,
  parseNchanMessageId,
  parseNchanMetaFrame,
  splitJsonObjects,
} from './decode-message.js';
export type { DecodedFrame, DecodedMessage, NchanMessageId } from './decode-message.js';
export { ResumeTracker } from './resume-tracker.js';
export type { PushStreamServerKind } from './resume-tracker.js';

export type PushStreamTransport = 'websocket' | 'eventsource' | 'longpolling';
export type PushStreamClientState = 'connecting' | 'open' | 'reconnecting' | 'closed' | 'denied';

export interface PushStreamClientOptions {
  /** nginx public origin. Default `location.origin`. */
  url?: string;
  server: PushStreamServerKind;
  channels: string[];
  /** Preference order. Default `['websocket', 'eventsource', 'longpolling']`. */
  transports?: PushStreamTransport[];
  /** History on first join: push-stream `.bN` per channel. Nchan replays its buffer anyway. */
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
  error: CustomEvent<PushStreamErrorDetail>;
}

const DEFAULT_TRANSPORTS: PushStreamTransport[] = ['websocket', 'eventsource', 'longpolling'];
const DEFAULT_PATHS: Record<PushStreamTransport, string> = { websocket: '/ws/', eventsource: '/ev/', longpolling: '/lp/' };
const NCHAN_WS_META = 'ws+meta.nchan';
/** A long poll still pending after this long counts as an open subscription. */
const LONGPOLL_OPEN_AFTER_MS = 1000;
/**
 * The least pause before subscribing again after the server ended an open subscription. On
 * `nginx -s reload` old workers close their subscribers, then keep accepting connections for
 * about 100 ms (nginx starts the new workers and waits that long before stopping the old ones).
 * The Push Stream Module loses what happens in that window: a subscriber an old worker takes
 * gets nothing, and a message an old worker publishes while a new worker already holds a
 * subscriber of that channel leaves the new worker deaf to every later message.
 */
const RELOAD_WINDOW_MS = 300;

/** Why an attempt ended. */
interface Ending {
  /** The subscription had been open (messages could flow). */
  wasOpen: boolean;
  /** HTTP status, when the transport could read one (long polling). */
  status?: number;
  /** Server said 410 Gone (Nchan: channel deleted OR nginx reloading/stopping; it cannot be told apart). */
  gone?: boolean;
  reason: string;
}

/** One connection attempt on one transport. */
interface Attempt {
  transport: PushStreamTransport;
  stop(): void;
}

function hasGlobal(name: 'WebSocket' | 'EventSource' | 'fetch'): boolean {
  return typeof (globalThis as Record<string, unknown>)[name] === 'function';
}

/**
 * Subscribes to channels over WebSocket, EventSource or long polling, reconnects with backoff,
 * resumes without losing or repeating messages, and reports refusals and deleted channels as events.
 *
 * Events: `message`, `state`, `denied`, `channel-deleted`, `error` (all `CustomEvent`s).
 */
export class PushStreamClient extends EventTarget {
  private readonly origin: string;
  private readonly server: PushStreamServerKind;
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

  constructor(options: PushStreamClientOptions) {
    super();
    if (options.server !== 'nchan' && options.server !== 'push-stream') {
      throw new TypeError(`PushStreamClient: server must be 'nchan' or 'push-stream', got ${String(options.server)}`);
    }
    if (!Array.isArray(options.channels) || options.channels.length === 0) {
      throw new TypeError('PushStreamClient: channels must be a non-empty array');
    }
    for (const c of options.channels) {
      if (typeof c !== 'string' || !/^[A-Za-z0-9_-]+$/.test(c)) {
        throw new TypeError(`PushStreamClient: invalid channel name ${JSON.stringify(c)} (allowed: A-Z a-z 0-9 _ -)`);
      }
    }
    const origin = options.url ?? (typeof location !== 'undefined' ? location.origin : '');
    if (!origin) throw new TypeError('PushStreamClient: url is required outside a page');
    this.options = options;
    this.origin = origin.replace(/\/+$/, '');
    this.server = options.server;
    this.channels = [...new Set(options.channels)];
    this.transports = (options.transports ?? DEFAULT_TRANSPORTS).filter((t, i, all) => all.indexOf(t) === i);
    if (this.transports.length === 0) throw new TypeError('PushStreamClient: transports must not be empty');
    this.paths = { ...DEFAULT_PATHS, ...options.paths };
    this.tracker = new ResumeTracker(this.server);
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

  /** Starts (or restarts after close() or 'denied') the subscription. */
  connect(): void {
    this.stopAttempt();
    this.generation++;
    this.failures = 0;
    this.transportFailures = 0;
    this.transportIndex = this.firstAvailableTransport(0);
    this.setState(this.everOpened ? 'reconnecting' : 'connecting');
    this.open();
  }

  /** Closes the subscription; no reconnect. */
  close(): void {
    this.generation++;
    this.stopAttempt();
    this.setState('closed');
  }

  /** The subscriber URL for a transport, with history (`.bN`) or resume arguments. Exposed for tests and logs. */
  subscriberUrl(transport: PushStreamTransport, resume = true): string {
    const names = this.channels.map((c) => {
      const n = this.options.backtrack?.[c];
      // push-stream: history only on the first join; afterwards tag/time resume covers it.
      return this.server === 'push-stream' && n && n > 0 && !this.tracker.has(c) ? `${c}.b${Math.floor(n)}` : c;
    });
    // encodeURIComponent, not URLSearchParams: push-stream unescapes %XX (ngx_unescape_uri) but not '+'.
    const query = resume
      ? Object.entries(this.tracker.resumeQuery())
          .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
          .join('&')
      : '';
    let url = `${this.origin}${this.paths[transport]}${names.join('/')}${query ? `?${query}` : ''}`;
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
      const t = this.transports[i];
      if (t === 'websocket' && hasGlobal('WebSocket')) return i;
      if (t === 'eventsource' && hasGlobal('EventSource')) return i;
      if (t === 'longpolling' && hasGlobal('fetch')) return i;
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
    let ended = false;
    let stopped = false;
    let wasOpen = false;
    const current = (): boolean => generation === this.generation && !ended && !stopped;
    const onOpen = (): void => {
      if (!current() || wasOpen) return;
      wasOpen = true;
      this.everOpened = true;
      this.failures = 0;
      this.transportFailures = 0;
      this.setState('open');
    };
    const onFrame = (frame: DecodedFrame): void => {
      if (current()) this.handleFrame(frame, transport);
    };
    const onEnd = (ending: Omit<Ending, 'wasOpen'>): void => {
      if (!current()) return;
      ended = true;
      if (this.attempt === attempt) this.attempt = null;
      stopTransport();
      void this.handleEnd(generation, transport, { ...ending, wasOpen });
    };
    const ctx: TransportContext = { onOpen, onFrame, onEnd, isCurrent: current };
    const attempt: Attempt = {
      transport,
      stop: () => {
        stopped = true;
        stopTransport();
      },
    };
    this.attempt = attempt;
    const stopTransport =
      transport === 'websocket' ? this.openWebSocket(ctx) : transport === 'eventsource' ? this.openEventSource(ctx) : this.openLongPoll(ctx);
  }

  private handleFrame(frame: DecodedFrame, transport: PushStreamTransport): void {
    switch (frame.kind) {
      case 'ping':
        return;
      case 'invalid':
        this.emit('error', { message: `invalid message: ${frame.reason}`, transport, raw: frame.raw });
        return;
      case 'channel-deleted':
        this.channelDeleted(frame.channel);
        return;
      case 'message': {
        if (!this.tracker.accept(frame)) return;
        const { channel, data, eventId, eventType, id } = frame;
        this.emit('message', { channel, data, eventId, eventType, id, transport });
      }
    }
  }

  private channelDeleted(channel: string): void {
    const known = this.channels.includes(channel);
    if (known) {
      this.channels = this.channels.filter((c) => c !== channel);
      this.tracker.channelsChanged();
    }
    this.emit('channel-deleted', { channel });
    if (this.channels.length === 0) {
      this.close();
    } else if (known && this.server === 'nchan') {
      // Nchan keeps serving the deleted channel id to this subscription (it would recreate it):
      // subscribe again without it.
      this.stopAttempt();
      this.open();
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
      this.generation++;
      this.setState('denied');
      this.emit('denied', { status: denied, transport });
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
    this.setState('reconnecting');
    this.tracker.forgetPosition();
    // A subscription the server closed after it was open (reload, 410) comes back after the first
    // backoff step, and never inside the reload window; repeated failures back off further.
    const backoff = backoffDelay(this.failures, this.options.reconnect);
    const delay = ending.wasOpen ? Math.max(RELOAD_WINDOW_MS, backoff) : backoff;
    this.failures++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (generation === this.generation) this.open();
    }, delay);
  }

  /** GET the EventSource URL (its status is what the upgrade got: same auth_request), read only the status. */
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

  private fallbackChannel(index = 0): string {
    return this.channels[index] ?? this.channels[0] ?? '';
  }

  private decode(raw: string, id: string, eventType = ''): DecodedFrame[] {
    if (this.server === 'push-stream') {
      const { objects, rest } = splitJsonObjects(raw);
      const all = rest.trim() ? [...objects, rest] : objects;
      return all.map((o) => decodePushStreamMessage(o));
    }
    // The message id's bracketed tag says which subscribed channel it came from: the envelope of a
    // publishMany names all its channels ("a/b"), not the one this subscription holds.
    const source = this.fallbackChannel(parseNchanMessageId(id)?.active ?? 0);
    const frame = decodeNchanMessage(raw, id, source, eventType);
    if (frame.kind === 'message' && !this.channels.includes(frame.channel)) frame.channel = source;
    return [frame];
  }

  private openWebSocket(ctx: TransportContext): () => void {
    let ws: WebSocket;
    try {
      const url = this.connectionUrl('websocket');
      ws = this.server === 'nchan' ? new WebSocket(url, NCHAN_WS_META) : new WebSocket(url);
    } catch (err) {
      queueMicrotask(() => ctx.onEnd({ reason: err instanceof Error ? err.message : String(err) }));
      return () => undefined;
    }
    ws.onopen = () => ctx.onOpen();
    ws.onmessage = (event: MessageEvent) => {
      if (typeof event.data !== 'string') return;
      if (this.server === 'nchan' && ws.protocol === NCHAN_WS_META) {
        const meta = parseNchanMetaFrame(event.data);
        if (!meta) {
          ctx.onFrame({ kind: 'invalid', raw: event.data, reason: 'not a ws+meta.nchan frame' });
          return;
        }
        for (const f of this.decode(meta.data, meta.id, meta.eventType)) ctx.onFrame(f);
        return;
      }
      for (const f of this.decode(event.data, '')) ctx.onFrame(f);
    };
    ws.onclose = (event: CloseEvent) => {
      // Nchan closes with 1001 "410 Gone" on channel deletion AND on nginx reload/stop.
      ctx.onEnd({ reason: `close ${event.code}${event.reason ? ` ${event.reason}` : ''}`, gone: /^410\b/.test(event.reason) });
    };
    return () => {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) ws.close();
    };
  }

  private openEventSource(ctx: TransportContext): () => void {
    let es: EventSource;
    try {
      es = new EventSource(this.connectionUrl('eventsource'), { withCredentials: this.options.withCredentials === true });
    } catch (err) {
      queueMicrotask(() => ctx.onEnd({ reason: err instanceof Error ? err.message : String(err) }));
      return () => undefined;
    }
    const onMessage = (event: Event): void => {
      const e = event as MessageEvent;
      if (typeof e.data !== 'string') return;
      const type = e.type === 'message' ? '' : e.type;
      for (const f of this.decode(e.data, e.lastEventId, type)) ctx.onFrame(f);
    };
    const types = ['message', ...(this.options.eventTypes ?? [])].filter((t, i, all) => all.indexOf(t) === i);
    for (const t of types) es.addEventListener(t, onMessage);
    es.onopen = () => ctx.onOpen();
    // The browser would reconnect on its own, with the old URL: take over (resume arguments, probe, backoff).
    es.onerror = () => ctx.onEnd({ reason: 'EventSource error' });
    return () => {
      for (const t of types) es.removeEventListener(t, onMessage);
      es.onopen = es.onerror = null;
      es.close();
    };
  }

  private openLongPoll(ctx: TransportContext): () => void {
    const controller = new AbortController();
    let openTimer: ReturnType<typeof setTimeout> | null = setTimeout(() => ctx.onOpen(), LONGPOLL_OPEN_AFTER_MS);
    const loop = async (): Promise<void> => {
      while (ctx.isCurrent()) {
        let res: Response;
        try {
          res = await fetch(this.connectionUrl('longpolling'), {
            method: 'GET',
            cache: 'no-store',
            credentials: this.options.withCredentials ? 'include' : 'same-origin',
            signal: controller.signal,
          });
        } catch (err) {
          if (ctx.isCurrent()) ctx.onEnd({ reason: err instanceof Error ? err.message : String(err) });
          return;
        }
        if (!ctx.isCurrent()) return;
        if (res.status === 304) {
          ctx.onOpen();
          // push-stream answers every waiting poll with 304 when nginx reloads: stay out of the
          // reload window (the next poll resumes from the store: nothing is lost meanwhile).
          await new Promise((resolve) => setTimeout(resolve, Math.max(RELOAD_WINDOW_MS, backoffDelay(0, this.options.reconnect))));
          continue;
        }
        if (res.status !== 200) {
          void res.body?.cancel().catch(() => undefined);
          ctx.onEnd({ status: res.status, reason: `HTTP ${res.status}`, gone: res.status === 410 });
          return;
        }
        const body = await res.text().catch(() => null);
        if (!ctx.isCurrent()) return;
        if (body === null) {
          ctx.onEnd({ reason: 'long-poll body interrupted' });
          return;
        }
        ctx.onOpen();
        const id = this.server === 'nchan' ? nchanIdFromLongPoll(res.headers.get('last-modified'), res.headers.get('etag')) : '';
        for (const f of this.decode(body, id)) ctx.onFrame(f);
      }
    };
    void loop();
    return () => {
      if (openTimer !== null) clearTimeout(openTimer);
      openTimer = null;
      controller.abort();
    };
  }
}

interface TransportContext {
  onOpen(): void;
  onFrame(frame: DecodedFrame): void;
  onEnd(ending: Omit<Ending, 'wasOpen'>): void;
  isCurrent(): boolean;
}
