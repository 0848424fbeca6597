import type { PushStreamError } from '../errors/push-stream.exception.js';
import type { PushStreamServerKind } from '../options/push-stream-options.interface.js';

/** One publish call (publish or publishMany), once it has an outcome. */
export interface PublishEvent {
  server: PushStreamServerKind;
  /** Channels the call named. */
  channels: number;
  /** HTTP attempts made, first one included: retries are `attempts - 1`. */
  attempts: number;
  /** From the call to its outcome, retries and backoff included. */
  durationMs: number;
  /** The error the call threw; absent when it succeeded. */
  error?: PushStreamError;
}

/** One answer to a subscription (nginx's auth subrequest, or a ticket asked for). */
export interface AuthorizationEvent {
  allowed: boolean;
  /** Channel kinds of the request (allowed), or of the refused channel; empty when it was refused as malformed. */
  kinds: readonly string[];
}

/**
 * What the library reports as it works, for metrics or tracing. Provide one (the metrics entry
 * point's PushStreamMetricsModule does) and PushStreamService and the auth endpoint call it;
 * nothing is reported when none is provided. Calls are synchronous and must not throw.
 */
export abstract class PushStreamObserver {
  abstract published(event: PublishEvent): void;
  abstract authorized(event: AuthorizationEvent): void;
}
