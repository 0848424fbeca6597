import type { DecodedMessage } from './decode-message.js';
import { parseNchanMessageId } from './decode-message.js';

export type PushStreamServerKind = 'nchan' | 'push-stream';

interface Position {
  /** push-stream: time in ms; Nchan: time in s. */
  time: number;
  tag: number;
}

/**
 * How many delivered messages per channel are remembered to recognise a repeat. Must exceed the
 * server's per-channel buffer (20 in the shipped configs), which a reconnect may replay whole.
 */
const RECENT_PER_CHANNEL = 64;

function after(a: Position, b: Position): boolean {
  return a.time > b.time || (a.time === b.time && a.tag > b.tag);
}

type TrackedMessage = Pick<DecodedMessage, 'channel' | 'id' | 'time' | 'tag'> & { data?: unknown; eventId?: string };

/**
 * Remembers what each channel delivered, to resume after a reconnect and to drop anything the
 * server sends twice.
 *
 * - push-stream: position = (`time`, `tag`) of the template; a reconnect resumes with `?tag=&time=`
 *   of the newest message received on any channel (the module compares every channel with it).
 *   Without a resume position (first join, `.bN` history) what is not newer is dropped; with one,
 *   an older id is delivered unless it is exactly a message seen (the store started again).
 * - Nchan: ids restart at tag 0 when nginx reloads, often within the same second, so a resume by
 *   message id would make the server skip the new store's first messages. A reconnect therefore
 *   takes the channel's buffer again (forgetPosition()) and a message is dropped only when this
 *   channel already delivered that very message: same (time, tag) and same data. Within one live
 *   long-poll chain, `?last_event_id=` still moves from answer to answer.
 * - On both, a publisher-set event id names one message: a publish retried after a timeout arrives
 *   again with a new server id but the same event id, and is delivered once.
 */
export class ResumeTracker {
  private readonly positions = new Map<string, Position>();
  private newest: { position: Position; time: string; tag: number } | null = null;
  private lastNchanId = '';
  /** Whether the current connection was opened with a resume position the server honours. */
  private resumed = false;
  /** Recent message keys per channel, to tell a repeat from a new message. */
  private readonly recent = new Map<string, string[]>();

  constructor(readonly server: PushStreamServerKind) {}

  /** True when the message is new (and records it), false when it was already delivered. */
  accept(message: TrackedMessage): boolean {
    const recent = this.recent.get(message.channel) ?? [];
    this.recent.set(message.channel, recent);
    const eventKey = message.eventId ? `event\u0000${message.eventId}` : null;
    const repeatedEvent = eventKey !== null && recent.includes(eventKey);
    const position = this.positionOf(message);
    if (!position) return !repeatedEvent && this.remember(recent, eventKey);
    const key = `${position.time}:${position.tag}\u0000${JSON.stringify(message.data)}`;
    if (recent.includes(key)) return false;
    if (this.server === 'nchan') {
      this.lastNchanId = message.id;
    } else {
      const previous = this.positions.get(message.channel);
      if (previous && !after(position, previous) && !this.resumed) return false;
      this.positions.set(message.channel, position);
      if (message.time !== undefined && message.tag !== undefined && (!this.newest || after(position, this.newest.position))) {
        this.newest = { position, time: message.time, tag: message.tag };
      }
    }
    // A repeated event still moves the resume position past it, but is not delivered twice.
    return !repeatedEvent && this.remember(recent, key, eventKey);
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
    return this.positions.has(channel) || (this.recent.get(channel)?.length ?? 0) > 0;
  }

  /**
   * Before a reconnect. Nchan: resume from the channels' buffers, not from a message id the
   * server's store may no longer know (see the class comment). push-stream keeps its position.
   */
  forgetPosition(): void {
    if (this.server === 'nchan') this.lastNchanId = '';
  }

  /**
   * The set of channels changed (one was deleted): Nchan's multi-channel id no longer matches the
   * URL, so resume from the buffer replay instead (duplicates are still dropped per channel).
   */
  channelsChanged(): void {
    this.lastNchanId = '';
  }

  private remember(recent: string[], ...keys: Array<string | null>): true {
    for (const key of keys) if (key !== null) recent.push(key);
    while (recent.length > RECENT_PER_CHANNEL) recent.shift();
    return true;
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
