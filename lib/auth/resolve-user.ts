import type { PushStreamUser, ResolvedPushStreamOptions } from '../options/push-stream-options.interface.js';
import type { SubscriberAuthRequest } from './subscriber-auth-request.js';

/** `value` as a user when it has a usable id (a non-empty string or a finite number), else null. */
export function toPushStreamUser(value: unknown): PushStreamUser | null {
  if (value === null || typeof value !== 'object') return null;
  const id = (value as { id?: unknown }).id;
  if (typeof id === 'string' && id !== '') return value as PushStreamUser;
  if (typeof id === 'number' && Number.isFinite(id)) return value as PushStreamUser;
  return null;
}

/**
 * The default: Passport's `req.user`, else `req.session[sessionUserKey]`. Reads only; a read
 * does not mark an express-session session as modified.
 */
export function defaultResolveUser(req: SubscriberAuthRequest, sessionUserKey: string): PushStreamUser | null {
  const passportUser = toPushStreamUser(req.user);
  if (passportUser) return passportUser;
  const session = req.session;
  if (session === null || typeof session !== 'object' || !Object.hasOwn(session, sessionUserKey)) return null;
  return toPushStreamUser((session as Record<string, unknown>)[sessionUserKey]);
}

/** The user of the request: the `resolveUser` option when given, else the default. */
export async function resolveRequestUser(
  req: SubscriberAuthRequest,
  auth: Pick<ResolvedPushStreamOptions['auth'], 'resolveUser' | 'sessionUserKey'>,
): Promise<PushStreamUser | null> {
  if (auth.resolveUser) return toPushStreamUser(await auth.resolveUser(req));
  return defaultResolveUser(req, auth.sessionUserKey);
}
