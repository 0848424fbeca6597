import { Controller, Param, ParseIntPipe, Post, Req } from '@nestjs/common';
import type { Request } from 'express';
import { PushStreamChannels } from '../../lib/channels/push-stream-channels.js';

/** Test-only session routes standing in for an application's own login: start a session, log in. */
@Controller('test')
export class SessionTestController {
  constructor(private readonly channels: PushStreamChannels) {}

  /** Saves an anonymous session and answers its session channel. */
  @Post('anon')
  anon(@Req() req: Request): { session: string } {
    (req.session as unknown as Record<string, unknown>).visited = true;
    return { session: this.channels.session(req.sessionID) };
  }

  /** Logs in as user `id` (stored as `req.session.user`, the default sessionUserKey). */
  @Post('login/:id')
  login(@Req() req: Request, @Param('id') id: string): { session: string } {
    (req.session as unknown as Record<string, unknown>).user = { id };
    return { session: this.channels.session(req.sessionID) };
  }

  /** Hands this session `count` new page channels (PushStreamChannels.issuePage) and answers them. */
  @Post('pages/:count')
  pages(@Req() req: Request, @Param('count', ParseIntPipe) count: number): { session: string; pages: string[] } {
    const pages = Array.from({ length: count }, () => this.channels.issuePage(req.session));
    return { session: this.channels.session(req.sessionID), pages };
  }
}
