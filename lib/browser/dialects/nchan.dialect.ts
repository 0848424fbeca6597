/**
 * Everything the browser client does differently for Nchan (1.3.6, with nginx/nchan.conf.template):
 * the library's JSON envelope, message ids (`<time>:<tags>`), the `ws+meta.nchan` WebSocket
 * subprotocol, long-poll ids in headers, resume from the channels' buffers, what 410 and the
 * channel-deleted notice mean, and Nchan's limit on a multiplexed channel id.
 */
import { CHANNEL_DELETED_MESSAGE_ID } from '../../shared/push-stream-protocol.js';
import { isRecord, num, str, type DecodedFrame } from '../decode-message.js';
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

/** nchan_channel_id_split_delimiter of the shipped config. */
const CHANNEL_DELIMITER = '/';

/** The subprotocol that makes Nchan put each message's id (and type) in its WebSocket frame. */
export const NCHAN_WS_META_PROTOCOL = 'ws+meta.nchan';

/**
 * nchan_max_channel_id_length of the shipped config (16 ids of 128 characters and their
 * delimiters). Nchan checks it against the whole multiplexed id and answers 403 past it, after
 * the application approved the subscription. Nchan's own default is 1024.
 */
export const NCHAN_MAX_CHANNEL_ID_LENGTH = 2063;

/**
 * Decodes an Nchan message body. The library publishes the envelope
 * `{"channel":"c","text":<json>,"eventid":"..","type":".."}`; a body that is not an envelope (published
 * by something else) is delivered as is, on `fallbackChannel`. An envelope with `"id":-2` is a
 * channel-deleted notice (Nchan itself sends none that a browser can tell apart from a restart).
 */
export function decodeNchanMessage(raw: string, id: string, fallbackChannel: string, eventType = ''): DecodedFrame {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { kind: 'message', channel: fallbackChannel, data: raw, eventId: '', eventType, id };
  }
  if (isRecord(parsed) && typeof parsed.channel === 'string' && 'text' in parsed) {
    if (num(parsed.id) === CHANNEL_DELETED_MESSAGE_ID) return { kind: 'channel-deleted', channel: parsed.channel };
    return {
      kind: 'message',
      channel: parsed.channel,
      data: parsed.text,
      eventId: str(parsed.eventid),
      eventType: str(parsed.type) || eventType,
      id,
    };
  }
  return { kind: 'message', channel: fallbackChannel, data: parsed, eventId: '', eventType, id };
}

/**
 * Parses a WebSocket frame of Nchan's `ws+meta.nchan` subprotocol:
 * `id: <msgid>\ncontent-type: <type>\n\n<data>` (headers, blank line, body).
 */
