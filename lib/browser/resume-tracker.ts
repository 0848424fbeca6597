import type { PushStreamServerKind, ResumePositions, TrackedMessage } from './dialects/browser-server-dialect.js';
import { browserDialect } from './dialects/index.js';

/**
 * How many delivered messages per channel are remembered to recognise a repeat. Must exceed the
 * server's per-channel buffer (20 in the shipped configs), which a reconnect may replay whole.
 */
const RECENT_PER_CHANNEL = 64;

/**
 * Remembers what each channel delivered, to resume after a reconnect and to drop anything the
 * server sends twice.
 *
 * - A message the server gave a position (see the dialect's ResumePositions) is dropped when this
 *   channel already delivered that very message: same position and same data. The dialect may
 *   also drop it as older than the channel's last one, and says how a reconnect resumes.
 * - A publisher-set event id names one message: a publish retried after a timeout arrives again
 *   with a new server id but the same event id, and is delivered once.
 */
export class ResumeTracker {
  private readonly positions: ResumePositions;
  /** Whether the current connection was opened with a resume position the server honours. */
  private resumed = false;
  /** Recent message keys per channel, to tell a repeat from a new message. */
  private readonly recent = new Map<string, string[]>();

  constructor(readonly server: PushStreamServerKind) {
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
    if (recent.includes(key)) return false;
    if (!this.positions.advance(message, position, this.resumed)) return false;
    // A repeated event still moves the resume position past it, but is not delivered twice.
    return !repeatedEvent && this.remember(recent, key, eventKey);
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
