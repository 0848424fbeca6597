import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { ThrottlerModule } from '@nestjs/throttler';
import { pushStreamConfig } from 'nestjs-push-stream/config';
import { AuthModule } from './auth/auth.module.js';
import { OpsModule } from './ops/ops.module.js';
import { ChatModule } from './chat/chat.module.js';
import { PageModule } from './page/page.module.js';
import { RoomsModule } from './rooms/rooms.module.js';
import { sampleConfig } from './sample.config.js';
import { authListenerWhenConfigured } from './sessions/auth-listener.js';
import { SessionStoreModule } from './sessions/session-store.module.js';
import { TasksModule } from './tasks/tasks.module.js';
import { throttlerOptions } from './throttling.js';

/**
 * The application: configuration and rate limits, shared by every module, the session store,
 * then the features. nestjs-push-stream is configured in PublisherModule (imported by the features
 * that publish) from the NGINX_PUSH_STREAM_* variables `pushStreamConfig` reads; with AUTH_PORT,
 * its auth listener answers nginx's auth subrequests (sessions/auth-listener.ts).
 * @nestjs/throttler's counters live in memory: with several app instances, give it a shared
 * storage (Redis) instead.
 */
@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true, cache: true, load: [pushStreamConfig, sampleConfig] }),
    ThrottlerModule.forRoot(throttlerOptions()),
    SessionStoreModule,
    authListenerWhenConfigured(),
    PageModule,
    AuthModule,
    ChatModule,
    RoomsModule,
    TasksModule,
    OpsModule,
  ],
})
export class AppModule {}