export function parseNchanMetaFrame(frame: string): { id: string; contentType: string; eventType: string; data: string } | null {
  const sep = frame.indexOf('\n\n');
  if (sep < 0) return null;
  const head = frame.slice(0, sep).split('\n');
  const fields: Record<string, string> = {};
  for (const line of head) {
    const colon = line.indexOf(':');
    if (colon <= 0) return null;
    fields[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  if (fields.id === undefined) return null;
  return { id: fields.id, contentType: fields['content-type'] ?? '', eventType: fields['event'] ?? '', data: frame.slice(sep + 2) };
}

/** Nchan message id `<time>:<tag>` or, for a multi-channel subscription, `<time>:<t0>,[<t1>],-` . */
export interface NchanMessageId {
  time: number;
  /** One tag per subscribed channel; -1 (`-`) for a channel with no message at `time`. */
  tags: number[];
  /** Index of the channel this message came from (the bracketed tag), 0 for one channel. */
  active: number;
}

export function parseNchanMessageId(id: string): NchanMessageId | null {
  const m = /^(\d+):(.+)$/.exec(id.trim());
  if (!m) return null;
  const tags: number[] = [];
  let active = 0;
  const parts = m[2].split(',');
  for (let i = 0; i < parts.length; i++) {
    let p = parts[i].trim();
    if (p.startsWith('[') && p.endsWith(']')) {
      active = i;
      p = p.slice(1, -1);
    }
    if (p === '-') tags.push(-1);
    else if (/^-?\d+$/.test(p)) tags.push(Number(p));
    else return null;
  }
  return { time: Number(m[1]), tags, active };
}

/** Nchan long-poll answers carry the message id as `Last-Modified` (time) and `Etag` (tags). */
export function nchanIdFromLongPoll(lastModified: string | null, etag: string | null): string {
  if (!lastModified || !etag) return '';
  const ms = Date.parse(lastModified);
  if (Number.isNaN(ms)) return '';
  const tags = etag.replace(/^W\//, '').replace(/^"|"$/g, '');
  return `${Math.floor(ms / 1000)}:${tags}`;
}

/**
 * Ids restart at tag 0 when nginx reloads, often within the same second, so a resume by message id
 * would make the server skip the new store's first messages. A reconnect therefore takes the
 * channel's buffer again (forgetPosition()); ResumeTracker drops only what this channel already
 * delivered (same (time, tag) and data). Within one live long-poll chain, `?last_event_id=` still
 * moves from answer to answer.
 *
 * Gaps: Nchan numbers a channel's messages (second, n) with n = 0, 1, 2... within each second, so
 * the next message of a channel is (same second, n + 1) or (a later second, 0); anything else on
 * one subscription means messages were skipped, or (numbered lower) a new store. A new subscription
 * replays the buffer oldest first: if it still holds what the channel delivered, a repeat comes
 * first and the buffer goes on from there. If a new message comes first, the buffer no longer holds
 * the last one delivered, and its number tells what it can: (s, n > 0) had (s, 0..n-1) before it,
 * never received (missing, whatever the store); numbered lower, the store is new; (a later second,
 * 0) may follow right after it or not, and Nchan does not say (an emptied store, messages expired,
 * or a buffer overrun whose oldest message happens to open its second). Counts are lower bounds.
 */
class NchanPositions implements ResumePositions {
  private lastId = '';
  private readonly last = new Map<string, ResumePosition>();
  /** Channels whose buffer replay, or an earlier message, on this subscription showed where they stand. */
  private readonly placed = new Set<string>();

  /** The active (bracketed) tag is this channel's. */
  positionOf(message: TrackedMessage): ResumePosition | null {
    const id = parseNchanMessageId(message.id);
    if (!id) return null;
    const tag = id.tags[id.active];
    return tag === undefined ? null : { time: id.time, tag };
  }

  /**
   * (second, n) ids do not say how many messages a later second holds. Nchan keeps a channel's
   * messages in order (one worker in the shipped config; with more, the channel's owner orders them).
   */
  sequenceOf(): null {
    return null;
  }

  gapBefore(message: TrackedMessage, position: ResumePosition): PositionGap | null {
    const last = this.last.get(message.channel);
    if (!last) return null;
    if (position.time === last.time && position.tag === last.tag + 1) return null;
    // Below, (s, n > 0) had (s, 0..n-1) before it in its store, and they did not come here.
    if (position.time < last.time || (position.time === last.time && position.tag <= last.tag)) {
      // Numbered lower: a new store.
      if (position.tag > 0) return { reason: 'store-reset', missed: position.tag, proven: true };
      return { reason: 'store-reset', missed: null, proven: false };
    }
    if (position.time === last.time) return { reason: 'overrun', missed: position.tag - last.tag - 1, proven: true };
    if (position.tag > 0) return { reason: 'overrun', missed: position.tag, proven: true };
    // (a later second, 0) follows on one subscription; first in a replay it may, or not.
    return this.placed.has(message.channel) ? null : { reason: 'unknown', missed: null, proven: false };
  }

  /** A repeat in the replay: the buffer still holds what this channel delivered, and goes on from there. */
  repeated(message: TrackedMessage): void {
    this.placed.add(message.channel);
  }

  /** Never drops by order: a restarted store numbers new messages lower than old ones. */
  advance(message: TrackedMessage, position: ResumePosition): boolean {
    this.lastId = message.id;
    this.last.set(message.channel, position);
    this.placed.add(message.channel);
    return true;
  }

  resumeQuery(): Record<string, string> {
    return this.lastId ? { last_event_id: this.lastId } : {};
  }

  /** Resume from the channels' buffers, not from an id the server's store may no longer know. */
  forgetPosition(): void {
    this.lastId = '';
    this.placed.clear();
  }

  /** The multi-channel id no longer matches the URL: resume from the buffer replay instead. */
  channelsChanged(): void {
    this.forgetPosition();
  }
}

export class NchanBrowserDialect implements BrowserServerDialect {
  readonly kind = 'nchan' as const;
  readonly webSocketProtocol = NCHAN_WS_META_PROTOCOL;
  /**
   * Nchan keeps serving the deleted channel id to the subscription (it would recreate it). Nchan
   * itself signals a deletion only with 410 Gone, exactly as on a reload or stop, so 410 is never
   * read as a deletion: only the library's in-band id -2 notice is.
   */
  readonly resubscribeAfterChannelDeleted = true;

  assertSubscribable(channels: readonly string[]): void {
    const length = channels.join(CHANNEL_DELIMITER).length;
    if (length > NCHAN_MAX_CHANNEL_ID_LENGTH) {
      throw new RangeError(
        `PushStreamClient: ${channels.length} channels make a subscriber id of ${length} characters; Nchan refuses ids ` +
          `longer than ${NCHAN_MAX_CHANNEL_ID_LENGTH} (nchan_max_channel_id_length of the shipped config)`,
      );
    }
  }

  /** No history argument: Nchan replays each channel's buffer on every join. */
  subscriberPath(channels: readonly string[]): string {
    return channels.join(CHANNEL_DELIMITER);
  }

  createResumePositions(): ResumePositions {
    return new NchanPositions();
  }

  /**
   * One message per body. The message id's bracketed tag says which subscribed channel it came
   * from: the envelope of a publishMany names all its channels ("a/b"), not the one this
   * subscription holds.
   */
  decode(raw: string, meta: FrameMeta, channels: readonly string[]): DecodedFrame[] {
    const index = parseNchanMessageId(meta.id)?.active ?? 0;
    const source = channels[index] ?? channels[0] ?? '';
    const frame = decodeNchanMessage(raw, meta.id, source, meta.eventType);
    if (frame.kind === 'message' && !channels.includes(frame.channel)) frame.channel = source;
    return [frame];
  }

  decodeWebSocketFrame(data: string, protocol: string, channels: readonly string[]): DecodedFrame[] {
    // A server that refused the subprotocol sends bare bodies, without ids.
    if (protocol !== NCHAN_WS_META_PROTOCOL) return this.decode(data, { id: '', eventType: '' }, channels);
    const meta = parseNchanMetaFrame(data);
    if (!meta) return [{ kind: 'invalid', raw: data, reason: 'not a ws+meta.nchan frame' }];
    return this.decode(meta.data, { id: meta.id, eventType: meta.eventType }, channels);
  }

  longPollAnswer(status: number): LongPollAnswer {
    if (status === 200) return 'messages';
    // 408: the poll outlived nchan_subscriber_timeout without a message (nginx sends no 408 of its
    // own: it closes a connection that timed out). The subscription is fine: poll again.
    if (status === 304 || status === 408) return 'no-message';
    // 410 Gone (channel deleted, or nginx reloading/stopping: indistinguishable) ends the poll like
    // any other status; the client subscribes again.
    return 'ended';
  }

  longPollMeta(headers: HeaderReader): FrameMeta {
    return { id: nchanIdFromLongPoll(headers.get('last-modified'), headers.get('etag')), eventType: '' };
  }
}
