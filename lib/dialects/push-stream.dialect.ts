import type { PushStreamHttpResponse } from '../http/http-client.interface.js';
import { PushStreamProtocolError } from '../errors/push-stream.exception.js';
import type { DialectRequest, PushStreamDialect } from './push-stream-dialect.interface.js';
import type { ChannelInfo, JsonValue, PublishManyResult, PublishOptions, ServerStats } from './push-stream-result.interface.js';
import { count, parseJsonObject } from './parse-json.js';

/** The text of the channel-deleted notice (id -2) push-stream sends for a revocation. */
export const REVOKED_NOTICE_TEXT = 'Subscription revoked';

/** Backtrack suffix of a subscriber channel: `room.b5` asks for the last 5 stored messages. */
const BACKTRACK_SUFFIX = /\.b\d+$/;

function channelInfo(operation: string, obj: Record<string, unknown>): ChannelInfo {
  if (typeof obj.channel !== 'string') throw new PushStreamProtocolError(operation, 'field "channel" is missing');
  return {
    channel: obj.channel,
    subscribers: count(operation, obj, 'subscribers'),
    storedMessages: count(operation, obj, 'stored_messages'),
    publishedMessages: count(operation, obj, 'published_messages'),
  };
}

/** Undoes %XX escapes the way the module does, once; null for a broken escape. */
function percentDecodeOnce(raw: string): string | null {
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

/**
 * The Nginx Push Stream Module (0.5.x), as recorded in shared/wire/push-stream:
 * publish with POST `<pub>?id=a/b`, info with GET, delete with DELETE, statistics as JSON.
 * One channel answers a flat object; several answer a group object with `infos`.
 */
export class PushStreamModuleDialect implements PushStreamDialect {
  readonly kind = 'push-stream' as const;
  readonly notFoundStatus = 404;

  encodeMessage(data: unknown): string {
    // The module substitutes the body raw into ~text~, so JSON keeps templates valid JSON.
    return JSON.stringify(data);
  }

  publishRequest(publisherUrl: string, channels: readonly string[], body: string, options: PublishOptions): DialectRequest {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (options.eventId !== undefined) headers['event-id'] = options.eventId;
    if (options.eventType !== undefined) headers['event-type'] = options.eventType;
    return { method: 'POST', url: `${publisherUrl}?id=${channels.join('/')}`, headers, body };
  }

  parsePublish(channels: readonly string[], res: PushStreamHttpResponse): PublishManyResult {
    const obj = parseJsonObject('publish', res.body);
    const infos = Array.isArray(obj.infos)
      ? obj.infos.map((i) => channelInfo('publish', (i ?? {}) as Record<string, unknown>))
      : [channelInfo('publish', obj)];
    return { channels: [...channels], subscribers: infos.reduce((n, i) => n + i.subscribers, 0), infos };
  }

  infoRequest(publisherUrl: string, channel: string): DialectRequest {
    return { method: 'GET', url: `${publisherUrl}?id=${channel}`, headers: {} };
  }

  parseInfo(_channel: string, res: PushStreamHttpResponse): ChannelInfo | null {
    if (res.status === this.notFoundStatus) return null;
    return channelInfo('channel info', parseJsonObject('channel info', res.body));
  }

  deleteRequest(publisherUrl: string, channel: string): DialectRequest {
    return { method: 'DELETE', url: `${publisherUrl}?id=${channel}`, headers: {} };
  }

  parseDelete(_channel: string, res: PushStreamHttpResponse): boolean {
    return res.status !== this.notFoundStatus;
  }

  // Measured on the module (0.6.0): deleting a of a subscriber of a/b sends the notice for a and
  // keeps the connection open on b (ngx_http_push_stream_module_utils.c: the connection is ended
  // only when no subscription is left). A long poll is answered with the notice either way.
  readonly deleteClosesConnections = false;

  revokeRequest(publisherUrl: string, channel: string): DialectRequest {
    // A DELETE body replaces push_stream_channel_deleted_message_text for this deletion: the
    // notice (id -2, as always) then says why. It goes raw into ~text~, so it is JSON.
    return {
      method: 'DELETE',
      url: `${publisherUrl}?id=${channel}`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(REVOKED_NOTICE_TEXT),
    };
  }

  statsRequest(statsUrl: string): DialectRequest {
    return { method: 'GET', url: statsUrl, headers: {} };
  }

  parseStats(res: PushStreamHttpResponse): ServerStats {
    const obj = parseJsonObject('stats', res.body);
    return {
      server: this.kind,
      channels: count('stats', obj, 'channels'),
      subscribers: count('stats', obj, 'subscribers'),
      publishedMessages: count('stats', obj, 'published_messages'),
      storedMessages: count('stats', obj, 'stored_messages'),
      // Kept whole: a parsed JSON body, nested values (the per-worker `by_worker` list) included.
      raw: obj as Record<string, JsonValue>,
    };
  }

  subscriberPath(channels: readonly string[], backtrack: Readonly<Record<string, number>> = {}): string {
    // Only a positive whole count makes a `.bN` the module (and the auth endpoint) accepts.
    return channels.map((c) => (Number.isSafeInteger(backtrack[c]) && backtrack[c] > 0 ? `${c}.b${backtrack[c]}` : c)).join('/');
  }

  parseSubscriberChannels(raw: string): string[] | null {
    const decoded = percentDecodeOnce(raw);
    if (decoded === null) return null;
    return decoded.split('/').map((id) => id.replace(BACKTRACK_SUFFIX, ''));
  }
}
