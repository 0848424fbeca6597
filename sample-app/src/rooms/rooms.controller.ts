import { Body, Controller, ForbiddenException, HttpCode, NotFoundException, Post, Req, UseGuards } from '@nestjs/common';
import type { Request } from 'express';
import { CsrfGuard } from '../csrf/csrf.guard.js';
import type { RoomMessage } from '../publisher/messages.js';
import { PublisherService } from '../publisher/publisher.service.js';
import type { DemoUser } from '../sample.config.js';
import { RateGroup, RateLimitGuard } from '../throttling.js';
import { JoinRoomDto } from './dto/join-room.dto.js';
import { RoomMessageDto } from './dto/room-message.dto.js';
import { RoomsService } from './rooms.service.js';

/** Joining a room and writing in it: logged-in users only, and members only for writing. */
@Controller('api/rooms')
@UseGuards(CsrfGuard, RateLimitGuard)
@RateGroup('chat')
export class RoomsController {
  constructor(
    private readonly rooms: RoomsService,
    private readonly publisher: PublisherService,
  ) {}

  /** The page reloads afterwards, so that its one connection subscribes to the room too. */
  @Post('join')
  @HttpCode(200)
  join(@Req() req: Request, @Body() body: JoinRoomDto): { room: string; channel: string } {
    const user = this.loggedIn(req, 'Log in to join a room');
    this.existing(body.room);
    this.rooms.join(body.room, user.id);
    return { room: body.room, channel: this.rooms.channel(body.room) };
  }

  /** A line to the room's members (`__room__<name>`): nginx lets only them subscribe (RoomChannelRule). */
  @Post('messages')
  @HttpCode(201)
  async send(@Req() req: Request, @Body() body: RoomMessageDto): Promise<RoomMessage> {
    const user = this.loggedIn(req, 'Log in to write in a room');
    this.existing(body.room);
    if (!this.rooms.isMember(body.room, user.id)) throw new ForbiddenException(`Join #${body.room} first`);
    return this.publisher.publish<RoomMessage>(this.rooms.channel(body.room), { kind: 'room', room: body.room, from: user.name, text: body.text });
  }

  private loggedIn(req: Request, refusal: string): DemoUser {
    const user = req.session.user;
    if (!user) throw new ForbiddenException(refusal);
    return user;
  }

  private existing(room: string): void {
    if (!this.rooms.exists(room)) throw new NotFoundException(`No room "${room}"`);
  }
}
