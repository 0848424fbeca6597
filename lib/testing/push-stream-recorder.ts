import { Inject, Injectable } from '@nestjs/common';
import { PushStreamDialect } from '../dialects/push-stream-dialect.interface.js';
import type { ChannelInfo } from '../dialects/push-stream-result.interface.js';
import { PushStreamHttpClient, type PushStreamHttpRequest, type PushStreamHttpResponse } from '../http/http-client.interface.js';

/** One message as it reached "nginx": one entry per channel, so publishMany to two channels records two. */
export interface RecordedPublish {
  channel: string;
  /** The message as the application passed it (decoded back from what was sent). */
  data: unknown;
  eventId?: string;
  eventType?: string;
  /** Every channel of the request (more than one for publishMany), `channel` among them. */
  channels: readonly string[];
  /** The publisher location it was sent to: with several `publisherUrl`s each message is recorded once per publisher. */
  publisherUrl: string;
}

/** A channel as one in-memory nginx holds it. */
interface ChannelState {
  storedMessages: number;
  publishedMessages: number;
}

/**
 * An in-memory stand-in for nginx behind the PushStreamHttpClient token: PushStreamService still
 * validates, encodes and size-checks every message with the configured server's dialect, and the
 * recorder reads each request back the way that server would and answers in its format. No
 * sockets. Get it with `moduleRef.get(PushStreamRecorder)` from PushStreamTestingModule.
 */
@Injectable()
export class PushStreamRecorder extends PushStreamHttpClient {
  private readonly recorded: RecordedPublish[] = [];
  private readonly deleted: string[] = [];
  /** Channels per nginx, by origin: a publisher and its stats location share one. */
  private readonly servers = new Map<string, Map<string, ChannelState>>();
  private readonly failures: Error[] = [];

  constructor(@Inject(PushStreamDialect) private readonly dialect: PushStreamDialect) {
    super();
  }

  /** Every message published since the start or the last reset(), oldest first. */
  get publishes(): readonly RecordedPublish[] {
    return [...this.recorded];
  }

  /** The messages published to one channel, oldest first. */
  publishesTo(channel: string): RecordedPublish[] {
    return this.recorded.filter((p) => p.channel === channel);
  }

  /**
   * Channels the service asked to delete (deleteChannel, revokeSession, revokeUser), oldest first,
   * whether they existed or not (on Nchan deleteChannel asks first and skips a missing channel).
   */
  get deletions(): readonly string[] {
    return [...this.deleted];
  }

  /**
   * The next publish request fails with `error`: PushStreamService rejects with exactly this error
   * (PushStreamTestingModule turns retries off). With `retry` set in the testing module's options
   * a retryable error (PushStreamConnectionError, PushStreamTimeoutError, a 5xx PushStreamHttpError)
   * fails only the first attempt. Calls queue up: two calls fail the next two publishes.
   */
  failNextPublish(error: Error): void {
    if (!(error instanceof Error)) throw new TypeError('failNextPublish needs an Error, such as new PushStreamTimeoutError(url, ms)');
    this.failures.push(error);
  }

  /** Forgets every publish, deletion, channel and pending failure. */
  reset(): void {
    this.recorded.length = 0;
    this.deleted.length = 0;
    this.servers.clear();
    this.failures.length = 0;
  }

  async request(req: PushStreamHttpRequest): Promise<PushStreamHttpResponse> {
    const operation = this.dialect.decodeRequest(req);
    const server = this.server(req.url);
    switch (operation.op) {
      case 'publish': {
        const failure = this.failures.shift();
        if (failure !== undefined) throw failure;
        const publisherUrl = req.url.slice(0, req.url.indexOf('?'));
        const { channels, data, eventId, eventType } = operation;
        for (const channel of channels) {
          this.recorded.push({
            channel,
            data,
            ...(eventId === undefined ? {} : { eventId }),
            ...(eventType === undefined ? {} : { eventType }),
            channels,
            publisherUrl,
          });
        }
        return this.dialect.encodeAnswer({ op: 'publish', channels: channels.map((c) => this.store(server, c)) });
      }
      case 'notice':
        // An in-band channel-deleted notice is a stored message like any other, but not the application's.
        return this.dialect.encodeAnswer({ op: 'publish', channels: [this.store(server, operation.channel)] });
      case 'info': {
        const state = server.get(operation.channel);
        return this.dialect.encodeAnswer({ op: 'info', channel: state === undefined ? null : info(operation.channel, state) });
      }
      case 'delete':
        this.deleted.push(operation.channel);
        return this.dialect.encodeAnswer({ op: 'delete', existed: server.delete(operation.channel) });
      case 'stats': {
        const states = [...server.values()];
        return this.dialect.encodeAnswer({
          op: 'stats',
          stats: {
            channels: states.length,
            subscribers: 0,
            publishedMessages: states.reduce((n, s) => n + s.publishedMessages, 0),
            storedMessages: states.reduce((n, s) => n + s.storedMessages, 0),
          },
        });
      }
    }
  }

  private server(url: string): Map<string, ChannelState> {
    const origin = new URL(url).origin;
    let channels = this.servers.get(origin);
    if (channels === undefined) {
      channels = new Map();
      this.servers.set(origin, channels);
    }
    return channels;
  }

  /** Counts one more message in `channel` (nginx creates a channel on its first publish). */
  private store(server: Map<string, ChannelState>, channel: string): ChannelInfo {
    const state = server.get(channel) ?? { storedMessages: 0, publishedMessages: 0 };
    state.storedMessages += 1;
    state.publishedMessages += 1;
    server.set(channel, state);
    return info(channel, state);
  }
}

/** Nobody subscribes to an in-memory nginx. */
function info(channel: string, state: ChannelState): ChannelInfo {
  return { channel, subscribers: 0, storedMessages: state.storedMessages, publishedMessages: state.publishedMessages };
}
