import { Controller, Get, Header, Res, UseGuards } from '@nestjs/common';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import type { Response } from 'express';
import { PushStreamMetrics } from 'nestjs-push-stream/metrics';
import { PushStreamHealthIndicator } from 'nestjs-push-stream/terminus';
import { InternalListenerGuard } from './internal-listener.guard.js';

/** For the operator: `curl 127.0.0.1:$INTERNAL_PORT/internal/health` and Prometheus on `/internal/metrics`. */
@Controller('internal')
@UseGuards(InternalListenerGuard)
export class OpsController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly pushStream: PushStreamHealthIndicator,
    private readonly metrics: PushStreamMetrics,
  ) {}

  /** 200 when nginx answers (statistics and publisher), 503 with the failed checks otherwise. */
  @Get('health')
  @HealthCheck()
  check() {
    return this.health.check([() => this.pushStream.isHealthy('push-stream', { timeoutMs: 1000 })]);
  }

  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  async scrape(@Res() res: Response): Promise<void> {
    res.type(this.metrics.registry.contentType).send(await this.metrics.registry.metrics());
  }
}
