import { Module } from '@nestjs/common';
import { PushStreamModule } from 'nestjs-push-stream';
import { pushStreamConfig } from 'nestjs-push-stream/config';
import { PublisherService } from './publisher.service.js';

/**
 * The sample's one way to nginx. PushStreamModule is configured here, from the NGINX_PUSH_STREAM_*
 * variables (`pushStreamConfig`, @nestjs/config), and re-exported: a feature module that imports
 * PublisherModule can publish (PublisherService) and name channels (PushStreamChannels); one that
 * does not, cannot. The module also registers the auth endpoint nginx calls before each
 * subscription (`/push-stream/auth`); it finds the rules of every module (rooms/room-channel.rule.ts).
 * With AUTH_PORT, the auth listener (sessions/auth-listener.ts) decides with the same rules instead.
 */
@Module({
  imports: [PushStreamModule.forRootAsync(pushStreamConfig.asProvider())],
  providers: [PublisherService],
  exports: [PublisherService, PushStreamModule],
})
export class PublisherModule {}
