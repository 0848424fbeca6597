import {
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { PUSH_STREAM_AUTH_ENDPOINT } from './auth.constants.js';
import { type ChannelAuthDecision, ChannelAuthorizer } from './channel-authorizer.js';
import { detachSession } from './request-session.js';
import type { SubscriberAuthRequest } from './subscriber-auth-request.js';

/**
 * Lets a request through only when every channel in its `X-Push-Stream-Channels` header passes
 * its rule; otherwise 401 (no session or user, and the channel needs one) or 403. Put it on your
 * own route to answer nginx's auth_request yourself, with @PushStreamAuthEndpoint() so that the
 * session is left alone.
 */
@Injectable()
export class ChannelAuthGuard implements CanActivate {
  constructor(
    private readonly authorizer: ChannelAuthorizer,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') throw new ForbiddenException();
    const req = context.switchToHttp().getRequest<SubscriberAuthRequest>();
    const isAuthEndpoint = this.reflector.getAllAndOverride<boolean | undefined>(PUSH_STREAM_AUTH_ENDPOINT, [
      context.getHandler(),
      context.getClass(),
    ]);
    let decision: ChannelAuthDecision;
    try {
      decision = await this.authorizer.authorize(req);
    } finally {
      // nginx asks before every subscription: answering must neither create, extend nor rewrite
      // the session, whether the answer is yes or no.
      if (isAuthEndpoint) detachSession(req);
    }
    if (decision.allowed) return true;
    throw decision.status === 401 ? new UnauthorizedException() : new ForbiddenException();
  }
}
