/**
 * Pure decoding of what nginx sends subscribers, for both servers. No DOM, no Node: unit-tested
 * in Node against recorded traffic and used by the browser client.
 */

/** One message as the application published it. */
export interface DecodedMessage {
  kind: 'message';
  /** The channel the message was published to (the envelope's / template's `channel`). */
  channel: string;
  /** The decoded `text`: the JSON the application published (a string when it was not JSON). */
  data: unknown;
  /** Publisher-set event id (`Event-ID` on push-stream, `eventid` of the envelope), '' if none. */
  eventId: string;
  /** Publisher-set event type, '' if none. */
  eventType: string;
  /** The server's message id: push-stream's per-channel number, or Nchan's message id. '' if unknown. */
  id: string;
  /** push-stream only: the template's `time` (HTTP date), the resume position with `tag`. */
  time?: string;
  /** push-stream only: the template's `tag`. */
  tag?: number;
}

export interface DecodedPing {
  kind: 'ping';
}

/** A channel was deleted (push-stream's id -2 notice, or an in-band notice on Nchan). */
export interface DecodedChannelDeleted {
  kind: 'channel-deleted';
  channel: string;
}

export interface DecodedInvalid {
  kind: 'invalid';
  raw: string;
  reason: string;
}

export type DecodedFrame = DecodedMessage | DecodedPing | DecodedChannelDeleted | DecodedInvalid;

/** Message id push-stream gives pings. */
export const PUSH_STREAM_PING_ID = -1;
/** Message id of the channel-deleted notice (push-stream; also honoured in Nchan envelopes). */
export const CHANNEL_DELETED_ID = -2;

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);
}

function num(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return Number(value);
  return undefined;
}

/**
 * Splits concatenated JSON objects (`{..}{..}` or one per line), as push-stream's stream mode and
 * long polling send them. Brace matching skips quoted strings, so it also cuts objects that are not
 * valid JSON (the notices of configs without JSON ping/deleted texts, see decodePushStreamMessage).
 * `rest` is an incomplete tail to keep for the next chunk.
 */
export function splitJsonObjects(buffer: string): { objects: string[]; rest: string } {
  const objects: string[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  let escaped = false;
  let consumed = 0;
  for (let i = 0; i < buffer.length; i++) {
    const c = buffer[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      if (depth > 0) inString = true;
    } else if (c === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === '}' && depth > 0) {
      depth--;
      if (depth === 0) {
        objects.push(buffer.slice(start, i + 1));
        consumed = i + 1;
        start = -1;
      }
    } else if (depth === 0) {
      consumed = i + 1; // whitespace or garbage between objects
    }
  }
  return { objects, rest: depth > 0 && start >= 0 ? buffer.slice(start) : buffer.slice(consumed) };
}

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
    if (id && Number(id[1]) === CHANNEL_DELETED_ID && channel) return { kind: 'channel-deleted', channel: channel[1] };
    if (id && Number(id[1]) === PUSH_STREAM_PING_ID) return { kind: 'ping' };
    return { kind: 'invalid', raw, reason: 'not JSON (is ~text~ in the template fed non-JSON?)' };
  }
  if (!isRecord(parsed)) return { kind: 'invalid', raw, reason: 'not a JSON object' };
  const id = num(parsed.id);
  if (id === PUSH_STREAM_PING_ID) return { kind: 'ping' };
  if (id === CHANNEL_DELETED_ID) return { kind: 'channel-deleted', channel: str(parsed.channel) };
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
    if (num(parsed.id) === CHANNEL_DELETED_ID) return { kind: 'channel-deleted', channel: parsed.channel };
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
 * Parses a `text/event-stream` body into events (used by the tests' fakes and for SSE recorded
 * traffic; the browser client itself uses the native EventSource).
 */
export function parseEventStream(body: string): { id: string; event: string; data: string; comment: boolean }[] {
  const events: { id: string; event: string; data: string; comment: boolean }[] = [];
  for (const block of body.replace(/\r\n/g, '\n').split('\n\n')) {
    if (block.trim() === '') continue;
    let id = '';
    let event = '';
    const data: string[] = [];
    let comment = true;
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      comment = false;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') id = value;
      else if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    events.push({ id, event, data: data.join('\n'), comment });
  }
  return events;
}
