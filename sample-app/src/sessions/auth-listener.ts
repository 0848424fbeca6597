import type { DynamicModule } from '@nestjs/common';
import { ConditionalModule, ConfigService } from '@nestjs/config';
import { PushStreamAuthListenerModule } from 'nestjs-push-stream/auth-listener';
import type { SampleConfig } from '../sample.config.js';
import { SessionStoreModule } from './session-store.module.js';
import { SessionStore } from './session-store.js';

/**
 * With AUTH_PORT set: nginx's auth subrequests answered by the package's auth listener, a plain
 * node:http server on HOST:AUTH_PORT, outside Express (several times cheaper per subscription).
 * It decides with the same rules as the auth endpoint (PublisherModule's PushStreamModule, the
 * rooms' RoomChannelRule) and reads the sessions from the app's own store (SessionStoreModule),
 * with the same secret and cookie name; it never writes one. nginx must send its auth subrequests
 * there (`nginx-config --auth-app host:AUTH_PORT`). Without AUTH_PORT, the app's endpoint
 * (/push-stream/auth, behind express-session) answers them, as before.
 */
export function authListenerWhenConfigured(): Promise<DynamicModule> {
  return ConditionalModule.registerWhen(
    PushStreamAuthListenerModule.forRootAsync({
      imports: [SessionStoreModule],
      inject: [ConfigService, SessionStore],
      useFactory: (config: ConfigService, sessions: SessionStore) => {
        const { host, authPort } = config.getOrThrow<SampleConfig>('sample');
        if (authPort === undefined) throw new Error('AUTH_PORT is not set: the auth listener should not have been imported');
        return {
          host,
          port: authPort,
          session: { store: sessions.store, secret: sessions.secret, name: sessions.cookieName },
        };
      },
    }),
    // As sampleConfig reads it: unset or empty, no listener.
    (env) => Boolean(env.AUTH_PORT),
    { debug: false },
  );
}
