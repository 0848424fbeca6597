import { ForbiddenException, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { ChannelAuthorizer } from '../auth/channel-authorizer.js';
import type { SubscriberAuthRequest } from '../auth/subscriber-auth-request.js';
import { PushStreamChannels } from '../channels/push-stream-channels.js';
import { PushStreamDialect } from '../dialects/push-stream-dialect.interface.js';
import { PushStreamConfigError } from '../errors/push-stream.exception.js';
import type { ResolvedPushStreamOptions } from '../options/push-stream-options.interface.js';
import { PUSH_STREAM_RESOLVED_OPTIONS } from '../push-stream.constants.js';
import { subscriberChannelPath, subscriberUrlsOf } from '../service/subscriber-channel-path.js';
import { TICKET_QUERY_PARAMETER } from '../shared/push-stream-protocol.js';
import type { SubscriptionTicket, TicketOptions } from './subscription-ticket.interface.js';
import { deriveTicketKey, signTicket } from './subscription-ticket.js';

/**
 * Signed subscription tickets: the app decides once, nginx checks the signature on every
 * (re)connect without asking the app (nginx config rendered with `--auth ticket`, or `--auth
 * secure-link` with `auth.ticketFormat: 'secure-link-md5'`). Opt-in; the session-cookie auth
 * endpoint stays the default.
 */
@Injectable()
export class PushStreamTickets {
  private readonly key: string;

  constructor(
    @Inject(PUSH_STREAM_RESOLVED_OPTIONS) private readonly options: ResolvedPushStreamOptions,
    @Inject(PushStreamDialect) private readonly dialect: PushStreamDialect,
    private readonly channels: PushStreamChannels,
    private readonly authorizer: ChannelAuthorizer,
  ) {
    // Derived once: the key nginx holds, never the secret itself.
    this.key = deriveTicketKey(options.secret);
  }

  /**
   * A ticket for `channels` if this request may subscribe to every one of them under the same
   * rules as the auth endpoint (session, user, channel rules). Refused: UnauthorizedException
   * (401: a rule needs a session or user and there is none) or ForbiddenException (403), which a
   * controller answers as is. Bad names, too many channels: the same typed errors as subscriberUrls().
   */
  async issue(req: SubscriberAuthRequest, channels: readonly string[], options: TicketOptions = {}): Promise<SubscriptionTicket> {
    const { names, path } = this.channelPath(channels);
    const decision = await this.authorizer.authorizeChannelPath(req, path);
    if (!decision.allowed) throw decision.status === 401 ? new UnauthorizedException() : new ForbiddenException();
    return this.signPath(names, path, this.ttlOf(options));
  }

  /** A ticket for `channels` without consulting any rule: for server code that has decided itself. */
  sign(channels: readonly string[], options: TicketOptions = {}): SubscriptionTicket {
    const ttl = this.ttlOf(options);
    const { names, path } = this.channelPath(channels);
    return this.signPath(names, path, ttl);
  }

  private ttlOf(options: TicketOptions): number {
    const ttl = options.ttlSeconds ?? this.options.auth.ticketTtlSeconds;
    if (!Number.isInteger(ttl) || ttl < 1) throw new PushStreamConfigError('ttlSeconds', `must be an integer >= 1, got ${JSON.stringify(ttl)}`);
    return ttl;
  }

  private channelPath(channels: readonly string[]): { names: string[]; path: string } {
    return subscriberChannelPath(channels, { options: this.options, channels: this.channels, dialect: this.dialect });
  }

  private signPath(names: string[], path: string, ttl: number): SubscriptionTicket {
    const expiresAt = Math.floor(Date.now() / 1000) + ttl;
    const ticket = signTicket(this.key, path, expiresAt, this.options.auth.ticketFormat);
    const endpoint = this.options.subscriber;
    if (!endpoint) return { ticket, expiresAt, channels: names };
    return { ticket, expiresAt, channels: names, urls: subscriberUrlsOf(endpoint, path, `?${TICKET_QUERY_PARAMETER}=${ticket}`) };
  }
}
