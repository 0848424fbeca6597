import type { Request } from 'express';
import { type ChannelRule, type ChannelRuleContext, PushStreamChannelRule } from 'nestjs-push-stream';
import { ROOM_KIND, RoomsService } from './rooms.service.js';

/**
 * Who may subscribe to `my-app__room__<name>`: logged-in members of that room, nobody else. nginx
 * asks the app (/push-stream/auth, or its auth listener with AUTH_PORT) before every subscription;
 * PushStreamModule finds this rule by its decorator in any module, and refuses a whole subscription
 * when one of its channels fails. It reads only the user and the channel: the auth listener's
 * request is not an Express one (headers and the session's data, no req.ip).
 */
@PushStreamChannelRule()
export class RoomChannelRule implements ChannelRule<Request> {
  readonly kind = ROOM_KIND;
  // A visitor with neither session nor user is answered 401 ("log in first"), a non-member 403.
  readonly requiresSession = true;

  constructor(private readonly rooms: RoomsService) {}

  canSubscribe({ user, channel }: ChannelRuleContext<Request>): boolean {
    return user !== null && this.rooms.isMember(channel.value, String(user.id));
  }
}
