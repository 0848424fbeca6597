import { type DynamicModule, Module } from '@nestjs/common';
import { PushStreamHttpClient } from '../http/http-client.interface.js';
import type { PushStreamModuleOptions } from '../options/push-stream-options.interface.js';
import { completePushStreamModule } from '../push-stream.module.js';
import { PushStreamConfigurableModule, type PushStreamModuleExtras } from '../push-stream.module-definition.js';
import type { Sleep } from '../service/retry.js';
import { PushStreamRecorder } from './push-stream-recorder.js';

/** Module options, all optional here, and the extras that make sense without nginx. */
export interface PushStreamTestingModuleOptions extends Partial<PushStreamModuleOptions>, Pick<PushStreamModuleExtras, 'isGlobal' | 'authRoute'> {}

/** A publisher location that never resolves: nothing here goes to the network anyway. */
const TEST_PUBLISHER_URL = 'http://push-stream.test/pub';
const TEST_SECRET = 'nestjs-push-stream-testing-secret';
const noSleep: Sleep = () => Promise.resolve();

/**
 * PushStreamModule with PushStreamRecorder in place of the network, for unit tests of an
 * application's own services: PushStreamService, PushStreamChannels and the auth parts work as
 * in production (options validated, names checked, messages encoded for `server`), and the
 * recorder keeps what was published. Global by default, like the usual `isGlobal: true` setup;
 * retries are off unless `retry` is given.
 *
 *   const moduleRef = await Test.createTestingModule({ imports: [PushStreamTestingModule.forRoot()], providers: [ChatService] }).compile();
 *   const recorder = moduleRef.get(PushStreamRecorder);
 */
@Module({})
export class PushStreamTestingModule {
  static forRoot(options: PushStreamTestingModuleOptions = {}): DynamicModule {
    const { isGlobal = true, authRoute, ...moduleOptions } = options;
    const definition = PushStreamConfigurableModule.forRoot({
      ...moduleOptions,
      publisherUrl: moduleOptions.publisherUrl ?? TEST_PUBLISHER_URL,
      secret: moduleOptions.secret ?? TEST_SECRET,
      // A failure a test sets up (failNextPublish) is the failure the code under test sees.
      retry: { attempts: 1, ...moduleOptions.retry },
      isGlobal,
    });
    return {
      ...completePushStreamModule(
        definition,
        { authRoute },
        {
          providers: [PushStreamRecorder, { provide: PushStreamHttpClient, useExisting: PushStreamRecorder }],
          exports: [PushStreamRecorder],
          sleep: noSleep,
        },
      ),
      module: PushStreamTestingModule,
    };
  }
}
