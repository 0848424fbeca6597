import type { PushStreamHttpRequest, PushStreamHttpResponse } from '../http/http-client.interface.js';
import type { PushStreamServerKind } from '../options/push-stream-options.interface.js';
import type { ChannelInfo, PublishManyResult, PublishOptions, ServerStats } from './push-stream-result.interface.js';

/** A request without its timeout, which the service adds. */
export type DialectRequest = Omit<PushStreamHttpRequest, 'timeoutMs'>;

/**
 * A request built by a dialect, read back the way its server reads it: what the in-memory
 * recorder of `nestjs-push-stream/testing` serves. `notice` is a channel-deleted notice published
 * in band before a deletion (deleteNotice), not a message of the application.
 */
export type ServerOperation =
  | { op: 'publish'; channels: string[]; data: unknown; eventId?: string; eventType?: string }
  | { op: 'notice'; channel: string }
  | { op: 'info'; channel: string }
  | { op: 'delete'; channel: string }
  | { op: 'stats' };

/** What the server answers to a ServerOperation, in figures; the dialect writes them in its format. */
export type ServerAnswer =
  | { op: 'publish'; channels: ChannelInfo[] }
  | { op: 'info'; channel: ChannelInfo | null }
  | { op: 'delete'; existed: boolean }
  | { op: 'stats'; stats: Omit<ServerStats, 'server' | 'raw'> };

/**
 * Everything that differs between the Push Stream Module and Nchan, in one class per server
 * (push-stream.dialect.ts, nchan.dialect.ts), and the injection token it is provided under.
 * An abstract class rather than an interface so that the type and the token are one name;
 * `.overrideProvider(PushStreamDialect)` replaces it in a test.
 *
 * Channel names reaching a dialect have already been validated.
 * `parse*` methods get only the statuses they own (2xx, and 404 for info/delete); every other
 * status becomes a PushStreamHttpError in the service.
 */
export abstract class PushStreamDialect {
  abstract readonly kind: PushStreamServerKind;
  /** Statuses (besides 2xx) that `parse*` handle themselves for info and delete: a missing channel. */
  abstract readonly notFoundStatus: number;
  /** Path of the statistics location in the shipped config, the default `statsUrl` on the publisher's origin. */
  abstract readonly statsPath: string;
  /**
   * Whether the server keeps serving every channel when one of several nginx workers dies: the
   * shipped config runs `worker_processes auto` where it does, one worker where it does not.
   */
  abstract readonly survivesWorkerDeath: boolean;
  /**
   * Whether several nginx nodes can share channels, stored messages and subscribers through one
   * Redis (`nginx-config --redis`). Where they cannot, nodes are independent and the application
   * publishes to every one (several `publisherUrl`s).
   */
  abstract readonly sharesChannelsThroughRedis: boolean;

  /** The body sent to nginx for `data`. */
  abstract encodeMessage(data: unknown, channels: readonly string[], options: PublishOptions): string;
  abstract publishRequest(publisherUrl: string, channels: readonly string[], body: string, options: PublishOptions): DialectRequest;
  abstract parsePublish(channels: readonly string[], res: PushStreamHttpResponse): PublishManyResult;

  /** Most channels, and characters of their joined id, that one publish request may carry here. */
  abstract readonly publishLimits: { readonly channels: number; readonly characters: number };

  /** Splits a publish into as few requests as the server accepts, channels kept in order. */
  publishBatches(channels: readonly string[]): string[][] {
    const { channels: most, characters } = this.publishLimits;
    const batches: string[][] = [];
    let batch: string[] = [];
    let length = 0;
    for (const channel of channels) {
      // +1: the delimiter before every id but the first.
      if (batch.length > 0 && (batch.length === most || length + 1 + channel.length > characters)) {
        batches.push(batch);
        batch = [];
        length = 0;
      }
      length += (batch.length > 0 ? 1 : 0) + channel.length;
      batch.push(channel);
    }
    if (batch.length > 0) batches.push(batch);
    return batches;
  }

  abstract infoRequest(publisherUrl: string, channel: string): DialectRequest;
  /** null when the channel does not exist. */
  abstract parseInfo(channel: string, res: PushStreamHttpResponse): ChannelInfo | null;

  abstract deleteRequest(publisherUrl: string, channel: string): DialectRequest;
  /**
   * A message to publish to an existing channel just before deleting it, for servers that do not
   * tell subscribers about a deletion themselves. Absent, or undefined: the server sends its own notice.
   */
  deleteNotice?(channel: string): string | undefined;
  /** false when the channel did not exist. */
  abstract parseDelete(channel: string, res: PushStreamHttpResponse): boolean;

  /**
   * Deletes a channel to end its subscriptions (PushStreamService.revokeSession/revokeUser); its
   * answer is read with parseDelete. Unlike deleteChannel no in-band notice is published first:
   * subscribers should take it for a restart, subscribe again and be asked again.
   */
  abstract revokeRequest(publisherUrl: string, channel: string): DialectRequest;
  /**
   * Whether deleting a channel closes every subscriber connection that named it, whatever other
   * channels the connection also holds (Nchan: yes, in every transport). The Push Stream Module
   * only removes the channel from a WebSocket, EventSource or stream connection that holds other
   * channels too; it answers a waiting long poll.
   */
  abstract readonly deleteClosesConnections: boolean;

  abstract statsRequest(statsUrl: string): DialectRequest;
  abstract parseStats(res: PushStreamHttpResponse): ServerStats;

  /**
   * The channel ids a subscriber URL segment names, exactly as this server reads them
   * (for the auth endpoint). Returns null when the value is malformed; that denies.
   */
  abstract parseSubscriberChannels(raw: string): string[] | null;

  /**
   * The channel part of a subscriber URL. `backtrack` asks for the last N stored messages on join
   * where the server supports it per channel (push-stream `.bN`; Nchan replays its buffer instead).
   */
  abstract subscriberPath(channels: readonly string[], backtrack?: Readonly<Record<string, number>>): string;
  /**
   * Throws ChannelSetTooLargeError when this server would refuse a subscription to these (valid)
   * channels even after the application approved it, e.g. Nchan's limit on the joined id.
   */
  abstract assertSubscribable(channels: readonly string[]): void;

  /** Reads a request this dialect built as its server would (the in-memory recorder's side). */
  abstract decodeRequest(req: DialectRequest): ServerOperation;
  /** Writes an answer in this server's format, one that the `parse*` methods read back. */
  abstract encodeAnswer(answer: ServerAnswer): PushStreamHttpResponse;
}
