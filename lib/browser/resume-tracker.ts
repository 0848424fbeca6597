import type { DecodedMessage } from './decode-message.js';
import { parseNchanMessageId } from './decode-message.js';

export type PushStreamServerKind = 'nchan' | 'push-stream';

interface Position {
  /** push-stream: time in ms; Nchan: time in s. */
  time: number;
  tag: number;
}

/** How many delivered messages per channel are remembered to recognise a repeat. */
const RECENT_PER_CHANNEL = 64;

function after(a: Position, b: Position): boolean {
  return a.time > b.time || (a.time === b.time && a.tag > b.tag);
}

/**
 * Remembers where each channel stands, to resume after a reconnect and to drop anything the server
 * sends twice (replayed history, a resume that overlaps, Nchan's buffer replayed on join).
 *
 * - push-stream: position = (`time`, `tag`) of the template; resume with `?tag=&time=` of the newest
 *   message received on any channel (the module compares every channel with it).
 * - Nchan: position = (time, active tag) of the message id; resume with `?last_event_id=` = the last
 *   message id received (for several channels Nchan's id holds every channel's tag at that time).
 *
 * A message without a usable position (an old template without time/tag) is always delivered.
 */
export class ResumeTracker {
  private readonly positions = new Map<string, Position>();
  private newest: { position: Position; time: string; tag: number } | null = null;
  private lastNchanId = '';
  /** Whether the current connection was opened with a resume position the server honours. */
  private resumed = false;
  /** Recent (id, data) pairs per channel, to tell a repeat from a restarted store's new message. */
  private readonly recent = new Map<string, string[]>();

  constructor(readonly server: PushStreamServerKind) {}

  /** True when the message is new (and records it), false when it was already delivered. */
  accept(message: Pick<DecodedMessage, 'channel' | 'id' | 'time' | 'tag'> & { data?: unknown; eventId?: string }): boolean {
    const recent = this.recent.get(message.channel) ?? [];
    this.recent.set(message.channel, recent);
    // A publisher-set event id names one message: a publish retried after a timeout arrives again
    // with a new server id but the same event id.
    const eventKey = message.eventId ? `event\u0000${message.eventId}` : null;
    const repeatedEvent = eventKey !== null && recent.includes(eventKey);
    const position = this.positionOf(message);
    if (!position) return !repeatedEvent && this.remember(recent, eventKey);
    const previous = this.positions.get(message.channel);
    const key = `${message.id}\u0000${JSON.stringify(message.data)}`;
    if (previous && !after(position, previous)) {
      // Without a resume position the server replays its buffer: drop what was delivered already.
      // With one, an older id is a repeat only if it is the very message seen before; otherwise the
      // server's store started again (an nginx reload resets ids, often within the same second).
      if (!this.resumed || recent.includes(key)) return false;
    }
    this.positions.set(message.channel, position);
    if (this.server === 'nchan') {
      this.lastNchanId = message.id;
    } else if (message.time !== undefined && message.tag !== undefined) {
      if (!this.newest || after(position, this.newest.position)) {
        this.newest = { position, time: message.time, tag: message.tag };
      }
    }
    // A repeated event still moves the resume position past it, but is not delivered twice.
    return !repeatedEvent && this.remember(recent, key, eventKey);
  }

  private remember(recent: string[], ...keys: Array<string | null>): true {
    for (const key of keys) if (key !== null) recent.push(key);
    while (recent.length > RECENT_PER_CHANNEL) recent.shift();
    return true;
  }

  /** Call before each subscriber request: remembers whether it carries a resume position. */
  startConnection(): void {
    this.resumed = Object.keys(this.resumeQuery()).length > 0;
  }

  /** Query arguments that resume after the last message; empty before any message. */
  resumeQuery(): Record<string, string> {
    if (this.server === 'nchan') return this.lastNchanId ? { last_event_id: this.lastNchanId } : {};
    return this.newest ? { tag: String(this.newest.tag), time: this.newest.time } : {};
  }

  /** Whether any message of this channel was received (push-stream backtrack `.bN` only on first join). */
  has(channel: string): boolean {
    return this.positions.has(channel);
  }

  /**
   * The set of channels changed (one was deleted): Nchan's multi-channel id no longer matches the
   * URL, so resume from the buffer replay instead (duplicates are still dropped per channel).
   */
  channelsChanged(): void {
    this.lastNchanId = '';
  }

  private positionOf(message: Pick<DecodedMessage, 'id' | 'time' | 'tag'>): Position | null {
    if (this.server === 'nchan') {
      const id = parseNchanMessageId(message.id);
      if (!id) return null;
      const tag = id.tags[id.active];
      return tag === undefined ? null : { time: id.time, tag };
    }
    if (message.time === undefined || message.tag === undefined) return null;
    const ms = Date.parse(message.time);
    return Number.isNaN(ms) ? null : { time: ms, tag: message.tag };
  }
}
