import type { ServerStats } from '../dialects/push-stream-result.interface.js';
import type { PushStreamError } from '../errors/push-stream.exception.js';
import type { PushStreamServerKind } from '../options/push-stream-options.interface.js';

export interface HealthOptions {
  /**
   * Bound of each probe request, in milliseconds; probes are never retried. Default: the
   * `publishTimeoutMs` option. Keep it below your health endpoint's own deadline.
   */
  timeoutMs?: number;
}

/**
 * `stats`: the statistics location answered in the server's format.
 * `channel-info`: one publisher answered channel information for every probe channel. On Nchan each
 * channel is owned by one worker (by a hash of its name) and every worker asks the owner, so a
 * hung worker makes the probes it owns time out whichever worker took the request.
 */
export type HealthCheckName = 'stats' | 'channel-info';

export interface HealthCheck {
  name: HealthCheckName;
  /** The location asked, credentials redacted. */
  url: string;
  ok: boolean;
  /**
   * Why it failed: PushStreamTimeoutError (a hung worker, or nginx overloaded), PushStreamConnectionError
   * (nginx down), PushStreamHttpError, PushStreamProtocolError (wrong `server` or location).
   */
  error?: PushStreamError;
}

/** One worker process as the Push Stream Module's statistics list it (`by_worker`). */
export interface HealthWorker {
  pid: number;
  subscribers: number;
  /** Seconds since the worker started: a worker much younger than the others was restarted. */
  uptime: number;
}

export interface HealthReport {
  /** Every check passed. */
  healthy: boolean;
  server: PushStreamServerKind;
  checks: HealthCheck[];
  /** The server's figures, when the stats check passed. */
  stats?: Pick<ServerStats, 'channels' | 'subscribers' | 'storedMessages' | 'publishedMessages'>;
  /** push-stream only, when the stats check passed: the worker processes. */
  workers?: HealthWorker[];
}
