import { randomUUID } from 'node:crypto';
import { Controller, Get, Header, Inject, Req } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Request } from 'express';
import { PUSH_STREAM_RESOLVED_OPTIONS, PushStreamChannels, type ResolvedPushStreamOptions } from 'nestjs-push-stream';
import { UsersService } from '../auth/users.service.js';
import { EVENT_TYPES } from '../chat/messages.js';
import { csrfToken } from '../csrf/csrf.js';
import type { DemoUser, SampleConfig } from '../sample.config.js';

/** Page UUIDs remembered per session; older pages lose their long-task channel. */
const PAGES_PER_SESSION = 20;

export interface PageBootstrap {
  server: ResolvedPushStreamOptions['server'];
  user: DemoUser | null;
  /** The name chat lines from this session are signed with. */
  displayName: string;
  csrfToken: string;
  pageId: string;
  channels: { all: string; session: string; page: string; authorized?: string; user?: string };
  /** Every channel the page subscribes to, in one connection. */
  subscribe: string[];
  backtrack: Record<string, number>;
  eventTypes: readonly string[];
  users: DemoUser[];
}

/** Display name: the user's, or `guest-` and a few characters of the session's channel token. */
export function displayName(req: Request, channels: PushStreamChannels): string {
  return req.session.user?.name ?? `guest-${channels.sessionToken(req.sessionID).slice(0, 6)}`;
}

@Controller('api')
export class PageController {
  private readonly historyLength: number;

  constructor(
    private readonly channels: PushStreamChannels,
    private readonly users: UsersService,
    @Inject(PUSH_STREAM_RESOLVED_OPTIONS) private readonly options: ResolvedPushStreamOptions,
    config: ConfigService,
  ) {
    this.historyLength = config.getOrThrow<SampleConfig>('sample').historyLength;
  }

  @Get('health')
  health(): { ok: true; server: string } {
    return { ok: true, server: this.options.server };
  }

  /**
   * What a rendered page needs: its channels (with a fresh page UUID), the CSRF token, the server
   * kind. This is where a visitor's session starts, so that `__session__` exists before the page
   * subscribes; nginx's auth subrequests never create one.
   */
  @Get('page')
  @Header('Cache-Control', 'no-store')
  page(@Req() req: Request): PageBootstrap {
    const token = csrfToken(req);
    const pageId = randomUUID();
    req.session.pages = [...(req.session.pages ?? []), pageId].slice(-PAGES_PER_SESSION);
    const user = req.session.user ?? null;
    const c = this.channels;
    const channels: PageBootstrap['channels'] = {
      all: c.all(),
      session: c.session(req.sessionID),
      page: c.page(pageId),
      ...(user ? { authorized: c.authorized(), user: c.user(user.id) } : {}),
    };
    const subscribe = [channels.all, channels.session, channels.page];
    if (user) subscribe.push(channels.authorized!, channels.user!);
    return {
      server: this.options.server,
      user,
      displayName: displayName(req, c),
      csrfToken: token,
      pageId,
      channels,
      subscribe,
      backtrack: this.historyLength > 0 ? { [channels.all]: this.historyLength } : {},
      eventTypes: EVENT_TYPES,
      users: this.users.all(),
    };
  }
}
