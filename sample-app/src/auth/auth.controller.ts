import { Body, Controller, HttpCode, NotFoundException, Post, Req, Res, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { CsrfGuard } from '../csrf/csrf.guard.js';
import type { JoinedNotice } from '../publisher/messages.js';
import { PublisherService } from '../publisher/publisher.service.js';
import type { DemoUser } from '../sample.config.js';
import { SessionsService } from '../sessions/sessions.service.js';
import { RateGroup, RateLimitGuard } from '../throttling.js';
import { LoginDto } from './login.dto.js';
import { UsersService } from './users.service.js';

/**
 * Demo login: a name from DEMO_USERS, no password. The user goes to `req.session.user`, where
 * nestjs-push-stream's auth endpoint looks for it. The page reloads afterwards, so it subscribes
 * with its new session's channels.
 */
@Controller('api')
@UseGuards(CsrfGuard, RateLimitGuard)
export class AuthController {
  constructor(
    private readonly users: UsersService,
    private readonly sessions: SessionsService,
    private readonly publisher: PublisherService,
  ) {}

  /** Starts the visitor's session without writing anything else: for "Notify only my session". */
  @Post('session')
  @HttpCode(200)
  @RateGroup('account')
  async start(@Req() req: Request): Promise<{ displayName: string | null }> {
    await this.sessions.ensure(req);
    return { displayName: this.sessions.displayName(req) };
  }

  @Post('login')
  @HttpCode(200)
  @RateGroup('account')
  async login(@Req() req: Request, @Body() body: LoginDto): Promise<{ user: DemoUser }> {
    const user = this.users.find(body.username);
    if (!user) throw new NotFoundException(`No demo user "${body.username}"; try one of ${this.users.all().map((u) => u.id).join(', ')}`);
    const before = req.session.user?.id;
    // Logging in again as the same user keeps that user's other pages.
    const previous = { sessionId: this.sessions.storedId(req), userId: before === user.id ? undefined : before };
    await this.sessions.logIn(req, user);
    // The session this browser had is gone: pages still subscribed to its channel learn it
    // (Nchan closes them and refuses them when they come back; push-stream closes that channel).
    await this.publisher.endSubscriptions(previous);
    // The "who joined" notice goes to logged-in users only; a failed notice does not fail the login.
    await this.publisher
      .publish<JoinedNotice>(this.publisher.channels.authorized(), { kind: 'joined', name: user.name })
      .catch(() => undefined);
    return { user };
  }

  /** Not rate-limited: it only ends the caller's own session, and sessions are made by limited routes. */
  @Post('logout')
  @HttpCode(200)
  async logout(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<{ user: null }> {
    // Remembered first: the ids go with the session.
    const ended = { sessionId: this.sessions.storedId(req), userId: req.session.user?.id };
    await this.sessions.end(req, res);
    // Then what is still open: a page of this session (another tab) stops receiving its private
    // channels, and so do the user's pages elsewhere (on Nchan they come back and are let in again).
    await this.publisher.endSubscriptions(ended);
    return { user: null };
  }
}
