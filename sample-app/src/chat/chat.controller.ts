import { Body, Controller, ForbiddenException, HttpCode, NotFoundException, Post, Req, UseGuards } from '@nestjs/common';
import type { Request } from 'express';
import { UsersService } from '../auth/users.service.js';
import { CsrfGuard } from '../csrf/csrf.guard.js';
import type { ChatMessage, PrivateMessage, SessionNotice } from '../publisher/messages.js';
import { PublisherService } from '../publisher/publisher.service.js';
import { SessionsService } from '../sessions/sessions.service.js';
import { RateGroup, RateLimitGuard } from '../throttling.js';
import { ChatMessageDto } from './dto/chat-message.dto.js';
import { PrivateMessageDto } from './dto/private-message.dto.js';

/** Browsers never publish: they POST here, the app validates and publishes through nginx. */
@Controller('api')
@UseGuards(CsrfGuard, RateLimitGuard)
@RateGroup('chat')
export class ChatController {
  constructor(
    private readonly publisher: PublisherService,
    private readonly users: UsersService,
    private readonly sessions: SessionsService,
  ) {}

  /** A chat line for everyone, anonymous visitors included (`__all__`). A visitor's first line starts its session. */
  @Post('messages')
  @HttpCode(201)
  async send(@Req() req: Request, @Body() body: ChatMessageDto): Promise<ChatMessage> {
    await this.sessions.ensure(req);
    const from = this.sessions.displayName(req)!;
    return this.publisher.publish<ChatMessage>(this.publisher.channels.all(), { kind: 'chat', from, text: body.text });
  }

  /** A message to one user (`__user__<id>`): every page where that user is logged in. */
  @Post('private')
  @HttpCode(201)
  async sendPrivate(@Req() req: Request, @Body() body: PrivateMessageDto): Promise<{ id: string; to: string }> {
    const sender = req.session.user;
    if (!sender) throw new ForbiddenException('Log in to send private messages');
    const target = this.users.find(body.to);
    if (!target) throw new NotFoundException(`No user "${body.to}"`);
    const message = await this.publisher.publish<PrivateMessage>(this.publisher.channels.user(target.id), {
      kind: 'private',
      from: sender.name,
      to: target.name,
      text: body.text,
    });
    return { id: message.id, to: target.id };
  }

  /** A notice to this session only (`__session__<token>`): every page of this browser, no other. */
  @Post('notify-session')
  @HttpCode(201)
  async notifySession(@Req() req: Request): Promise<SessionNotice> {
    await this.sessions.ensure(req);
    return this.publisher.publish<SessionNotice>(this.publisher.channels.session(req.sessionID), {
      kind: 'notice',
      text: `Only your session sees this (${new Date().toLocaleTimeString('en-GB')}).`,
    });
  }
}
