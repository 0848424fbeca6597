import { Module } from '@nestjs/common';
import { SessionsService } from './sessions.service.js';

/**
 * Where sessions start and end (SessionsService). The store is SessionStoreModule's; the
 * express-session middleware over it is installed in main.ts: it must run before every route,
 * nginx's auth subrequests to the app included. SessionsService counts new sessions in
 * @nestjs/throttler's storage, which ThrottlerModule (global, in AppModule) provides.
 */
@Module({
  providers: [SessionsService],
  exports: [SessionsService],
})
export class SessionsModule {}
