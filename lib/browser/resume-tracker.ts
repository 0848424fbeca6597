import type { PositionGap, PushStreamServerKind, ResumePosition, ResumePositions, TrackedMessage } from './dialects/browser-server-dialect.js';
import { browserDialect } from './dialects/index.js';

/**
 * How many delivered messages per channel are remembered to recognise a repeat. Must exceed the
 * server's per-channel buffer (20 in the shipped configs), which a reconnect may replay whole.
 */
const RECENT_PER_CHANNEL = 64;

/**
 * Servers that number each channel's messages (push-stream): how far below the channel's highest
 * number a message never seen is still taken as delivered late (out of order), and the widest
 * forward jump whose missing numbers are waited for.
 */
export const REORDER_WINDOW = 64;

/** How long the numbers missing at a forward jump are waited for before a `gap` names them. */
export const REORDER_WAIT_MS = 1000;

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

/** A forward jump in a channel's numbering whose missing numbers may still come, out of order. */
interface Hole {
  channel: string;
  /** Numbers not yet delivered. */
  missing: Set<number>;
  last: TrackedMessageRef;
  next: TrackedMessageRef;
  /** The message before the missing numbers (`last`): a resume must not start after it. */
  before: { message: TrackedMessage; position: ResumePosition };
  timer: ReturnType<typeof setTimeout> | null;
}

/** A numbered channel's order: its highest number and which of the numbers below it came. */
interface ChannelOrder {
  highest: number;
  /** The message numbered `highest`, and its position. */
  message: TrackedMessage;
  position: ResumePosition;
  /** Numbers delivered within REORDER_WINDOW of `highest`. */
  seen: Set<number>;
  holes: Hole[];
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
 * - Where the server numbers a channel's messages (the dialect's sequenceOf(), push-stream), they
 *   may come out of order (push-stream with several workers): a message numbered below the
 *   channel's highest (by less than REORDER_WINDOW, and positioned before it) that never came is
 *   delivered late, with no gap. A forward jump (by less than REORDER_WINDOW) is not reported at
 *   once: what is still missing REORDER_WAIT_MS later (of connected time) goes to `onLateGap`,
 *   outside accept(); nothing when every number came. A jump whose missing numbers fall out of
 *   the window is reported then. Meanwhile a new subscriber request (a reconnect, the next long
 *   poll) resumes from the message before the missing numbers, so that the server sends them.
 */
export class ResumeTracker {
  private readonly positions: ResumePositions;
  /** Whether the current connection was opened with a resume position the server honours. */
  private resumed = false;
  /** Recent message keys per channel, to tell a repeat from a new message. */
  private readonly recent = new Map<string, string[]>();
  /** Each channel's last message with a position. */
  private readonly last = new Map<string, TrackedMessageRef>();
  /** Numbered channels (see sequenceOf()). */
  private readonly orders = new Map<string, ChannelOrder>();

  constructor(
    readonly server: PushStreamServerKind,
    private readonly onGap: (gap: TrackedGap) => void = () => undefined,
    /** A gap found after a wait (a forward jump whose missing numbers did not come). */
    private readonly onLateGap: (gap: TrackedGap) => void = onGap,
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
    const sequence = this.positions.sequenceOf(message);
    const order = sequence === null ? undefined : this.orders.get(message.channel);
    if (sequence !== null && order && isLate(order, sequence, position)) {
      // Out of order: it never came, and was numbered and positioned before the channel's highest.
      order.seen.add(sequence);
      this.filled(order, sequence);
      this.remember(recent, key, repeatedEvent ? null : eventKey);
      return !repeatedEvent;
    }
    const gap = this.positions.gapBefore(message, position);
    if (!this.positions.advance(message, position, this.resumed)) return false;
    const ref = { id: message.id, eventId: message.eventId ?? '' };
    const last = this.last.get(message.channel);
    this.last.set(message.channel, ref);
    // Kept even for a repeated event: a replay of it later is a repeat, not a message out of order.
    this.remember(recent, key, repeatedEvent ? null : eventKey);
    const held = sequence !== null && this.ordered(message, sequence, position, gap, last, ref);
    if (gap && last && !held) this.onGap({ ...gap, channel: message.channel, last, next: ref });
    // A repeated event still moves the resume position past it, but is not delivered twice.
    return !repeatedEvent;
  }

  /** Call before each subscriber request: remembers whether it carries a resume position. */
  startConnection(): void {
    // Resumed from before missing numbers, the server sends again what came after them: older
    // than its channel's last, it is dropped, as without a resume position.
    this.resumed = Object.keys(this.resumeQuery()).length > 0 && this.waitingSince() === null;
    // Missing numbers are waited for while connected: the wait starts again with the connection.
    for (const order of this.orders.values()) for (const hole of order.holes) if (hole.timer === null) this.arm(hole);
  }

  /**
   * Query arguments that resume after the last message, or while numbers are missing (see above)
   * after the message before them; empty before any message.
   */
  resumeQuery(): Record<string, string> {
    return this.positions.resumeQuery(this.waitingSince()?.message);
  }

