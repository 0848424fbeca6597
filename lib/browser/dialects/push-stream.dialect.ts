/**
 * Everything the browser client does differently for the Nginx Push Stream Module (0.6.0, with
 * nginx/push-stream.conf.template): URLs with `.bN` history and `?tag=&time=` resume, the JSON
 * message template, its pings and channel-deleted notices, and the module's limits.
 */
import { CHANNEL_DELETED_MESSAGE_ID, PING_MESSAGE_ID } from '../../shared/push-stream-protocol.js';
import { isRecord, num, splitJsonObjects, str, type DecodedFrame, type DecodedMessage } from '../decode-message.js';
import type {
  BrowserServerDialect,
  FrameMeta,
  HeaderReader,
  LongPollAnswer,
  PositionGap,
  ResumePosition,
  ResumePositions,
  TrackedMessage,
} from './browser-server-dialect.js';

/** The module splits a subscriber path on "/" (not configurable). */
const CHANNEL_DELIMITER = '/';

/** push_stream_max_channel_id_length of the shipped config: the module refuses (400) any longer id. */
export const PUSH_STREAM_MAX_CHANNEL_ID_LENGTH = 128;

/**
 * Decodes one push-stream message rendered by the repository's template
 * `{"id":~id~,"channel":"~channel~","text":~text~,"eventid":"~event-id~","type":"~event-type~","time":"~time~","tag":~tag~}`
 * (shorter templates with a subset of these fields decode too). Pings (id -1) and the channel-deleted
 * notice (id -2) are recognised in both shapes: valid JSON (`"text":""`, `"text":"Channel deleted"`,
 * with the shipped `push_stream_ping_message_text` / `push_stream_channel_deleted_message_text`) and
 * the module's defaults that older configs still send (`"text":,`, `"text":Channel deleted`), which
 * are not JSON.
 */
export function decodePushStreamMessage(raw: string): DecodedFrame {
  const text = raw.trim();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    const id = /"id"\s*:\s*(-?\d+)/.exec(text);
    const channel = /"channel"\s*:\s*"([^"]*)"/.exec(text);
    if (id && Number(id[1]) === CHANNEL_DELETED_MESSAGE_ID && channel) return { kind: 'channel-deleted', channel: channel[1] };
    if (id && Number(id[1]) === PING_MESSAGE_ID) return { kind: 'ping' };
    return { kind: 'invalid', raw, reason: 'not JSON (is ~text~ in the template fed non-JSON?)' };
  }
  if (!isRecord(parsed)) return { kind: 'invalid', raw, reason: 'not a JSON object' };
  const id = num(parsed.id);
  if (id === PING_MESSAGE_ID) return { kind: 'ping' };
  if (id === CHANNEL_DELETED_MESSAGE_ID) return { kind: 'channel-deleted', channel: str(parsed.channel) };
  if (typeof parsed.channel !== 'string' || !('text' in parsed)) {
    return { kind: 'invalid', raw, reason: 'not a push-stream template message (no channel/text)' };
  }
  const message: DecodedMessage = {
    kind: 'message',
    channel: parsed.channel,
    data: parsed.text,
    eventId: str(parsed.eventid),
    eventType: str(parsed.type),
    id: id === undefined ? '' : String(id),
  };
  if (typeof parsed.time === 'string' && parsed.time !== '') message.time = parsed.time;
  const tag = num(parsed.tag);
  if (tag !== undefined) message.tag = tag;
  return message;
}

function after(a: ResumePosition, b: ResumePosition): boolean {
  return a.time > b.time || (a.time === b.time && a.tag > b.tag);
}

/** The template's `~id~`: the channel's own message number, 1, 2, 3... (0 and below are notices). */
function sequenceOf(message: TrackedMessage): number | null {
  return /^\d+$/.test(message.id) && Number(message.id) > 0 ? Number(message.id) : null;
}

/**
 * Position = (`time`, `tag`) of the template. A reconnect resumes with `?tag=&time=` of the newest
 * message received on any channel (the module compares every channel with it). Without a resume
 * position (first join, `.bN` history) what is not newer than what a channel delivered is dropped;
 * with one, an older id is delivered unless it is exactly a message seen (the store started again).
 * ResumeTracker takes first, on any connection, a message numbered (`~id~`) and positioned just
 * before what its channel delivered that never came: the module with several workers may deliver a
 * channel's messages out of order. While a channel waits for such a number, a reconnect or the
 * next long poll resumes from the message before it (resumeQuery(notAfter)).
 *
 * Gaps: the module numbers each channel's messages 1, 2, 3... (`~id~`, kept across reloads, from 1
 * again in a new store), and a resume sends every stored message after the position. So the next
 * message of a channel is the last one + 1, live or resumed; more means the store no longer had
 * the ones between (overrun: more than push_stream_max_messages_stored_per_channel, or older than
 * push_stream_message_ttl); not more means a new store numbering from 1 again, which proves a loss
 * only when the first number seen from it is above 1.
 */
