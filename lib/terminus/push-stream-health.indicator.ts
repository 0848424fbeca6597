import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import type { HealthOptions } from '../service/health.interface.js';
import { PushStreamService } from '../service/push-stream.service.js';

/**
 * A @nestjs/terminus health indicator: up when nginx's statistics location and every publisher
 * answer (PushStreamService.health()), down with each failed check and its error otherwise.
 * Provide it next to TerminusModule:
 *
 *   @Module({ imports: [TerminusModule], providers: [PushStreamHealthIndicator], controllers: [HealthController] })
 *   ... this.health.check([() => this.pushStream.isHealthy('push-stream')])
 */
@Injectable()
export class PushStreamHealthIndicator {
  constructor(
    private readonly indicators: HealthIndicatorService,
    private readonly push: PushStreamService,
  ) {}

  async isHealthy<const Key extends string = 'push-stream'>(key: Key = 'push-stream' as Key, options: HealthOptions = {}) {
    const indicator = this.indicators.check(key);
    const report = await this.push.health(options);
    const data = {
      server: report.server,
      checks: report.checks.map((c) => ({ name: c.name, url: c.url, ok: c.ok, ...(c.error ? { error: c.error.message } : {}) })),
      ...(report.stats ? { stats: report.stats } : {}),
      ...(report.workers ? { workers: report.workers } : {}),
    };
    return report.healthy ? indicator.up(data) : indicator.down(data);
  }
}
