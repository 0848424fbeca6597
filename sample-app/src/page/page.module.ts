import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { CsrfModule } from '../csrf/csrf.module.js';
import { PublisherModule } from '../publisher/publisher.module.js';
import { RoomsModule } from '../rooms/rooms.module.js';
import { SessionsModule } from '../sessions/sessions.module.js';
import { PageController } from './page.controller.js';

/**
 * GET /api/page, what a page needs to start the browser client, and GET /api/health. It only
 * reads: the server kind, channel names and subscriber URLs come from PushStreamService
 * (PublisherModule re-exports PushStreamModule).
 */
@Module({
  imports: [PublisherModule, SessionsModule, AuthModule, CsrfModule, RoomsModule],
  controllers: [PageController],
})
export class PageModule {}
