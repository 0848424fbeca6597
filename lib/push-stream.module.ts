import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { PushStreamChannels } from './channels/push-stream-channels.js';
import { NchanDialect } from './dialects/nchan.dialect.js';
import { PushStreamModuleDialect } from './dialects/push-stream.dialect.js';
import type { PushStreamDialect } from './dialects/push-stream-dialect.interface.js';
import { UndiciHttpClient } from './http/undici-http-client.js';
import type { PushStreamModuleOptions, ResolvedPushStreamOptions } from './options/push-stream-options.interface.js';
import { resolvePushStreamOptions } from './options/resolve-options.js';
import {
  PUSH_STREAM_DIALECT,
  PUSH_STREAM_HTTP_CLIENT,
  PUSH_STREAM_RESOLVED_OPTIONS,
  PUSH_STREAM_SLEEP,
} from './push-stream.constants.js';
import {
  PUSH_STREAM_ASYNC_OPTIONS_TYPE,
  PUSH_STREAM_MODULE_OPTIONS,
  PUSH_STREAM_OPTIONS_TYPE,
  PushStreamConfigurableModule,
} from './push-stream.module-definition.js';
import { PushStreamService } from './service/push-stream.service.js';
import { realSleep } from './service/retry.js';
import { authModuleParts } from './auth/auth-module-parts.js';

/** The dialect for the configured server: the one place that maps `server` to behaviour. */
export function createDialect(options: ResolvedPushStreamOptions): PushStreamDialect {
  return options.server === 'nchan' ? new NchanDialect(options.channelDelimiter) : new PushStreamModuleDialect();
}

const coreProviders: Provider[] = [
  {
    provide: PUSH_STREAM_RESOLVED_OPTIONS,
    inject: [PUSH_STREAM_MODULE_OPTIONS],
    useFactory: (options: PushStreamModuleOptions) => resolvePushStreamOptions(options),
  },
  { provide: PUSH_STREAM_DIALECT, inject: [PUSH_STREAM_RESOLVED_OPTIONS], useFactory: createDialect },
  {
    provide: PushStreamChannels,
    inject: [PUSH_STREAM_RESOLVED_OPTIONS],
    useFactory: (options: ResolvedPushStreamOptions) => new PushStreamChannels(options),
  },
  { provide: PUSH_STREAM_SLEEP, useValue: realSleep },
  PushStreamService,
];

const exported = [PushStreamService, PushStreamChannels, PUSH_STREAM_RESOLVED_OPTIONS, PUSH_STREAM_DIALECT, PUSH_STREAM_HTTP_CLIENT];

/**
 * `PushStreamModule.forRoot(options)` or `.forRootAsync({ imports, inject, useFactory })`.
 * Options are validated when the module starts; a bad one stops start-up with its field's name.
 */
@Module({})
export class PushStreamModule extends PushStreamConfigurableModule {
  static override forRoot(options: typeof PUSH_STREAM_OPTIONS_TYPE): DynamicModule {
    return PushStreamModule.complete(super.forRoot(options), options);
  }

  static override forRootAsync(options: typeof PUSH_STREAM_ASYNC_OPTIONS_TYPE): DynamicModule {
    return PushStreamModule.complete(super.forRootAsync(options), options);
  }

  private static complete(
    definition: DynamicModule,
    extras: { authRoute?: string | false; httpClient?: (typeof PUSH_STREAM_OPTIONS_TYPE)['httpClient'] },
  ): DynamicModule {
    const auth = authModuleParts(extras.authRoute === undefined ? 'push-stream/auth' : extras.authRoute);
    const httpClient: Provider = extras.httpClient
      ? { provide: PUSH_STREAM_HTTP_CLIENT, useClass: extras.httpClient }
      : { provide: PUSH_STREAM_HTTP_CLIENT, useFactory: () => new UndiciHttpClient() };
    return {
      ...definition,
      controllers: [...(definition.controllers ?? []), ...auth.controllers],
      providers: [...(definition.providers ?? []), ...coreProviders, httpClient, ...auth.providers],
      exports: [...(definition.exports ?? []), ...exported, ...auth.exports],
    };
  }
}
