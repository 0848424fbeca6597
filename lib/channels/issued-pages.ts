/**
 * Page channels a session was handed, for `auth.pageChannels: 'issued'`. Kept in the session
 * itself (no extra store), so the auth endpoint can check them with the session it already loads.
 */

/** The session field holding the issued page UUIDs, newest last. */
export const ISSUED_PAGES_SESSION_KEY = 'pushStreamPages';

/** Pages remembered per session: the newest this many; a tab older than that is refused on reconnect. */
export const MAX_ISSUED_PAGES_PER_SESSION = 32;

function issuedList(session: unknown): string[] {
  if (session === null || typeof session !== 'object' || !Object.hasOwn(session, ISSUED_PAGES_SESSION_KEY)) return [];
  const list = (session as Record<string, unknown>)[ISSUED_PAGES_SESSION_KEY];
  return Array.isArray(list) ? list.filter((v): v is string => typeof v === 'string') : [];
}

/** Records `uuid` (lower case) as handed to `session`, dropping the oldest past the limit. */
export function recordIssuedPage(session: object, uuid: string): void {
  const list = issuedList(session).filter((v) => v !== uuid);
  list.push(uuid);
  // A new array: express-session saves a session whose contents changed.
  (session as Record<string, unknown>)[ISSUED_PAGES_SESSION_KEY] = list.slice(-MAX_ISSUED_PAGES_PER_SESSION);
}

/** Whether `uuid` was handed to `session` (an exact, lower-case match). */
export function isIssuedPage(session: unknown, uuid: string): boolean {
  return issuedList(session).includes(uuid);
}
