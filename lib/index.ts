// Public API of nestjs-push-stream. `nestjs-push-stream/axios` and `nestjs-push-stream/config`
// are separate entry points so that @nestjs/axios and @nestjs/config stay optional.
export * from './push-stream.constants.js';
export * from './push-stream.module.js';
export type { PushStreamModuleExtras } from './push-stream.module-definition.js';
export { PUSH_STREAM_MODULE_OPTIONS } from './push-stream.module-definition.js';
export * from './errors/index.js';
export * from './options/index.js';
export * from './channels/index.js';
export * from './dialects/index.js';
export * from './http/index.js';
export * from './service/index.js';
export * from './auth/index.js';
