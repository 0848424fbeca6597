import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Request, Response } from 'express';
import type { SampleConfig } from '../sample.config.js';

export const CSRF_HEADER = 'x-csrf-token';
/** A random value per browser, in a cookie: not a session, nothing is stored on the server. */
export const CSRF_COOKIE = 'sample.csrf';

const NONCE = /^[A-Za-z0-9_-]{22,64}$/;

/** One cookie's value from the Cookie header (the sample has no cookie-parser). */
function readCookie(req: Request, name: string): string | undefined {
  for (const pair of (req.headers.cookie ?? '').split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
  }
  return undefined;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * CSRF tokens and page tickets without a session, so that reading the chat stores nothing.
 *
 * Signed double submit: GET /api/page gives the browser a random nonce in an HttpOnly cookie and
 * the page `HMAC(nonce, user)`; every POST must carry it in X-CSRF-Token. Another site can make the
 * browser send the cookie but cannot read the token (nor send a custom header without CORS), and
 * cannot compute one for a nonce of its own without the key. The user id in the MAC makes a log-in
 * or log-out change the token. All pages of one browser share the token, so a visitor's first
 * line (which starts the session) does not invalidate the other open pages.
 */
@Injectable()
export class CsrfService {
  private readonly key: Buffer;

  constructor(config: ConfigService) {
    // A key of its own, derived from the cookie secret: a MAC here is never a valid one elsewhere.
    this.key = createHmac('sha256', config.getOrThrow<SampleConfig>('sample').sessionSecret).update('sample-app csrf v1').digest();
  }

  /** The browser's nonce; GET /api/page gives a browser without one a new one. */
  nonce(req: Request): string | undefined {
    const value = readCookie(req, CSRF_COOKIE);
    return value !== undefined && NONCE.test(value) ? value : undefined;
  }

  ensureNonce(req: Request, res: Response): string {
    const existing = this.nonce(req);
    if (existing) return existing;
    const nonce = randomBytes(24).toString('base64url');
    // No maxAge: gone when the browser closes; the next page load makes another.
    res.cookie(CSRF_COOKIE, nonce, { httpOnly: true, sameSite: 'lax', secure: req.secure, path: '/' });
    return nonce;
  }

  /** The token a page of this browser sends, for the user logged in (or not) in its session. */
  token(nonce: string, userId: string | undefined): string {
    return this.mac(`csrf|${nonce}|${userId ?? ''}`);
  }

  /** True when the request carries its browser's token for its session's user in X-CSRF-Token. */
  isValid(req: Request): boolean {
    const nonce = this.nonce(req);
    const given = req.get(CSRF_HEADER);
    if (!nonce || !given) return false;
    return same(given, this.token(nonce, req.session?.user?.id));
  }

  /**
   * Proof that this browser was given page `pageId`: the long task only reports to such a page, so
   * nobody can drive another visitor's progress bar, even knowing its page id (or its ticket).
   */
  pageTicket(nonce: string, pageId: string): string {
    return this.mac(`page|${nonce}|${pageId.toLowerCase()}`);
  }

  isValidPageTicket(req: Request, pageId: string, ticket: string): boolean {
    const nonce = this.nonce(req);
    return nonce !== undefined && same(ticket, this.pageTicket(nonce, pageId));
  }

  private mac(text: string): string {
    return createHmac('sha256', this.key).update(text).digest('base64url');
  }
}
