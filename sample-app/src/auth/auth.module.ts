import { Module } from '@nestjs/common';
import { CsrfModule } from '../csrf/csrf.module.js';
import { PublisherModule } from '../publisher/publisher.module.js';
import { SessionsModule } from '../sessions/sessions.module.js';
import { AuthController } from './auth.controller.js';
import { UsersService } from './users.service.js';

/** Demo log-in and log-out (AuthController) and the demo users (UsersService, exported). */
@Module({
  imports: [SessionsModule, PublisherModule, CsrfModule],
  controllers: [AuthController],
  providers: [UsersService],
  exports: [UsersService],
})
export class AuthModule {}
