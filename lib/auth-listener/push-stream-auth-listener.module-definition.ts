import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { PushStreamAuthListenerOptions } from './push-stream-auth-listener-options.interface.js';

export const {
  ConfigurableModuleClass: PushStreamAuthListenerConfigurableModule,
  MODULE_OPTIONS_TOKEN: PUSH_STREAM_AUTH_LISTENER_OPTIONS,
} = new ConfigurableModuleBuilder<PushStreamAuthListenerOptions>({ moduleName: 'PushStreamAuthListener' })
  .setClassMethodName('forRoot')
  .build();
