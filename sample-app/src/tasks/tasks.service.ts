import { randomUUID } from 'node:crypto';
import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { TaskProgress } from '../publisher/messages.js';
import { PublisherService } from '../publisher/publisher.service.js';
import type { SampleConfig } from '../sample.config.js';

const STEPS = 10;

/**
 * A stand-in for slow work (an import, a report): it runs for a few seconds after the request
 * has been answered and reports its progress to the one page that started it (`__uuid__<page>`).
 */
@Injectable()
export class TasksService implements OnApplicationShutdown {
  private readonly logger = new Logger(TasksService.name);
  private readonly durationMs: number;
  private readonly running = new Set<Promise<void>>();
  private stopping = false;

  constructor(
    private readonly publisher: PublisherService,
    config: ConfigService,
  ) {
    this.durationMs = config.getOrThrow<SampleConfig>('sample').taskDurationMs;
  }

  start(pageId: string): { taskId: string; channel: string; steps: number } {
    const taskId = randomUUID();
    const channel = this.publisher.channels.page(pageId);
    const run = this.run(taskId, channel).finally(() => this.running.delete(run));
    this.running.add(run);
    return { taskId, channel, steps: STEPS };
  }

  private async run(taskId: string, channel: string): Promise<void> {
    const stepMs = this.durationMs / STEPS;
    for (let step = 0; step <= STEPS && !this.stopping; step++) {
      if (step > 0) await new Promise((r) => setTimeout(r, stepMs));
      const percent = Math.round((step / STEPS) * 100);
      try {
        await this.publisher.publish<TaskProgress>(channel, { kind: 'progress', taskId, percent, done: step === STEPS });
      } catch {
        this.logger.warn(`task ${taskId}: progress ${percent}% not delivered`);
      }
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([...this.running]);
  }
}