  /** The earliest message that missing numbers follow, null when none is missing. */
  private waitingSince(): { message: TrackedMessage; position: ResumePosition } | null {
    let earliest: { message: TrackedMessage; position: ResumePosition } | null = null;
    for (const order of this.orders.values()) {
      for (const hole of order.holes) if (!earliest || before(hole.before.position, earliest.position)) earliest = hole.before;
    }
    return earliest;
  }

  /** Whether any message of this channel was received (history is asked only on a first join). */
  has(channel: string): boolean {
    // Any message with a server position or an event id left its key in `recent`.
    return (this.recent.get(channel)?.length ?? 0) > 0;
  }

  /** Before a reconnect: the dialect decides whether the position still holds. */
  forgetPosition(): void {
    this.positions.forgetPosition();
    this.pause();
  }

  /** The set of channels changed (one was deleted). */
  channelsChanged(): void {
    this.positions.channelsChanged();
  }

  /**
   * Stops the waits for missing numbers (no connection: close(), a denial, a reconnect pending);
   * the next startConnection() starts them again.
   */
  pause(): void {
    for (const order of this.orders.values()) {
      for (const hole of order.holes) {
        if (hole.timer !== null) clearTimeout(hole.timer);
        hole.timer = null;
      }
    }
  }

  /**
   * Records an advanced numbered message; true when its gap (a forward jump) is held back to wait
   * for the missing numbers.
   */
  private ordered(
    message: TrackedMessage,
    sequence: number,
    position: ResumePosition,
    gap: PositionGap | null,
    last: TrackedMessageRef | undefined,
    next: TrackedMessageRef,
  ): boolean {
    const channel = message.channel;
    const order = this.orders.get(channel);
    if (!order || sequence <= order.highest) {
      // The first message of the channel, or a store numbering anew: its old holes went with it.
      if (order) this.dropHoles(order);
      this.orders.set(channel, { highest: sequence, message, position, seen: new Set([sequence]), holes: [] });
      return false;
    }
    const from = order.highest + 1;
    const previous = { message: order.message, position: order.position };
    order.highest = sequence;
    order.message = message;
    order.position = position;
    order.seen.add(sequence);
    for (const n of order.seen) if (n <= sequence - REORDER_WINDOW) order.seen.delete(n);
    let held = false;
    if (gap && last && gap.reason === 'overrun' && sequence - from < REORDER_WINDOW) {
      const missing = new Set<number>();
      for (let n = from; n < sequence; n++) missing.add(n);
      const hole: Hole = { channel, missing, last, next, before: previous, timer: null };
      order.holes.push(hole);
      this.arm(hole);
      held = true;
    }
    // Numbers that left the window can no longer be told from repeats: what is missing there is lost.
    for (const hole of [...order.holes]) {
      if ([...hole.missing].some((n) => n <= sequence - REORDER_WINDOW)) this.announce(order, hole);
    }
    return held;
  }

  /** A late message came: its hole may be complete. */
  private filled(order: ChannelOrder, sequence: number): void {
    for (const hole of order.holes) {
      if (!hole.missing.delete(sequence)) continue;
      if (hole.missing.size === 0) {
        if (hole.timer !== null) clearTimeout(hole.timer);
        order.holes.splice(order.holes.indexOf(hole), 1);
      }
      return;
    }
  }

  private arm(hole: Hole): void {
    hole.timer = setTimeout(() => {
      hole.timer = null;
      const order = this.orders.get(hole.channel);
      if (order) this.announce(order, hole);
    }, REORDER_WAIT_MS);
  }

  /** Reports what a hole still misses, and forgets it. */
  private announce(order: ChannelOrder, hole: Hole): void {
    const index = order.holes.indexOf(hole);
    if (index < 0) return;
    order.holes.splice(index, 1);
    if (hole.timer !== null) clearTimeout(hole.timer);
    hole.timer = null;
    const { channel, missing, last, next } = hole;
    if (missing.size > 0) this.onLateGap({ reason: 'overrun', missed: missing.size, proven: true, channel, last, next });
  }

  private dropHoles(order: ChannelOrder): void {
    for (const hole of order.holes) if (hole.timer !== null) clearTimeout(hole.timer);
    order.holes.length = 0;
  }

  private remember(recent: string[], ...keys: Array<string | null>): true {
    for (const key of keys) if (key !== null) recent.push(key);
    while (recent.length > RECENT_PER_CHANNEL) recent.shift();
    return true;
  }
}

/**
 * A message delivered late (out of order): numbered below its channel's highest by less than the
 * window, never seen, and positioned before the highest (a store numbering anew is positioned after).
 */
function isLate(order: ChannelOrder, sequence: number, position: ResumePosition): boolean {
  if (sequence >= order.highest || sequence <= order.highest - REORDER_WINDOW || order.seen.has(sequence)) return false;
  return before(position, order.position);
}

function before(a: ResumePosition, b: ResumePosition): boolean {
  return a.time < b.time || (a.time === b.time && a.tag < b.tag);
}
