import { randomUUID } from 'node:crypto';
import { Injectable, Logger, ServiceUnavailableException } from '@nestjs/common';
import { PushStreamError, PushStreamService, redactUrl, type RevocationResult } from 'nestjs-push-stream';
import type { SampleMessage } from './messages.js';

type Draft<T> = T extends SampleMessage ? Omit<T, 'id' | 'at'> : never;

/**
 * The only place the sample talks to nginx: it publishes, and ends subscriptions. The message id
 * doubles as the event id, so a page can see whether it got a message twice.
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
        // The reason stays in the log: it names nginx's URLs, which are not the visitor's business.
        throw new ServiceUnavailableException('The message could not be delivered');
      }
      throw err;
    }
    return message;
  }

  /**
   * Ends what a session and its user had open, after the session itself is gone (so that a client
   * subscribing again is refused): deletes `__session__<token>` and `__user__<id>` on nginx. On
   * Nchan every connection naming them closes; on push-stream only those channels do (README,
   * Security). Never throws: a logout must succeed even when nginx cannot be reached.
   */
  async endSubscriptions({ sessionId, userId }: { sessionId?: string | null; userId?: string }): Promise<void> {
    await Promise.all([
      sessionId ? this.revoke('session', () => this.pushStream.revokeSession(sessionId)) : undefined,
      userId !== undefined ? this.revoke(`user ${userId}`, () => this.pushStream.revokeUser(userId)) : undefined,
    ]);
  }

  private async revoke(what: string, revoke: () => Promise<RevocationResult>): Promise<void> {
    try {
      const { channel, existed, connectionsClosed } = await revoke();
      this.logger.debug(`ended the subscriptions of ${what} (${channel}: ${existed ? (connectionsClosed ? 'connections closed' : 'channel closed') : 'no subscriber'})`);
    } catch (err) {
      const reason = err instanceof PushStreamError ? err.message : redactUrl(String(err));
      this.logger.warn(`could not end the subscriptions of ${what}: ${reason}`);
    }
  }
}