class PushStreamPositions implements ResumePositions {
  private readonly positions = new Map<string, ResumePosition>();
  private readonly sequences = new Map<string, number>();
  private newest: { position: ResumePosition; time: string; tag: number } | null = null;

  positionOf(message: TrackedMessage): ResumePosition | null {
    if (message.time === undefined || message.tag === undefined) return null;
    const ms = Date.parse(message.time);
    return Number.isNaN(ms) ? null : { time: ms, tag: message.tag };
  }

  /**
   * The module gives a message its `~id~`, time and tag together under the channel's lock, so the
   * numbers follow the positions. With several workers it may still deliver them out of order: a
   * publish on each of two workers, numbered 5 and 6, can reach a subscriber as 6 then 5.
   */
  sequenceOf(message: TrackedMessage): number | null {
    return sequenceOf(message);
  }

  gapBefore(message: TrackedMessage): PositionGap | null {
    const last = this.sequences.get(message.channel);
    const next = sequenceOf(message);
    if (last === undefined || next === null || next === last + 1) return null;
    if (next > last + 1) return { reason: 'overrun', missed: next - last - 1, proven: true };
    // Numbered anew: whatever the old store held after `last` is gone, if it held anything; and the
    // new store's 1..next-1 came before this one and never here (a resume at the old position skips
    // the new store's messages of the same second).
    if (next > 1) return { reason: 'store-reset', missed: next - 1, proven: true };
    return { reason: 'store-reset', missed: null, proven: false };
  }

  /** Repeats carry no news: the numbers say everything. */
  repeated(): void {}

  advance(message: TrackedMessage, position: ResumePosition, resumed: boolean): boolean {
    const previous = this.positions.get(message.channel);
    if (previous && !after(position, previous) && !resumed) return false;
    this.positions.set(message.channel, position);
    const sequence = sequenceOf(message);
    if (sequence !== null) this.sequences.set(message.channel, sequence);
    if (message.time !== undefined && message.tag !== undefined && (!this.newest || after(position, this.newest.position))) {
      this.newest = { position, time: message.time, tag: message.tag };
    }
    return true;
  }

  resumeQuery(notAfter?: TrackedMessage): Record<string, string> {
    const earlier = notAfter && this.positionOf(notAfter);
    if (earlier && notAfter.time !== undefined && notAfter.tag !== undefined && (!this.newest || after(this.newest.position, earlier))) {
      return { tag: String(notAfter.tag), time: notAfter.time };
    }
    return this.newest ? { tag: String(this.newest.tag), time: this.newest.time } : {};
  }

  /** The module's store survives reloads: a reconnect keeps its position. */
  forgetPosition(): void {}

  /** One tag/time pair covers every channel: nothing to redo. */
  channelsChanged(): void {}
}

export class PushStreamBrowserDialect implements BrowserServerDialect {
  readonly kind = 'push-stream' as const;
  readonly webSocketProtocol = undefined;
  /** The module drops the deleted channel from the connection and keeps it open for the others. */
  readonly resubscribeAfterChannelDeleted = false;

  assertSubscribable(channels: readonly string[]): void {
    const long = channels.find((c) => c.length > PUSH_STREAM_MAX_CHANNEL_ID_LENGTH);
    if (long !== undefined) {
      throw new RangeError(
        `PushStreamClient: channel ${JSON.stringify(long.slice(0, 40))}… has ${long.length} characters; the Push Stream Module refuses ids ` +
          `longer than ${PUSH_STREAM_MAX_CHANNEL_ID_LENGTH} (push_stream_max_channel_id_length)`,
      );
    }
  }

  subscriberPath(channels: readonly string[], history: (channel: string) => number | undefined): string {
    return channels
      .map((c) => {
        const n = history(c);
        return n && n > 0 ? `${c}.b${Math.floor(n)}` : c;
      })
      .join(CHANNEL_DELIMITER);
  }

  createResumePositions(): ResumePositions {
    return new PushStreamPositions();
  }

  /** Stream mode and long polling may carry several template objects in one body. */
  decode(raw: string): DecodedFrame[] {
    const { objects, rest } = splitJsonObjects(raw);
    const all = rest.trim() ? [...objects, rest] : objects;
    return all.map((o) => decodePushStreamMessage(o));
  }

  /** One template message per frame; the id is in the body. */
  decodeWebSocketFrame(data: string): DecodedFrame[] {
    return this.decode(data);
  }

  longPollAnswer(status: number): LongPollAnswer {
    if (status === 200) return 'messages';
    // The module answers every waiting poll with 304 when nginx reloads (and when a poll times out).
    if (status === 304) return 'no-message';
    return 'ended';
  }

  /** The id, time and tag are in the template; Etag/Last-Modified only repeat them. */
  longPollMeta(_headers: HeaderReader): FrameMeta {
    return { id: '', eventType: '' };
  }
}
