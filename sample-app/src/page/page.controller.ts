import { randomUUID } from 'node:crypto';
import { Controller, Get, Header, Inject, Req, Res } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Request, Response } from 'express';
import { PUSH_STREAM_RESOLVED_OPTIONS, PushStreamChannels, type ResolvedPushStreamOptions } from 'nestjs-push-stream';
import { SessionsService } from '../auth/sessions.service.js';
import { UsersService } from '../auth/users.service.js';
import { EVENT_TYPES } from '../chat/messages.js';
import { CsrfService } from '../csrf/csrf.js';
import type { DemoUser, SampleConfig } from '../sample.config.js';

export interface PageBootstrap {
  server: ResolvedPushStreamOptions['server'];
  user: DemoUser | null;
  /** True when the visitor has a stored session (it has written something, or logged in). */
  session: boolean;
  /** The name chat lines from this session are signed with; null until the session starts. */
  displayName: string | null;
  csrfToken: string;
  pageId: string;
  /** Proof, for POST /api/tasks, that this browser was given `pageId`. */
  pageTicket: string;
  channels: { all: string; page: string; session?: string; authorized?: string; user?: string };
  /** Every channel the page subscribes to, in one connection. */
  subscribe: string[];
  backtrack: Record<string, number>;
  eventTypes: readonly string[];
  users: DemoUser[];
}

@Controller('api')
export class PageController {
  private readonly historyLength: number;

  constructor(
    private readonly channels: PushStreamChannels,
    private readonly users: UsersService,
    private readonly sessions: SessionsService,
    private readonly csrf: CsrfService,
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
   * What a rendered page needs: its channels (with a fresh page UUID and its ticket), the CSRF
   * token, the server kind. It writes nothing to the session, and starts none: a visitor who only
   * reads subscribes to `__all__` and its page channel, and gets `__session__` once its first write
   * has started a session (on the next page load). The only thing it may set is the CSRF cookie.
   */
  @Get('page')
  @Header('Cache-Control', 'no-store')
  page(@Req() req: Request, @Res({ passthrough: true }) res: Response): PageBootstrap {
    const nonce = this.csrf.ensureNonce(req, res);
    const sessionId = this.sessions.storedId(req);
    const user = sessionId !== null ? (req.session.user ?? null) : null;
    const pageId = randomUUID();
    const c = this.channels;
    const channels: PageBootstrap['channels'] = {
      all: c.all(),
      page: c.page(pageId),
      ...(sessionId !== null ? { session: c.session(sessionId) } : {}),
      ...(user ? { authorized: c.authorized(), user: c.user(user.id) } : {}),
    };
    const subscribe = [channels.all, channels.session, channels.page, channels.authorized, channels.user].filter((ch): ch is string => ch !== undefined);
    return {
      server: this.options.server,
      user,
      session: sessionId !== null,
      displayName: sessionId !== null ? this.sessions.displayName(req) : null,
      csrfToken: this.csrf.token(nonce, user?.id),
      pageId,
      pageTicket: this.csrf.pageTicket(nonce, pageId),
      channels,
      subscribe,
      backtrack: this.historyLength > 0 ? { [channels.all]: this.historyLength } : {},
      eventTypes: EVENT_TYPES,
      users: this.users.all(),
    };
  }
}
