// Entry point `nestjs-push-stream/metrics` (needs prom-client), exported by name.
export { PushStreamMetricsModule } from './push-stream-metrics.module.js';
export { PushStreamMetrics } from './push-stream-metrics.js';
export type { PushStreamMetricsOptions } from './push-stream-metrics-options.interface.js';
