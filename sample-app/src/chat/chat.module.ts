import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { CsrfModule } from '../csrf/csrf.module.js';
import { PublisherModule } from '../publisher/publisher.module.js';
import { SessionsModule } from '../sessions/sessions.module.js';
import { ChatController } from './chat.controller.js';

/** Chat lines for everyone, private messages to a user, notices to a session. */
@Module({
  imports: [PublisherModule, SessionsModule, AuthModule, CsrfModule],
  controllers: [ChatController],
})
export class ChatModule {}
