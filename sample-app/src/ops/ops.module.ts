import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { PushStreamMetricsModule } from 'nestjs-push-stream/metrics';
import { PushStreamHealthIndicator } from 'nestjs-push-stream/terminus';
import { PublisherModule } from '../publisher/publisher.module.js';
import { InternalListenerGuard } from './internal-listener.guard.js';
import { OpsController } from './ops.controller.js';

/** Health (@nestjs/terminus) and Prometheus metrics, on the internal listener only. */
@Module({
  imports: [TerminusModule, PublisherModule, PushStreamMetricsModule.forRoot()],
  providers: [PushStreamHealthIndicator, InternalListenerGuard],
  controllers: [OpsController],
})
export class OpsModule {}
