import { Inject, Injectable } from '@nestjs/common';
import { PushStreamChannels } from '../channels/push-stream-channels.js';
import type { DialectRequest, PushStreamDialect } from '../dialects/push-stream-dialect.interface.js';
import type {
  ChannelInfo,
  PublishManyResult,
  PublishOptions,
  PublishResult,
  ServerStats,
} from '../dialects/push-stream-result.interface.js';
import {
  PushStreamConfigError,
  InvalidChannelNameError,
  InvalidMessageError,
  MessageTooLargeError,
  PushStreamHttpError,
} from '../errors/push-stream.exception.js';
import type { PushStreamHttpClient, PushStreamHttpResponse } from '../http/http-client.interface.js';
import type { ResolvedPushStreamOptions } from '../options/push-stream-options.interface.js';
import {
  PUSH_STREAM_DIALECT,
  PUSH_STREAM_HTTP_CLIENT,
  PUSH_STREAM_RESOLVED_OPTIONS,
  PUSH_STREAM_SLEEP,
} from '../push-stream.constants.js';
import { type Sleep, withRetry } from './retry.js';
import type { SubscriberUrlOptions, SubscriberUrls } from './subscriber-urls.interface.js';

/** Event ids and types go into headers and, raw, into push-stream's JSON templates. */
const EVENT_FIELD = /^[A-Za-z0-9_.:-]{1,128}$/;
/** Nchan multiplexes at most 255 channels per request; push-stream has no lower limit that matters. */
const MAX_CHANNELS_PER_REQUEST = 255;

/**
 * Publishes messages and manages channels on nginx. Every channel name is validated and every
 * message encoded and size-checked before any request; failures are PushStreamError subclasses.
 */
@Injectable()
export class PushStreamService {
  constructor(
    @Inject(PUSH_STREAM_RESOLVED_OPTIONS) private readonly options: ResolvedPushStreamOptions,
    @Inject(PUSH_STREAM_HTTP_CLIENT) private readonly http: PushStreamHttpClient,
    @Inject(PUSH_STREAM_DIALECT) private readonly dialect: PushStreamDialect,
    @Inject(PUSH_STREAM_SLEEP) private readonly sleep: Sleep,
    readonly channels: PushStreamChannels,
  ) {}

  /** Publishes `data` (JSON-encoded; a string becomes a JSON string) to one channel. */
  async publish(channel: string, data: unknown, options: PublishOptions = {}): Promise<PublishResult> {
    const result = await this.publishMany([channel], data, options);
    return result.infos[0] ?? { channel, subscribers: result.subscribers, storedMessages: 0, publishedMessages: null };
  }

  /** Publishes one message to several channels in a single request. */
  async publishMany(channels: readonly string[], data: unknown, options: PublishOptions = {}): Promise<PublishManyResult> {
    if (!Array.isArray(channels) || channels.length === 0) {
      throw new InvalidChannelNameError('', 'publishMany needs at least one channel');
    }
    if (channels.length > MAX_CHANNELS_PER_REQUEST) {
      throw new InvalidChannelNameError(channels.join(','), `at most ${MAX_CHANNELS_PER_REQUEST} channels per publish`);
    }
    const names = channels.map((c) => this.channels.validate(c));
    if (new Set(names).size !== names.length) throw new InvalidChannelNameError(names.join(','), 'a channel is named twice');
    for (const [field, value] of Object.entries(options) as Array<[string, unknown]>) {
      if (value !== undefined && (typeof value !== 'string' || !EVENT_FIELD.test(value))) {
        throw new InvalidMessageError(`${field} must be 1-128 of letters, digits, "_", ".", ":" or "-"`, names);
      }
    }
    const body = this.encode(data, names, options);
    const responses = await this.onEveryServer((url) =>
      this.send(this.dialect.publishRequest(url, names, body, options), 'publish', names),
    );
    return this.dialect.parsePublish(names, responses[0]);
  }

  /** Counters of one channel, or null when nginx does not know it. */
  async channelInfo(channel: string): Promise<ChannelInfo | null> {
    const name = this.channels.validate(channel);
    const res = await this.send(this.dialect.infoRequest(this.options.publisherUrls[0], name), 'channel info', [name], true);
    return this.dialect.parseInfo(name, res);
  }

