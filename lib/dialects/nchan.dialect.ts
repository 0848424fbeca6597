import type { PushStreamHttpResponse } from '../http/http-client.interface.js';
import { ChannelSetTooLargeError, PushStreamProtocolError } from '../errors/push-stream.exception.js';
import { CHANNEL_DELETED_MESSAGE_ID, CHANNEL_DELETED_TEXT } from '../shared/push-stream-protocol.js';
import { type DialectRequest, PushStreamDialect, type ServerAnswer, type ServerOperation } from './push-stream-dialect.interface.js';
import type { ChannelInfo, PublishManyResult, PublishOptions, ServerStats } from './push-stream-result.interface.js';
import { count, parseJsonObject } from './parse-json.js';
import { decodeLocationRequest } from './request-url.js';

/**
 * nchan_max_channel_id_length of the shipped config (16 ids of 128 characters and their
 * delimiters). Nchan checks it against the whole multiplexed id and answers 403 past it, after
 * the application approved the subscription. Nchan's own default is 1024.
 */
export const NCHAN_MAX_CHANNEL_ID_LENGTH = 2063;

/** A channel's counters as Nchan writes them. */
function channelJson(info: Pick<ChannelInfo, 'storedMessages' | 'subscribers' | 'lastMessageId'>): string {
  return JSON.stringify({
    messages: info.storedMessages,
    requested: -1,
    subscribers: info.subscribers,
    ...(info.lastMessageId === undefined ? {} : { last_message_id: info.lastMessageId }),
  });
}

/** The message envelope on Nchan: the same fields the push-stream JSON templates give browsers. */
export interface NchanEnvelope {
  channel: string;
  text: unknown;
  eventid: string;
  type: string;
}

/**
 * Nchan 1.x with `nchan_publisher` at `<pub>?id=a/b` (`nchan_channel_id $arg_id` and
 * `nchan_channel_id_split_delimiter` set to the configured delimiter) and `nchan_stub_status`.
 * Nchan has no message templates and no publisher-set event ids, so the message travels in a
 * JSON envelope shaped like the push-stream template: browsers decode both servers alike.
 */
export class NchanDialect extends PushStreamDialect {
  readonly kind = 'nchan' as const;
  readonly notFoundStatus = 404;
  /** `nchan_stub_status` location of nginx/nchan.conf.template. */
  readonly statsPath = '/nchan-stats';
  /** No: each channel is owned by one worker, and a dead owner's channels lose messages and subscribers (test/e2e/workers.e2e.spec.ts). */
  readonly survivesWorkerDeath = false;
  /** Yes: `nchan_redis_pass` in every channel location (test/e2e/redis-nodes.e2e.spec.ts). */
  readonly sharesChannelsThroughRedis = true;

  /** `delimiter`: nchan_channel_id_split_delimiter of the nginx config (the channelDelimiter option). */
  constructor(private readonly delimiter: string = '/') {
    super();
  }

  encodeMessage(data: unknown, channels: readonly string[], options: PublishOptions): string {
    const envelope: NchanEnvelope = {
      channel: channels.join(this.delimiter),
      text: data,
      eventid: options.eventId ?? '',
      type: options.eventType ?? '',
    };
    return JSON.stringify(envelope);
  }

  // Nchan multiplexes at most 255 channels, and checks nchan_max_channel_id_length (the shipped
  // configs' value) against the whole joined id of a publish too: past it, 403.
  readonly publishLimits = { channels: 255, characters: NCHAN_MAX_CHANNEL_ID_LENGTH };

  publishRequest(publisherUrl: string, channels: readonly string[], body: string, options: PublishOptions): DialectRequest {
    // Accept: JSON answers instead of Nchan's text/plain summary.
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
    if (options.eventType !== undefined) headers['x-eventsource-event'] = options.eventType;
    return { method: 'POST', url: `${publisherUrl}?id=${channels.join(this.delimiter)}`, headers, body };
  }

  parsePublish(channels: readonly string[], res: PushStreamHttpResponse): PublishManyResult {
    const info = this.info('publish', channels.join(this.delimiter), res.body);
    // Nchan sums a multi-channel publish into one answer; per-channel counters exist only for one.
    return { channels: [...channels], subscribers: info.subscribers, infos: channels.length === 1 ? [info] : [] };
  }

  infoRequest(publisherUrl: string, channel: string): DialectRequest {
    return { method: 'GET', url: `${publisherUrl}?id=${channel}`, headers: { accept: 'application/json' } };
  }

  parseInfo(channel: string, res: PushStreamHttpResponse): ChannelInfo | null {
    if (res.status === this.notFoundStatus) return null;
    return this.info('channel info', channel, res.body);
  }

  deleteRequest(publisherUrl: string, channel: string): DialectRequest {
    return { method: 'DELETE', url: `${publisherUrl}?id=${channel}`, headers: { accept: 'application/json' } };
  }

  override deleteNotice(channel: string): string {
    // Nchan closes subscribers of a deleted channel with 410, as on a reload: browsers could not
    // tell the two apart. The browser client reads this id as push-stream's "Channel deleted".
    return JSON.stringify({ id: CHANNEL_DELETED_MESSAGE_ID, channel, text: CHANNEL_DELETED_TEXT, eventid: '', type: '' });
  }

