import { Module } from '@nestjs/common';
import { CsrfModule } from '../csrf/csrf.module.js';
import { PublisherModule } from '../publisher/publisher.module.js';
import { RoomChannelRule } from './room-channel.rule.js';
import { RoomsController } from './rooms.controller.js';
import { RoomsService } from './rooms.service.js';

/**
 * Chat rooms, the sample's own channel kind. RoomChannelRule is an ordinary provider here:
 * `@PushStreamChannelRule()` is what PushStreamModule looks for, in whichever module it is listed.
 */
@Module({
  imports: [PublisherModule, CsrfModule],
  controllers: [RoomsController],
  providers: [RoomsService, RoomChannelRule],
  exports: [RoomsService],
})
export class RoomsModule {}
