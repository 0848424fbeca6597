import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { PushStreamChannels } from './channels/push-stream-channels.js';
import { createDialect } from './dialects/create-dialect.js';
import { PushStreamDialect } from './dialects/push-stream-dialect.interface.js';
import { PushStreamHttpClient } from './http/http-client.interface.js';
import { UndiciHttpClient } from './http/undici-http-client.js';
import type { PushStreamModuleOptions, ResolvedPushStreamOptions } from './options/push-stream-options.interface.js';
import { resolvePushStreamOptions } from './options/resolve-options.js';
import { PUSH_STREAM_RESOLVED_OPTIONS, PUSH_STREAM_SLEEP, PUSH_STREAM_UNDICI_OPTIONS } from './push-stream.constants.js';
import {
  PUSH_STREAM_ASYNC_OPTIONS_TYPE,
  PUSH_STREAM_MODULE_OPTIONS,
  PUSH_STREAM_OPTIONS_TYPE,
  PushStreamConfigurableModule,
  type PushStreamModuleExtras,
} from './push-stream.module-definition.js';
import { PushStreamService } from './service/push-stream.service.js';
import { realSleep, type Sleep } from './service/retry.js';
import { authModuleParts } from './auth/auth-module-parts.js';

const coreProviders: Provider[] = [
  {
    provide: PUSH_STREAM_RESOLVED_OPTIONS,
    inject: [PUSH_STREAM_MODULE_OPTIONS],
    useFactory: (options: PushStreamModuleOptions) => resolvePushStreamOptions(options),
  },
  {
    provide: PushStreamDialect,
    inject: [PUSH_STREAM_RESOLVED_OPTIONS],
    useFactory: (options: ResolvedPushStreamOptions) => createDialect(options.server, options.channelDelimiter),
  },
  {
    provide: PUSH_STREAM_UNDICI_OPTIONS,
    inject: [PUSH_STREAM_RESOLVED_OPTIONS],
    useFactory: (options: ResolvedPushStreamOptions) => options.undici,
  },
  {
    provide: PushStreamChannels,
    inject: [PUSH_STREAM_RESOLVED_OPTIONS],
    useFactory: (options: ResolvedPushStreamOptions) => new PushStreamChannels(options),
  },
  PushStreamService,
];

// The resolved options are exported (not public: the token is not in lib/index.ts) for the library's
// own ChannelAuthGuard, which an application may put on its own route in the importing module.
const exported = [PushStreamService, PushStreamChannels, PUSH_STREAM_RESOLVED_OPTIONS, PushStreamDialect, PushStreamHttpClient];

/** What a module built on PushStreamModule's definition puts in place of the network (the testing module). */
export interface PushStreamTransport {
  /** Providers, one of which provides PushStreamHttpClient. */
  providers: Provider[];
  /** Extra tokens to export. */
  exports?: Array<Provider | string | symbol>;
  sleep: Sleep;
}

/** The transport of `PushStreamModule.forRoot`: the `httpClient` class, else undici. */
function networkTransport(httpClient: PushStreamModuleExtras['httpClient']): PushStreamTransport {
  return { providers: [{ provide: PushStreamHttpClient, useClass: httpClient ?? UndiciHttpClient }], sleep: realSleep };
}

/**
 * Adds the providers, controllers and exports around ConfigurableModuleBuilder's definition.
 * Shared with PushStreamTestingModule, which passes its own transport.
 */
export function completePushStreamModule(
  definition: DynamicModule,
  extras: Pick<PushStreamModuleExtras, 'authRoute' | 'httpClient'>,
  transport: PushStreamTransport = networkTransport(extras.httpClient),
): DynamicModule {
  const auth = authModuleParts(extras.authRoute === undefined ? 'push-stream/auth' : extras.authRoute);
  return {
    ...definition,
    controllers: [...(definition.controllers ?? []), ...auth.controllers],
    providers: [
      ...(definition.providers ?? []),
      ...coreProviders,
      { provide: PUSH_STREAM_SLEEP, useValue: transport.sleep },
      ...transport.providers,
      ...auth.providers,
    ],
    exports: [...(definition.exports ?? []), ...exported, ...(transport.exports ?? []), ...auth.exports],
  };
}

/**
 * `PushStreamModule.forRoot(options)` or `.forRootAsync({ imports, inject, useFactory })`.
 * Options are validated when the module starts; a bad one stops start-up with its field's name.
 */
@Module({})
export class PushStreamModule extends PushStreamConfigurableModule {
  static override forRoot(options: typeof PUSH_STREAM_OPTIONS_TYPE): DynamicModule {
    return completePushStreamModule(super.forRoot(options), options);
  }

  static override forRootAsync(options: typeof PUSH_STREAM_ASYNC_OPTIONS_TYPE): DynamicModule {
    return completePushStreamModule(super.forRootAsync(options), options);
  }
}