  parseDelete(_channel: string, res: PushStreamHttpResponse): boolean {
    return res.status !== this.notFoundStatus;
  }

  // Measured on Nchan 1.3.6: a subscriber of a/b is closed when a alone is deleted, in every
  // transport (WebSocket 1001 "410 Gone", EventSource ":410:" then end, stream end, long poll 410).
  readonly deleteClosesConnections = true;

  revokeRequest(publisherUrl: string, channel: string): DialectRequest {
    // No in-band notice: the browser client takes the bare 410 for a reload and subscribes again
    // with every channel, so the auth endpoint decides again (a notice would make it drop the channel).
    return this.deleteRequest(publisherUrl, channel);
  }

  statsRequest(statsUrl: string): DialectRequest {
    return { method: 'GET', url: statsUrl, headers: {} };
  }

  parseStats(res: PushStreamHttpResponse): ServerStats {
    // nchan_stub_status answers `name: value` lines.
    const raw: Record<string, string | number> = {};
    for (const line of res.body.split('\n')) {
      const m = /^([^:]+):\s*(.*?)\s*$/.exec(line);
      if (m) raw[m[1]] = /^\d+$/.test(m[2]) ? Number(m[2]) : m[2];
    }
    const num = (k: string): number => (typeof raw[k] === 'number' ? (raw[k] as number) : 0);
    if (raw['nchan version'] === undefined && raw.channels === undefined) {
      throw new PushStreamProtocolError('stats', 'not an nchan_stub_status page; check statsUrl');
    }
    return {
      server: this.kind,
      channels: num('channels'),
      subscribers: num('subscribers'),
      publishedMessages: num('total published messages'),
      storedMessages: num('stored messages'),
      raw,
    };
  }

  subscriberPath(channels: readonly string[]): string {
    return channels.join(this.delimiter);
  }

  assertSubscribable(channels: readonly string[]): void {
    const length = this.subscriberPath(channels).length;
    if (length > NCHAN_MAX_CHANNEL_ID_LENGTH) {
      throw new ChannelSetTooLargeError(
        'characters',
        length,
        NCHAN_MAX_CHANNEL_ID_LENGTH,
        "the joined channel id; the shipped Nchan config's nchan_max_channel_id_length, past which Nchan answers 403",
        channels,
      );
    }
  }

  parseSubscriberChannels(raw: string): string[] | null {
    // nginx has already decoded the URI once and Nchan does not decode again: a "%" left here is
    // a double-encoding attempt, which the caller's alphabet check refuses.
    return raw.split(this.delimiter);
  }

  decodeRequest(req: DialectRequest): ServerOperation {
    const location = decodeLocationRequest(req);
    if (!('publishTo' in location)) return location;
    const id = location.publishTo;
    const envelope = parseJsonObject('decode request', req.body ?? '');
    if (envelope.id === CHANNEL_DELETED_MESSAGE_ID) return { op: 'notice', channel: id };
    if (!('text' in envelope)) throw new PushStreamProtocolError('decode request', 'publish body is not the message envelope');
    // The envelope carries '' for an absent event id or type; the service never sends '' for a given one.
    const { eventid, type } = envelope;
    return {
      op: 'publish',
      channels: id.split(this.delimiter),
      data: envelope.text,
      ...(typeof eventid === 'string' && eventid !== '' ? { eventId: eventid } : {}),
      ...(typeof type === 'string' && type !== '' ? { eventType: type } : {}),
    };
  }

  encodeAnswer(answer: ServerAnswer): PushStreamHttpResponse {
    const json = (body: string): PushStreamHttpResponse => ({ status: 200, headers: { 'content-type': 'application/json' }, body });
    const notFound: PushStreamHttpResponse = { status: this.notFoundStatus, headers: {}, body: '' };
    switch (answer.op) {
      case 'publish': {
        // One answer for a multi-channel publish, summed (see parsePublish).
        const sum = (field: 'storedMessages' | 'subscribers') => answer.channels.reduce((n, c) => n + c[field], 0);
        return json(channelJson({ storedMessages: sum('storedMessages'), subscribers: sum('subscribers'), lastMessageId: answer.channels[0]?.lastMessageId }));
      }
      case 'info':
        return answer.channel === null ? notFound : json(channelJson(answer.channel));
      case 'delete':
        return answer.existed ? { status: 200, headers: {}, body: '' } : notFound;
      case 'stats':
        return {
          status: 200,
          headers: { 'content-type': 'text/plain' },
          body: [
            `total published messages: ${answer.stats.publishedMessages}`,
            `stored messages: ${answer.stats.storedMessages}`,
            `channels: ${answer.stats.channels}`,
            `subscribers: ${answer.stats.subscribers}`,
          ].join('\n') + '\n',
        };
    }
  }

  private info(operation: string, channel: string, body: string): ChannelInfo {
    const obj = parseJsonObject(operation, body);
    return {
      channel,
      subscribers: count(operation, obj, 'subscribers'),
      storedMessages: count(operation, obj, 'messages'),
      publishedMessages: null,
      lastMessageId: typeof obj.last_message_id === 'string' ? obj.last_message_id : undefined,
    };
  }
}
