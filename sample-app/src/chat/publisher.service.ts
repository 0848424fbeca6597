import { randomUUID } from 'node:crypto';
import { Injectable, Logger, ServiceUnavailableException } from '@nestjs/common';
import { PushStreamError, PushStreamService } from 'nestjs-push-stream';
import type { SampleMessage } from './messages.js';

type Draft<T> = T extends SampleMessage ? Omit<T, 'id' | 'at'> : never;

/**
 * The only place the sample publishes. The message id doubles as the event id, so a page can
 * see whether it got a message twice.
 */
@Injectable()
export class PublisherService {
  private readonly logger = new Logger(PublisherService.name);

  constructor(private readonly pushStream: PushStreamService) {}

  get channels() {
    return this.pushStream.channels;
  }

  async publish<T extends SampleMessage>(channel: string, draft: Draft<T>): Promise<T> {
    const message = { ...draft, id: randomUUID(), at: new Date().toISOString() } as unknown as T;
    try {
      await this.pushStream.publish(channel, message, { eventId: message.id, eventType: message.kind });
    } catch (err) {
      if (err instanceof PushStreamError) {
        this.logger.warn(`publish to ${channel} failed: ${err.message}`);
        throw new ServiceUnavailableException(`The message could not be delivered (${err.message})`);
      }
      throw err;
    }
    return message;
  }
}
