import { type DynamicModule, Module } from '@nestjs/common';
import { PushStreamObserver } from '../observability/push-stream-observer.js';
import { PUSH_STREAM_METRICS_OPTIONS, PushStreamMetrics } from './push-stream-metrics.js';
import type { PushStreamMetricsOptions } from './push-stream-metrics-options.interface.js';

/**
 * Prometheus metrics for PushStreamModule: import it once beside it. Global, because
 * PushStreamService and the auth endpoint look for a PushStreamObserver wherever they are.
 */
@Module({})
export class PushStreamMetricsModule {
  static forRoot(options: PushStreamMetricsOptions = {}): DynamicModule {
    return {
      module: PushStreamMetricsModule,
      global: true,
      providers: [
        { provide: PUSH_STREAM_METRICS_OPTIONS, useValue: options },
        PushStreamMetrics,
        { provide: PushStreamObserver, useExisting: PushStreamMetrics },
      ],
      exports: [PushStreamMetrics, PushStreamObserver],
    };
  }
}
