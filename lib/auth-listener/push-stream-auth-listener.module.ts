import { Module } from '@nestjs/common';
import { PushStreamConfigError } from '../errors/push-stream.exception.js';
import { ExpressSessionReader } from './express-session-reader.js';
import type { PushStreamAuthListenerOptions } from './push-stream-auth-listener-options.interface.js';
import { PushStreamAuthListener } from './push-stream-auth-listener.js';
import {
  PUSH_STREAM_AUTH_LISTENER_OPTIONS,
  PushStreamAuthListenerConfigurableModule,
} from './push-stream-auth-listener.module-definition.js';
import { PushStreamSessionReader } from './push-stream-session-reader.js';

/**
 * Answers nginx's auth subrequests on a listener of its own, outside Express and Nest's request
 * pipeline, with the same rules as the auth endpoint: import it beside PushStreamModule with
 * `forRoot({ port, session: { store, secret } })` or `forRootAsync(...)`.
 */
@Module({
  providers: [
    {
      provide: PushStreamSessionReader,
      inject: [PUSH_STREAM_AUTH_LISTENER_OPTIONS],
      useFactory: ({ session }: PushStreamAuthListenerOptions): PushStreamSessionReader => {
        if (session instanceof PushStreamSessionReader) return session;
        if (session === null || typeof session !== 'object') {
          throw new PushStreamConfigError('session', "must be express-session's { store, secret, name } or a PushStreamSessionReader", 'PushStreamAuthListenerModule');
        }
        return new ExpressSessionReader(session);
      },
    },
    PushStreamAuthListener,
  ],
  exports: [PushStreamAuthListener, PushStreamSessionReader],
})
export class PushStreamAuthListenerModule extends PushStreamAuthListenerConfigurableModule {}
