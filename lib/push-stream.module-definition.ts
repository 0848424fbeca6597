import { ConfigurableModuleBuilder, type Type } from '@nestjs/common';
import type { PushStreamHttpClient } from './http/http-client.interface.js';
import type { PushStreamModuleOptions } from './options/push-stream-options.interface.js';

/** Settings that shape the module itself, so they are known synchronously even with forRootAsync. */
export interface PushStreamModuleExtras {
  /** Register the module globally. Default false. */
  isGlobal?: boolean;
  /** Route of the nginx auth_request endpoint, or false to register no controller. Default `push-stream/auth`. */
  authRoute?: string | false;
  /**
   * Transport class, provided as PushStreamHttpClient; Nest constructs it, so it may inject what
   * the module can see. Default UndiciHttpClient (pool options: the `undici` option); or
   * AxiosHttpClient from `nestjs-push-stream/axios`, or your own subclass of PushStreamHttpClient.
   */
  httpClient?: Type<PushStreamHttpClient>;
}

export const {
  ConfigurableModuleClass: PushStreamConfigurableModule,
  MODULE_OPTIONS_TOKEN: PUSH_STREAM_MODULE_OPTIONS,
  OPTIONS_TYPE: PUSH_STREAM_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: PUSH_STREAM_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<PushStreamModuleOptions>({ moduleName: 'PushStream' })
  .setClassMethodName('forRoot')
  .setExtras<PushStreamModuleExtras>({ isGlobal: false, authRoute: 'push-stream/auth', httpClient: undefined }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal,
  }))
  .build();
