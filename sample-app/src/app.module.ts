import { Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { ThrottlerModule } from '@nestjs/throttler';
import { PushStreamModule } from 'nestjs-push-stream';
import { pushStreamConfig } from 'nestjs-push-stream/config';
import { AuthController } from './auth/auth.controller.js';
import { SessionsService } from './auth/sessions.service.js';
import { UsersService } from './auth/users.service.js';
import { ChatController } from './chat/chat.controller.js';
import { PublisherService } from './chat/publisher.service.js';
import { CsrfService } from './csrf/csrf.js';
import { PageController } from './page/page.controller.js';
import { sampleConfig } from './sample.config.js';
import { TasksController } from './tasks/tasks.controller.js';
import { TasksService } from './tasks/tasks.service.js';
import { throttlerOptions } from './throttling.js';

/**
 * nestjs-push-stream configured as an application would: NGINX_PUSH_STREAM_* variables read by
 * `pushStreamConfig` through @nestjs/config. The module also registers the auth endpoint nginx
 * calls before each subscription (`/push-stream/auth`). @nestjs/throttler's counters live in
 * memory: with several app instances, give it a shared storage (Redis) instead.
 */
@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true, cache: true, load: [pushStreamConfig, sampleConfig] }),
    PushStreamModule.forRootAsync(pushStreamConfig.asProvider()),
    ThrottlerModule.forRoot(throttlerOptions()),
  ],
  controllers: [PageController, AuthController, ChatController, TasksController],
  providers: [UsersService, SessionsService, CsrfService, PublisherService, TasksService],
})
export class AppModule {}
