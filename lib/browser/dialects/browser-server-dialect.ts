/**
 * The one interface between the server-neutral client (push-stream-client.ts, transports/) and a
 * server: everything that differs between the Push Stream Module and Nchan sits behind it, in
 * push-stream.dialect.ts and nchan.dialect.ts (picked in index.ts). Types only.
 */
import type { DecodedFrame, DecodedMessage } from '../decode-message.js';

export type PushStreamServerKind = 'nchan' | 'push-stream';

/** What a transport knows of a frame besides its body. */
export interface FrameMeta {
  /** The server's message id from outside the body (SSE `id:`, ws+meta `id:`, long-poll headers); '' if none. */
  id: string;
  /** The `event:` line (SSE named event, ws+meta header); '' if none. */
  eventType: string;
}

/** A message's place in its channel, comparable with `after()` within one server. */
export interface ResumePosition {
  /** push-stream: time in ms; Nchan: time in s. */
  time: number;
  tag: number;
}

/** What ResumeTracker reads of a message. */
export type TrackedMessage = Pick<DecodedMessage, 'channel' | 'id' | 'time' | 'tag'> & { data?: unknown; eventId?: string };

/**
 * Why a channel's messages may be incomplete (the `gap` event of PushStreamClient):
 * - `overrun`: the server's numbering shows messages were skipped: they left its buffer (more were
 *   published than it keeps, or they expired) before this client got them;
 * - `store-reset`: the numbering started again (nginx restarted, or reloaded on Nchan, or the
 *   channel was deleted and created again): what the old store held is gone;
 * - `unknown`: the server no longer holds the last message delivered and its numbering does not
 *   tell whether it emptied or overran (Nchan).
 */
export type GapReason = 'overrun' | 'store-reset' | 'unknown';

/** What the server's positions say about the messages between a channel's last one and the next. */
export interface PositionGap {
  reason: GapReason;
  /** Messages the numbering shows were skipped (at least that many are missing); null when it does not say. */
  missed: number | null;
  /**
   * True when messages are known to be missing. False when only the resume point is gone: lost
   * messages are possible but not shown (the client then decides from its connection history).
   */
  proven: boolean;
}

/** The server's half of ResumeTracker: where each channel is, and how a reconnect resumes. */
export interface ResumePositions {
  /** The message's position in its channel, or null when the server gave it none. */
  positionOf(message: TrackedMessage): ResumePosition | null;
  /**
   * The message's number in its channel when the server numbers each channel's messages 1, 2, 3...
   * in the order of their positions (push-stream's `~id~`), else null (Nchan). With numbers the
   * tracker tolerates messages delivered out of order (see ResumeTracker).
   */
  sequenceOf(message: TrackedMessage): number | null;
  /**
   * Whether messages may be missing between what the channel delivered and this new message (not a
   * repeat), at `position`. Called before advance(); changes nothing. Null: continuous, or no
   * earlier message of the channel to compare with.
   */
  gapBefore(message: TrackedMessage, position: ResumePosition): PositionGap | null;
  /** The server sent again a message the channel already delivered (ResumeTracker drops it). */
  repeated(message: TrackedMessage, position: ResumePosition): void;
  /**
   * Records a message at `position` that is not a repeat of a delivered one; false drops it as
   * older than what its channel delivered. `resumed`: the connection carried a resume position.
   */
  advance(message: TrackedMessage, position: ResumePosition, resumed: boolean): boolean;
  /**
   * Query arguments that resume after the last message; empty before any message. `notAfter`: a
   * delivered message whose channel still misses numbers after it (see sequenceOf()): resume no
   * later than right after it, so that the server sends them (what else it sends again is dropped).
   */
  resumeQuery(notAfter?: TrackedMessage): Record<string, string>;
  /** Before a reconnect. */
  forgetPosition(): void;
  /** The set of subscribed channels changed (one was deleted). */
  channelsChanged(): void;
}

/** What the status of a long-poll answer means. */
export type LongPollAnswer =
  /** The body holds messages. */
  | 'messages'
  /** No message, the subscription is fine: poll again after a pause. */
  | 'no-message'
  /** The subscription ended (the status is reported, 401/403 as a denial). */
  | 'ended';

/** The headers of a long-poll answer (a fetch `Headers`). */
export interface HeaderReader {
  get(name: string): string | null;
}

export interface BrowserServerDialect {
  readonly kind: PushStreamServerKind;

  /**
   * Throws a RangeError naming the server's limit when nginx would refuse this set of (valid,
   * de-duplicated) channel names even after the application approved it.
   */
  assertSubscribable(channels: readonly string[]): void;

  /**
   * The channel part of a subscriber URL. `history(channel)` is the `backtrack` option of a channel
   * not yet joined (undefined otherwise): servers that cannot ask for history ignore it.
   */
  subscriberPath(channels: readonly string[], history: (channel: string) => number | undefined): string;

  /** Fresh resume bookkeeping for one client. */
  createResumePositions(): ResumePositions;

  /** The WebSocket subprotocol to ask for, if any. */
  readonly webSocketProtocol: string | undefined;

  /** Decodes a body (EventSource data, long-poll body, WebSocket frame data) of a subscription to `channels`. */
  decode(raw: string, meta: FrameMeta, channels: readonly string[]): DecodedFrame[];

  /** Decodes one WebSocket text frame; `protocol` is the subprotocol the server agreed to ('' if none). */
  decodeWebSocketFrame(data: string, protocol: string, channels: readonly string[]): DecodedFrame[];

  longPollAnswer(status: number): LongPollAnswer;

  /** The message id a long-poll answer carries outside its body. */
  longPollMeta(headers: HeaderReader): FrameMeta;

  /**
   * After the channel-deleted notice of a subscribed channel: true when the server keeps serving
   * that channel to the open subscription, so the client must subscribe again without it.
   */
  readonly resubscribeAfterChannelDeleted: boolean;
}

