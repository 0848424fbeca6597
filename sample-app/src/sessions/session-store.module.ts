import { Module, type OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { SampleConfig } from '../sample.config.js';
import { SessionStore } from './session-store.js';

/**
 * The session store (SessionStore), created once from the configuration: main.ts takes the
 * express-session middleware from it, and the auth listener (auth-listener.ts) reads the same
 * sessions. Its Redis client is closed on shutdown, after Nest has closed the HTTP server and the
 * auth listener (onApplicationShutdown runs last), so no request in flight loses its store.
 */
@Module({
  providers: [
    {
      provide: SessionStore,
      inject: [ConfigService],
      useFactory: (config: ConfigService) => SessionStore.open(config.getOrThrow<SampleConfig>('sample')),
    },
  ],
  exports: [SessionStore],
})
export class SessionStoreModule implements OnApplicationShutdown {
  constructor(private readonly sessions: SessionStore) {}

  async onApplicationShutdown(): Promise<void> {
    await this.sessions.close();
  }
}
