import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectThrottlerStorage, ThrottlerException, type ThrottlerStorage } from '@nestjs/throttler';
import type { Request, Response } from 'express';
import { loadedSessionId } from 'nestjs-push-stream';
import type { DemoUser } from '../sample.config.js';
import { clientAddress, NEW_SESSIONS } from '../throttling.js';
import { SESSION_COOKIE, SESSION_COOKIE_OPTIONS } from './session-store.js';

/** A random guest name, never derived from the session id or its channel token. */
function newGuestName(): string {
  return `guest-${randomBytes(3).toString('hex')}`;
}

/**
 * Where the sample's sessions begin and end. A visitor who only reads has none: express-session
 * runs with `saveUninitialized: false` and nothing is put in a session until the visitor writes.
 */
@Injectable()
export class SessionsService {
  constructor(@InjectThrottlerStorage() private readonly storage: ThrottlerStorage) {}

  /** The id of the session loaded from the store for this request, or null (a reader). */
  storedId(req: Request): string | null {
    return loadedSessionId(req);
  }

  /** The name this request's lines are signed with. */
  displayName(req: Request): string | null {
    return req.session.user?.name ?? req.session.guestName ?? null;
  }

  /**
   * Makes sure the visitor has a session (stored when the response ends). Its first write starts it.
   * Every session has a guest name, which is also what tells the sample's sessions from empty ones.
   */
  async ensure(req: Request): Promise<void> {
    if (req.session.guestName !== undefined) return;
    if (this.storedId(req) === null) await this.admit(req);
    req.session.guestName = newGuestName();
  }

  /** A new session (new id, so new `__session__` channel) for `user`; the old one is gone from the store. */
  async logIn(req: Request, user: DemoUser): Promise<void> {
    // Replacing a stored session adds none to the store.
    if (this.storedId(req) === null) await this.admit(req);
    await new Promise<void>((resolve, reject) => req.session.regenerate((err) => (err ? reject(err) : resolve())));
    req.session.user = user;
    req.session.guestName = newGuestName();
    await new Promise<void>((resolve, reject) => req.session.save((err) => (err ? reject(err) : resolve())));
  }

  /** Deletes the session from the store and its cookie: the visitor is a reader again. */
  async end(req: Request, res: Response): Promise<void> {
    await new Promise<void>((resolve, reject) => req.session.destroy((err) => (err ? reject(err) : resolve())));
    res.clearCookie(SESSION_COOKIE, SESSION_COOKIE_OPTIONS);
  }

  /** At most NEW_SESSIONS per address and window: every new session is a key in the store for a day. */
  private async admit(req: Request): Promise<void> {
    const { isBlocked, timeToBlockExpire } = await this.storage.increment(
      `new-session:${clientAddress(req)}`,
      NEW_SESSIONS.ttl,
      NEW_SESSIONS.limit,
      0,
      'new-session',
    );
    if (isBlocked) throw new ThrottlerException(`Too many new sessions from your address: try again in ${Math.max(1, timeToBlockExpire)} s`);
  }
}