  /** Deletes a channel (subscribers get the server's channel-deleted notice). False when it did not exist. */
  async deleteChannel(channel: string): Promise<boolean> {
    const name = this.channels.validate(channel);
    const notice = this.dialect.deleteNotice?.(name);
    const deleted = await this.onEveryServer(async (url) => {
      if (notice !== undefined) {
        // The server tells subscribers nothing they can tell from a restart: say it in band first,
        // but only to a channel that exists (a publish would create it).
        const info = await this.send(this.dialect.infoRequest(url, name), 'channel info', [name], true);
        if (this.dialect.parseInfo(name, info) === null) return false;
        await this.send(this.dialect.publishRequest(url, [name], notice, {}), 'delete notice', [name]);
      }
      const res = await this.send(this.dialect.deleteRequest(url, name), 'delete channel', [name], true);
      return this.dialect.parseDelete(name, res);
    });
    return deleted.some(Boolean);
  }

  /** Server-wide statistics from the stats location. */
  async stats(): Promise<ServerStats> {
    const res = await this.send(this.dialect.statsRequest(this.options.statsUrl), 'stats', []);
    return this.dialect.parseStats(res);
  }

  /**
   * Subscriber URLs for a page, from the `subscriber` option (host, port, protocol) and the
   * locations in the shipped nginx configs. Channel names are validated like publishes.
   */
  subscriberUrls(channels: readonly string[], options: SubscriberUrlOptions = {}): SubscriberUrls {
    const endpoint = this.options.subscriber;
    if (!endpoint) throw new PushStreamConfigError('subscriber', 'set subscriber { host, port, protocol } to build subscriber URLs');
    const path = this.dialect.subscriberPath(
      channels.map((c) => this.channels.validate(c)),
      options.backtrack,
    );
    const port = endpoint.port === undefined ? '' : `:${endpoint.port}`;
    const http = `${endpoint.protocol}://${endpoint.host}${port}`;
    const ws = `${endpoint.protocol === 'https' ? 'wss' : 'ws'}://${endpoint.host}${port}`;
    return {
      stream: `${http}/sub/${path}`,
      websocket: `${ws}/ws/${path}`,
      eventsource: `${http}/ev/${path}`,
      longpolling: `${http}/lp/${path}`,
    };
  }

  private encode(data: unknown, channels: readonly string[], options: PublishOptions): string {
    let body: string | undefined;
    try {
      body = this.dialect.encodeMessage(data, channels, options);
    } catch (err) {
      throw new InvalidMessageError(`data is not JSON-encodable (${(err as Error).message})`, channels);
    }
    if (typeof body !== 'string' || data === undefined) {
      throw new InvalidMessageError('data is not JSON-encodable (undefined or a function)', channels);
    }
    const size = Buffer.byteLength(body, 'utf8');
    if (size > this.options.maxMessageBytes) throw new MessageTooLargeError(size, this.options.maxMessageBytes, channels);
    return body;
  }

  /** Runs `perServer` for every configured publisher; every server must succeed, or the first failure is thrown. */
  private async onEveryServer<T>(perServer: (publisherUrl: string) => Promise<T>): Promise<T[]> {
    // allSettled: a failure on one server must not leave another's rejection unhandled.
    const settled = await Promise.allSettled(this.options.publisherUrls.map(perServer));
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
  }

  private send(
    req: DialectRequest,
    operation: string,
    channels: readonly string[],
    notFoundIsAnswer = false,
  ): Promise<PushStreamHttpResponse> {
    return withRetry(
      async () => {
        const res = await this.http.request({ ...req, timeoutMs: this.options.publishTimeoutMs });
        const ok = (res.status >= 200 && res.status < 300) || (notFoundIsAnswer && res.status === this.dialect.notFoundStatus);
        if (!ok) {
          throw new PushStreamHttpError(operation, res.status, {
            explain: res.headers['x-nginx-pushstream-explain'],
            channels,
          });
        }
        return res;
      },
      this.options.retry,
      this.sleep,
    );
  }
}
