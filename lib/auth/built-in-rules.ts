import { UUID_V4_PATTERN } from '../channels/channel-name.js';
import { isIssuedPage } from '../channels/issued-pages.js';
import type { PushStreamChannels } from '../channels/push-stream-channels.js';
import type { PageChannelPolicy } from '../options/push-stream-options.interface.js';
import type { ChannelRule, ChannelRuleContext } from './channel-rule.interface.js';

/** `<prefix>__all__`: every visitor. Exactly that name: `__all__evil` is another channel. */
export class AllChannelRule implements ChannelRule {
  readonly kind = 'all';

  canSubscribe({ channel }: ChannelRuleContext): boolean {
    return channel.value === '';
  }
}

/** `<prefix>__authorized__`: any logged-in user. */
export class AuthorizedChannelRule implements ChannelRule {
  readonly kind = 'authorized';
  readonly requiresSession = true;

  canSubscribe({ channel, user }: ChannelRuleContext): boolean {
    return channel.value === '' && user !== null;
  }
}

/** `<prefix>__session__<token>`: only the session whose HMAC token it is, logged in or not. */
export class SessionChannelRule implements ChannelRule {
  readonly kind = 'session';
  readonly requiresSession = true;

  constructor(private readonly channels: Pick<PushStreamChannels, 'isSessionToken'>) {}

  canSubscribe({ channel, sessionId }: ChannelRuleContext): boolean {
    return sessionId !== null && sessionId !== '' && this.channels.isSessionToken(channel.value, sessionId);
  }
}

/** `<prefix>__user__<id>`: only that user. */
export class UserChannelRule implements ChannelRule {
  readonly kind = 'user';
  readonly requiresSession = true;

  canSubscribe({ channel, user }: ChannelRuleContext): boolean {
    return user !== null && channel.value !== '' && String(user.id) === channel.value;
  }
}

/**
 * `<prefix>__uuid__<uuid>`: the UUID is the secret, so only the canonical lower-case form
 * PushStreamChannels.page() builds is accepted. With the `any` policy whoever knows it may
 * subscribe; with `issued`, only the session it was handed to (PushStreamChannels.issuePage()),
 * so that visitors cannot make nginx create page channels the application never rendered.
 */
export class UuidChannelRule implements ChannelRule {
  readonly kind = 'uuid';
  readonly requiresSession: boolean;

  constructor(private readonly policy: PageChannelPolicy = 'any') {
    this.requiresSession = policy === 'issued';
  }

  canSubscribe({ channel, request, sessionId }: ChannelRuleContext): boolean {
    if (!UUID_V4_PATTERN.test(channel.value) || channel.value !== channel.value.toLowerCase()) return false;
    if (this.policy === 'any') return true;
    // Only a session loaded from the store has pages: express-session invents an empty one otherwise.
    const session = request !== null && typeof request === 'object' ? (request as { session?: unknown }).session : undefined;
    return sessionId !== null && sessionId !== '' && isIssuedPage(session, channel.value);
  }
}

/** The rules for the kinds PushStreamChannels builds. */
export function createBuiltInRules(
  channels: Pick<PushStreamChannels, 'isSessionToken'>,
  options: { pageChannels?: PageChannelPolicy } = {},
): ChannelRule[] {
  return [
    new AllChannelRule(),
    new AuthorizedChannelRule(),
    new SessionChannelRule(channels),
    new UserChannelRule(),
    new UuidChannelRule(options.pageChannels ?? 'any'),
  ];
}
