import type { IncomingHttpHeaders } from 'node:http';
import type { ReadSession } from '../auth/channel-authorizer.js';

export type { ReadSession };

/**
 * Reads the subscriber's session from the auth subrequest's headers (its Cookie), for the auth
 * listener, which runs without express-session. A token that is also the type: the default is
 * ExpressSessionReader; provide your own for another session scheme, or override it in tests.
 */
export abstract class PushStreamSessionReader {
  /** The session the request's cookie names, or null when there is none (no cookie, bad signature, unknown or expired). */
  abstract read(headers: IncomingHttpHeaders): Promise<ReadSession | null>;
}
