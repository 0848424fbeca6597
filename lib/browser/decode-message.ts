/**
 * The frames the client understands, whatever server sent them: each dialect
 * (dialects/*.dialect.ts) decodes its server's wire format into these. No DOM, no Node.
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

/** A channel was deleted (the id -2 notice: push-stream's own, or the library's in-band one on Nchan). */
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

/** Field readers shared by the dialects' decoders. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function str(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);
}

export function num(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return Number(value);
  return undefined;
}

/**
 * Splits concatenated JSON objects (`{..}{..}` or one per line), as push-stream's stream mode and
 * long polling send them. Brace matching skips quoted strings, so it also cuts objects that are not
 * valid JSON (the notices of configs without JSON ping/deleted texts, see decodePushStreamMessage).
 * Kept here, not in the push-stream dialect: it is plain JSON framing, and the test helpers use it.
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
