import type { PositionGap, PushStreamServerKind, ResumePositions, TrackedMessage } from './dialects/browser-server-dialect.js';
import { browserDialect } from './dialects/index.js';

/**
 * How many delivered messages per channel are remembered to recognise a repeat. Must exceed the
 * server's per-channel buffer (20 in the shipped configs), which a reconnect may replay whole.
 */
const RECENT_PER_CHANNEL = 64;

/** A message of a channel, as a `gap` names the messages on either side of it. */
export interface TrackedMessageRef {
  /** The server's message id ('' if none). */
  id: string;
  /** The publisher-set event id ('' if none). */
  eventId: string;
}

/** Messages of a channel may be missing before `next` (see the dialect's gapBefore()). */
export interface TrackedGap extends PositionGap {
  channel: string;
  /** The channel's last message before the gap (delivered, or dropped as a repeated event id). */
  last: TrackedMessageRef;
  /** The message after the gap: accept() is about to return for it. */
  next: TrackedMessageRef;
}

/**
 * Remembers what each channel delivered, to resume after a reconnect and to drop anything the
 * server sends twice.
 *
 * - A message the server gave a position (see the dialect's ResumePositions) is dropped when this
 *   channel already delivered that very message: same position and same data. The dialect may
 *   also drop it as older than the channel's last one, and says how a reconnect resumes.
 * - A publisher-set event id names one message: a publish retried after a timeout arrives again
 *   with a new server id but the same event id, and is delivered once.
 * - Before accepting a new message, asks the dialect whether messages may be missing since the
 *   channel's last one, and reports it to `onGap` (before accept() returns).
 */
export class ResumeTracker {
  private readonly positions: ResumePositions;
  /** Whether the current connection was opened with a resume position the server honours. */
  private resumed = false;
  /** Recent message keys per channel, to tell a repeat from a new message. */
  private readonly recent = new Map<string, string[]>();
  /** Each channel's last message with a position. */
  private readonly last = new Map<string, TrackedMessageRef>();

  constructor(
    readonly server: PushStreamServerKind,
    private readonly onGap: (gap: TrackedGap) => void = () => undefined,
  ) {
    this.positions = browserDialect(server).createResumePositions();
  }

  /** True when the message is new (and records it), false when it was already delivered. */
  accept(message: TrackedMessage): boolean {
    const recent = this.recent.get(message.channel) ?? [];
    this.recent.set(message.channel, recent);
    const eventKey = message.eventId ? `event\u0000${message.eventId}` : null;
    const repeatedEvent = eventKey !== null && recent.includes(eventKey);
    const position = this.positions.positionOf(message);
    if (!position) return !repeatedEvent && this.remember(recent, eventKey);
    const key = `${position.time}:${position.tag}\u0000${JSON.stringify(message.data)}`;
    if (recent.includes(key)) {
      this.positions.repeated(message, position);
      return false;
    }
    const gap = this.positions.gapBefore(message, position);
    if (!this.positions.advance(message, position, this.resumed)) return false;
    const ref = { id: message.id, eventId: message.eventId ?? '' };
    const last = this.last.get(message.channel);
    this.last.set(message.channel, ref);
    // Kept even for a repeated event: a replay of it later is a repeat, not a message out of order.
    this.remember(recent, key, repeatedEvent ? null : eventKey);
    if (gap && last) this.onGap({ ...gap, channel: message.channel, last, next: ref });
    // A repeated event still moves the resume position past it, but is not delivered twice.
    return !repeatedEvent;
  }

  /** Call before each subscriber request: remembers whether it carries a resume position. */
  startConnection(): void {
    this.resumed = Object.keys(this.resumeQuery()).length > 0;
  }

  /** Query arguments that resume after the last message; empty before any message. */
  resumeQuery(): Record<string, string> {
    return this.positions.resumeQuery();
  }

  /** Whether any message of this channel was received (history is asked only on a first join). */
  has(channel: string): boolean {
    // Any message with a server position or an event id left its key in `recent`.
    return (this.recent.get(channel)?.length ?? 0) > 0;
  }

  /** Before a reconnect: the dialect decides whether the position still holds. */
  forgetPosition(): void {
    this.positions.forgetPosition();
  }

  /** The set of channels changed (one was deleted). */
  channelsChanged(): void {
    this.positions.channelsChanged();
  }

  private remember(recent: string[], ...keys: Array<string | null>): true {
    for (const key of keys) if (key !== null) recent.push(key);
    while (recent.length > RECENT_PER_CHANNEL) recent.shift();
    return true;
  }
}
