import { randomBytes } from 'node:crypto';
import { Body, Controller, HttpCode, NotFoundException, Post, Req, UseGuards } from '@nestjs/common';
import type { Request } from 'express';
import { PublisherService } from '../chat/publisher.service.js';
import type { JoinedNotice } from '../chat/messages.js';
import { CsrfGuard } from '../csrf/csrf.guard.js';
import type { DemoUser } from '../sample.config.js';
import { LoginDto } from './login.dto.js';
import { UsersService } from './users.service.js';

/** Regenerates the session (a new id, so a new `__session__` channel) and keeps it non-empty. */
function regenerate(req: Request, user: DemoUser | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    req.session.regenerate((err) => {
      if (err) return reject(err);
      if (user) req.session.user = user;
      req.session.csrfToken = randomBytes(32).toString('base64url');
      req.session.save((e) => (e ? reject(e) : resolve()));
    });
  });
}

/**
 * Demo login: a name from DEMO_USERS, no password. The user goes to `req.session.user`, where
 * nestjs-push-stream's auth endpoint looks for it. The page reloads afterwards, so it subscribes
 * with its new session's channels.
 */
@Controller('api')
@UseGuards(CsrfGuard)
export class AuthController {
  constructor(
    private readonly users: UsersService,
    private readonly publisher: PublisherService,
  ) {}

  @Post('login')
  @HttpCode(200)
  async login(@Req() req: Request, @Body() body: LoginDto): Promise<{ user: DemoUser }> {
    const user = this.users.find(body.username);
    if (!user) throw new NotFoundException(`No demo user "${body.username}"; try one of ${this.users.all().map((u) => u.id).join(', ')}`);
    await regenerate(req, user);
    // The "who joined" notice goes to logged-in users only; a failed notice does not fail the login.
    await this.publisher
      .publish<JoinedNotice>(this.publisher.channels.authorized(), { kind: 'joined', name: user.name })
      .catch(() => undefined);
    return { user };
  }

  @Post('logout')
  @HttpCode(200)
  async logout(@Req() req: Request): Promise<{ user: null }> {
    await regenerate(req, undefined);
    return { user: null };
  }
}
