import type { PushStreamHttpRequest, PushStreamHttpResponse } from '../http/http-client.interface.js';
import type { PushStreamServerKind } from '../options/push-stream-options.interface.js';
import type { ChannelInfo, PublishManyResult, PublishOptions, ServerStats } from './push-stream-result.interface.js';

/** A request without its timeout, which the service adds. */
export type DialectRequest = Omit<PushStreamHttpRequest, 'timeoutMs'>;

/**
 * Everything that differs between the Push Stream Module and Nchan, in one object per server.
 * Channel names reaching a dialect have already been validated.
 * `parse*` methods get only the statuses they own (2xx, and 404 for info/delete); every other
 * status becomes a PushStreamHttpError in the service.
 */
export interface PushStreamDialect {
  readonly kind: PushStreamServerKind;
  /** Statuses (besides 2xx) that `parse*` handle themselves for info and delete: a missing channel. */
  readonly notFoundStatus: number;

  /** The body sent to nginx for `data`. */
  encodeMessage(data: unknown, channels: readonly string[], options: PublishOptions): string;
  publishRequest(publisherUrl: string, channels: readonly string[], body: string, options: PublishOptions): DialectRequest;
  parsePublish(channels: readonly string[], res: PushStreamHttpResponse): PublishManyResult;

  infoRequest(publisherUrl: string, channel: string): DialectRequest;
  /** null when the channel does not exist. */
  parseInfo(channel: string, res: PushStreamHttpResponse): ChannelInfo | null;

  deleteRequest(publisherUrl: string, channel: string): DialectRequest;
  /**
   * A message to publish to an existing channel just before deleting it, for servers that do not
   * tell subscribers about a deletion themselves. Undefined: the server sends its own notice.
   */
  deleteNotice?(channel: string): string | undefined;
  /** false when the channel did not exist. */
  parseDelete(channel: string, res: PushStreamHttpResponse): boolean;

  /**
   * Deletes a channel to end its subscriptions (PushStreamService.revokeSession/revokeUser); its
   * answer is read with parseDelete. Unlike deleteChannel no in-band notice is published first:
   * subscribers should take it for a restart, subscribe again and be asked again.
   */
  revokeRequest(publisherUrl: string, channel: string): DialectRequest;
  /**
   * Whether deleting a channel closes every subscriber connection that named it, whatever other
   * channels the connection also holds (Nchan: yes, in every transport). The Push Stream Module
   * only removes the channel from a WebSocket, EventSource or stream connection that holds other
   * channels too; it answers a waiting long poll.
   */
  readonly deleteClosesConnections: boolean;

  statsRequest(statsUrl: string): DialectRequest;
  parseStats(res: PushStreamHttpResponse): ServerStats;

  /**
   * The channel ids a subscriber URL segment names, exactly as this server reads them
   * (for the auth endpoint). Returns null when the value is malformed; that denies.
   */
  parseSubscriberChannels(raw: string): string[] | null;

  /**
   * The channel part of a subscriber URL. `backtrack` asks for the last N stored messages on join
   * where the server supports it per channel (push-stream `.bN`; Nchan replays its buffer instead).
   */
  subscriberPath(channels: readonly string[], backtrack?: Readonly<Record<string, number>>): string;
}
