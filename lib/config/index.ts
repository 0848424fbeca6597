// Entry point `nestjs-push-stream/config` (needs @nestjs/config), exported by name.
export { pushStreamConfig } from './push-stream.config.js';
