import { cookiePairs } from './cookie-header.js';
import type { SubscriberAuthRequest } from './subscriber-auth-request.js';

/**
 * The id of the session express-session loaded from its store for this request's cookie, or null.
 *
 * express-session always sets `req.sessionID`: when the cookie is missing, badly signed or names
 * a session the store does not hold, it makes up a fresh random id. Such a session belongs to
 * nobody yet, so it must not open a `__session__` channel. The id is the store's only when the
 * request's signed cookie (`s:<id>.<signature>`, checked by express-session) carries it.
 */
export function loadedSessionId(req: SubscriberAuthRequest): string | null {
  const id = req.sessionID;
  if (typeof id !== 'string' || id === '' || req.session === null || typeof req.session !== 'object') return null;
  const signedPrefix = `s:${id}.`;
  for (const [, value] of cookiePairs(req.headers.cookie)) if (value.startsWith(signedPrefix)) return id;
  return null;
}

/**
 * Stops express-session from writing anything back for this request: no save, no store touch
 * (which would push the expiry forward on every subscription), no Set-Cookie, no destroy.
 * express-session skips all of these when `req.sessionID` is not a string; the session object
 * itself, and the store, stay as they were.
 */
export function detachSession(req: SubscriberAuthRequest): void {
  if (req.sessionID !== undefined) req.sessionID = undefined;
}
