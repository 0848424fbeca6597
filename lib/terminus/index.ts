// Entry point `nestjs-push-stream/terminus` (needs @nestjs/terminus), exported by name.
export { PushStreamHealthIndicator } from './push-stream-health.indicator.js';
