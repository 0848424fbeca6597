import { randomUUID } from 'node:crypto';
import { Controller, Get, Header, Req, Res } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Request, Response } from 'express';
import { type PushStreamModuleOptions, type PushStreamServerKind, PushStreamService } from 'nestjs-push-stream';
import { UsersService } from '../auth/users.service.js';
import { CsrfService } from '../csrf/csrf.service.js';
import { EVENT_TYPES } from '../publisher/messages.js';
import { type RoomView, RoomsService } from '../rooms/rooms.service.js';
import type { DemoUser, SampleConfig } from '../sample.config.js';
import { SessionsService } from '../sessions/sessions.service.js';

export interface PageBootstrap {
  server: PushStreamServerKind;
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
  /** The rooms, with their channels; the page subscribes to those the user is a member of. */
  rooms: RoomView[];
  /** Every channel the page subscribes to, in one connection. */
  subscribe: string[];
  backtrack: Record<string, number>;
  eventTypes: readonly string[];
  users: DemoUser[];
  /** Where a terminal can listen to `__all__` (curl, wscat); null without NGINX_PUSH_STREAM_SUB_HOST. */
  listen: { stream: string; websocket: string } | null;
}

@Controller('api')
export class PageController {
  private readonly historyLength: number;
  private readonly listen: PageBootstrap['listen'];

  constructor(
    private readonly push: PushStreamService,
    private readonly users: UsersService,
    private readonly sessions: SessionsService,
    private readonly csrf: CsrfService,
    private readonly rooms: RoomsService,
    config: ConfigService,
  ) {
    this.historyLength = config.getOrThrow<SampleConfig>('sample').historyLength;
    // subscriberUrls() builds URLs from the `subscriber` option, which says where nginx is public:
    // only when it is set (pushStreamConfig's namespace, from NGINX_PUSH_STREAM_SUB_*).
    const subscriber = config.get<PushStreamModuleOptions>('pushStream')?.subscriber;
    if (subscriber) {
      const { stream, websocket } = this.push.subscriberUrls([this.push.channels.all()]);
      this.listen = { stream, websocket };
    } else this.listen = null;
  }

  @Get('health')
  health(): { ok: true; server: string } {
    return { ok: true, server: this.push.server };
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
    const c = this.push.channels;
    const channels: PageBootstrap['channels'] = {
      all: c.all(),
      page: c.page(pageId),
      ...(sessionId !== null ? { session: c.session(sessionId) } : {}),
      ...(user ? { authorized: c.authorized(), user: c.user(user.id) } : {}),
    };
    const rooms = this.rooms.list(user?.id ?? null);
    const subscribe = [
      ...[channels.all, channels.session, channels.page, channels.authorized, channels.user].filter((ch): ch is string => ch !== undefined),
      ...rooms.filter((r) => r.member).map((r) => r.channel),
    ];
    return {
      server: this.push.server,
      user,
      session: sessionId !== null,
      displayName: sessionId !== null ? this.sessions.displayName(req) : null,
      csrfToken: this.csrf.token(nonce, user?.id),
      pageId,
      pageTicket: this.csrf.pageTicket(nonce, pageId),
      channels,
      rooms,
      subscribe,
      backtrack: this.historyLength > 0 ? { [channels.all]: this.historyLength } : {},
      eventTypes: EVENT_TYPES,
      users: this.users.all(),
      listen: this.listen,
    };
  }
}
