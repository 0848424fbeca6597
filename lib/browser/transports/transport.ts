/**
 * What a transport (WebSocket, EventSource, long polling) gets from the client and gives back.
 * Transports are server-neutral: URLs, subprotocols and decoding come from the dialect.
 */
import type { DecodedFrame } from '../decode-message.js';
import type { BrowserServerDialect } from '../dialects/browser-server-dialect.js';

export type PushStreamTransport = 'websocket' | 'eventsource' | 'longpolling';

/** Why a connection attempt ended. */
export interface TransportEnding {
  /** HTTP status, when the transport could read one (long polling). */
  status?: number;
  reason: string;
}

/** One connection attempt, as the client sees it. */
export interface TransportContext {
  readonly dialect: BrowserServerDialect;
  /** The URL of a new subscriber request, with the current resume position. */
  url(): string;
  /** The channels subscribed now (decoding maps Nchan's message ids onto them). */
  channels(): readonly string[];
  /** Send cookies to a cross-origin nginx (EventSource, fetch). */
  readonly withCredentials: boolean;
  /** EventSource named events to listen to besides 'message'. */
  readonly eventTypes: readonly string[];
  /** Long polling: the pause before polling again after an answer without messages. */
  noMessagePauseMs(): number;
  /**
   * Long polling, before each poll after the first (each poll is a new subscriber request): a
   * promise to wait for before url() (the client renews a ticket near its expiry), or undefined
   * when the request can go at once. The attempt may have ended meanwhile: check isCurrent().
   */
  beforeNextRequest(): Promise<void> | undefined;
  onOpen(): void;
  /** A decoded frame; answers whether it brought anything new (not a ping or a repeat). */
  onFrame(frame: DecodedFrame): boolean;
  onEnd(ending: TransportEnding): void;
  /** False once the attempt ended or was stopped: late callbacks are ignored. */
  isCurrent(): boolean;
}

export interface Transport {
  readonly name: PushStreamTransport;
  /** Whether this browser has the API the transport needs. */
  available(): boolean;
  /** Starts the attempt; returns a function that stops it without reporting an end. */
  open(ctx: TransportContext): () => void;
}

export function hasGlobal(name: 'WebSocket' | 'EventSource' | 'fetch'): boolean {
  return typeof (globalThis as Record<string, unknown>)[name] === 'function';
}

export function errorReason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
