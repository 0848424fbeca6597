import type { PushStreamHttpResponse } from '../http/http-client.interface.js';
import { PushStreamConfigError, PushStreamProtocolError } from '../errors/push-stream.exception.js';
import { type DialectRequest, PushStreamDialect, type ServerAnswer, type ServerOperation } from './push-stream-dialect.interface.js';
import type { ChannelInfo, JsonValue, PublishManyResult, PublishOptions, ServerStats } from './push-stream-result.interface.js';
import { count, parseJsonObject } from './parse-json.js';
import { decodeLocationRequest } from './request-url.js';

/** The text of the channel-deleted notice (id -2) push-stream sends for a revocation. */
export const REVOKED_NOTICE_TEXT = 'Subscription revoked';

/** Backtrack suffix of a subscriber channel: `room.b5` asks for the last 5 stored messages. */
const BACKTRACK_SUFFIX = /\.b\d+$/;

/** The module splits channel ids on "/" and nothing else (no setting changes it). */
const DELIMITER = '/';

/** A channel's counters as the module writes them. */
function channelJson(info: ChannelInfo): Record<string, JsonValue> {
  return {
    channel: info.channel,
    published_messages: info.publishedMessages ?? 0,
    stored_messages: info.storedMessages,
    subscribers: info.subscribers,
  };
}

function jsonAnswer(body: unknown): PushStreamHttpResponse {
  return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

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
export class PushStreamModuleDialect extends PushStreamDialect {
  readonly kind = 'push-stream' as const;
  readonly notFoundStatus = 404;
  /** `push_stream_channels_statistics` location of nginx/push-stream.conf.template. */
  readonly statsPath = '/channels-stats';
  /** Yes: channels and stored messages live in shared memory, not in one worker (test/e2e/workers.e2e.spec.ts). */
  readonly survivesWorkerDeath = true;
  /** No: each nginx keeps its channels in its own shared memory; the application publishes to every node. */
  readonly sharesChannelsThroughRedis = false;

  constructor(channelDelimiter: string = DELIMITER) {
    super();
    if (channelDelimiter !== DELIMITER) {
      throw new PushStreamConfigError('channelDelimiter', `the Push Stream Module always separates channels with "${DELIMITER}"`);
    }
  }

  encodeMessage(data: unknown): string {
    // The module substitutes the body raw into ~text~, so JSON keeps templates valid JSON.
    return JSON.stringify(data);
  }

  publishRequest(publisherUrl: string, channels: readonly string[], body: string, options: PublishOptions): DialectRequest {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (options.eventId !== undefined) headers['event-id'] = options.eventId;
    if (options.eventType !== undefined) headers['event-type'] = options.eventType;
    return { method: 'POST', url: `${publisherUrl}?id=${channels.join(DELIMITER)}`, headers, body };
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

  // The ids travel in the request line, which must fit nginx's large_client_header_buffers (8k by
  // default, else 414); 255 keeps a publish's answer (one counter object per channel) small.
  readonly publishLimits = { channels: 255, characters: 4096 };

  subscriberPath(channels: readonly string[], backtrack: Readonly<Record<string, number>> = {}): string {
    // Only a positive whole count makes a `.bN` the module (and the auth endpoint) accepts.
    return channels.map((c) => (Number.isSafeInteger(backtrack[c]) && backtrack[c] > 0 ? `${c}.b${backtrack[c]}` : c)).join(DELIMITER);
  }

  assertSubscribable(_channels: readonly string[]): void {
    // No limit of the module's own on a subscription beyond each id's length (validated already)
    // and the application's auth.maxChannelsPerRequest (checked by the service).
  }

  parseSubscriberChannels(raw: string): string[] | null {
    const decoded = percentDecodeOnce(raw);
    if (decoded === null) return null;
    return decoded.split(DELIMITER).map((id) => id.replace(BACKTRACK_SUFFIX, ''));
  }

  decodeRequest(req: DialectRequest): ServerOperation {
    const location = decodeLocationRequest(req);
    if (!('publishTo' in location)) return location;
    const id = location.publishTo;
    let data: unknown;
    try {
      data = JSON.parse(req.body ?? '');
    } catch {
      throw new PushStreamProtocolError('decode request', 'publish body is not JSON');
    }
    return {
      op: 'publish',
      channels: id.split(DELIMITER),
      data,
      ...(req.headers['event-id'] === undefined ? {} : { eventId: req.headers['event-id'] }),
      ...(req.headers['event-type'] === undefined ? {} : { eventType: req.headers['event-type'] }),
    };
  }

  encodeAnswer(answer: ServerAnswer): PushStreamHttpResponse {
    const notFound: PushStreamHttpResponse = { status: this.notFoundStatus, headers: {}, body: '' };
    switch (answer.op) {
      case 'publish':
        // One channel answers a flat object, several a group with `infos` (recordings 01 and 09).
        return jsonAnswer(
          answer.channels.length === 1
            ? channelJson(answer.channels[0])
            : { channels: answer.channels.length, infos: answer.channels.map(channelJson) },
        );
      case 'info':
        return answer.channel === null ? notFound : jsonAnswer(channelJson(answer.channel));
      case 'delete':
        return answer.existed ? { status: 200, headers: { 'x-nginx-pushstream-explain': 'Channel deleted.' }, body: '' } : notFound;
      case 'stats':
        return jsonAnswer({
          channels: answer.stats.channels,
          published_messages: answer.stats.publishedMessages,
          stored_messages: answer.stats.storedMessages,
          subscribers: answer.stats.subscribers,
        });
    }
  }
}
