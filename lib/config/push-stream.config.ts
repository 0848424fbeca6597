import { registerAs } from '@nestjs/config';
import type { PushStreamModuleOptions } from '../options/push-stream-options.interface.js';
import { pushStreamOptionsFromEnv } from '../options/options-from-env.js';
import { resolvePushStreamOptions } from '../options/resolve-options.js';

/**
 * `@nestjs/config` namespace `pushStream`, read from NGINX_PUSH_STREAM_* variables and
 * validated when ConfigModule loads it:
 *
 *   ConfigModule.forRoot({ load: [pushStreamConfig] }),
 *   PushStreamModule.forRootAsync(pushStreamConfig.asProvider()),
 */
export const pushStreamConfig = registerAs('pushStream', (): PushStreamModuleOptions => {
  const options = pushStreamOptionsFromEnv(process.env);
  resolvePushStreamOptions(options); // fail at load time, naming the variable's field
  return options;
});
