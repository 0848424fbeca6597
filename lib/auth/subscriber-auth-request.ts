/**
 * The parts of the auth subrequest the library reads, as express (with express-session and,
 * optionally, Passport) gives them. Structural, so the library needs no express types.
 */
export interface SubscriberAuthRequest {
  headers: Record<string, string | string[] | undefined>;
  /** Set by Passport. */
  user?: unknown;
  /** Set by express-session: the loaded session, or a fresh one it generated. */
  session?: unknown;
  /** Set by express-session: the loaded session's id, or a fresh random one. */
  sessionID?: unknown;
}
