import { Module } from '@nestjs/common';
import { SessionsService } from './sessions.service.js';

/**
 * Where sessions start and end (SessionsService). The express-session middleware itself is
 * installed in main.ts (session.middleware.ts): it must run before every route, nginx's auth
 * subrequests included. SessionsService counts new sessions in @nestjs/throttler's storage,
 * which ThrottlerModule (global, in AppModule) provides.
 */
@Module({
  providers: [SessionsService],
  exports: [SessionsService],
})
export class SessionsModule {}
