import { type ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  normalizeIp,
  ThrottlerException,
  ThrottlerGuard,
  type ThrottlerLimitDetail,
  type ThrottlerModuleOptions,
  type ThrottlerOptions,
} from '@nestjs/throttler';
import type { Request, Response } from 'express';
import { loadedSessionId } from 'nestjs-push-stream';

/**
 * How often a visitor may write, per route group. Reading (the page, subscribing) is not limited
 * here: nginx limits subscriptions per address (limit_req in the shipped configs).
 *
 * "session" counts per stored session, or per address for a visitor who has none yet (so dropping
 * the cookie does not buy a fresh budget); "address" counts everything from one client address,
 * whatever the sessions: what one machine (or one NAT) may do in total.
 */
export const RATE_LIMITS = {
  /** Chat lines, private messages, session notices: a burst of 10, then 30 a minute (every page reaches everyone). */
  chat: [
    { name: 'chat-burst', per: 'session', limit: 10, ttl: 5_000 },
    { name: 'chat-minute', per: 'session', limit: 30, ttl: 60_000 },
    { name: 'chat-address', per: 'address', limit: 120, ttl: 60_000 },
  ],
  /** Log-ins and session starts: each makes a session, and a log-in tells every logged-in page. */
  account: [{ name: 'account', per: 'address', limit: 10, ttl: 60_000 }],
  /** Long tasks: each runs for seconds and publishes 11 messages. */
  tasks: [{ name: 'tasks', per: 'session', limit: 3, ttl: 60_000 }],
} as const satisfies Record<string, ReadonlyArray<{ name: string; per: 'session' | 'address'; limit: number; ttl: number }>>;

/** Sessions one address may create (first line, session start, log-in), checked where they are made. */
export const NEW_SESSIONS = { limit: 30, ttl: 10 * 60_000 } as const;

export type RateGroup = keyof typeof RATE_LIMITS;

const RATE_GROUP = 'sample:rate-group';

/** What a 429 says, per group; the page shows it as is. */
const REFUSAL: Record<RateGroup, string> = {
  chat: 'Too many messages',
  account: 'Too many log-ins from your address',
  tasks: 'Too many long tasks',
};

/** Puts a route (or a controller) in a rate-limit group; RateLimitGuard then applies that group's limits. */
export const RateGroup = (group: RateGroup) => SetMetadata(RATE_GROUP, group);

const reflector = new Reflector();

function groupOf(context: ExecutionContext): RateGroup | undefined {
  return reflector.getAllAndOverride<RateGroup | undefined>(RATE_GROUP, [context.getHandler(), context.getClass()]);
}

/**
 * The client's address as nginx saw it (see `trust proxy` in main.ts), IPv6 grouped by /64 as
 * @nestjs/throttler does: one machine usually holds a whole /64.
 */
export function clientAddress(req: Request): string {
  return `address:${normalizeIp(req.ip ?? req.socket.remoteAddress ?? 'unknown')}`;
}

function sessionOrAddress(req: Request): string {
  const id = loadedSessionId(req);
  return id === null ? clientAddress(req) : `session:${id}`;
}

/** The named throttlers of every group; each one counts only on its own group's routes. */
export function throttlerOptions(): ThrottlerModuleOptions {
  const throttlers: ThrottlerOptions[] = Object.entries(RATE_LIMITS).flatMap(([group, limits]) =>
    limits.map(({ name, per, limit, ttl }) => ({
      name,
      limit,
      ttl,
      skipIf: (context: ExecutionContext) => groupOf(context) !== group,
      getTracker: (req: Record<string, unknown>) => (per === 'session' ? sessionOrAddress(req as unknown as Request) : clientAddress(req as unknown as Request)),
      // One budget for the whole group, not one per route (the default key names the handler).
      generateKey: (_context: ExecutionContext, tracker: string, throttler: string) => `${throttler}:${tracker}`,
    })),
  );
  return {
    throttlers,
    // Only Retry-After (set below): not one X-RateLimit-* header set per throttler on every answer.
    setHeaders: false,
    errorMessage: (context, detail) => `${REFUSAL[groupOf(context) ?? 'chat']}: try again in ${retryAfter(detail)} s`,
  };
}

function retryAfter(detail: Pick<ThrottlerLimitDetail, 'timeToBlockExpire'>): number {
  return Math.max(1, detail.timeToBlockExpire);
}

/**
 * @nestjs/throttler's guard, for the routes of a RateGroup only: not global, so nginx's auth
 * subrequests (one per subscription, /push-stream/auth) are never refused with a 429, which
 * auth_request would turn into a 500. Adds the standard Retry-After header to a 429.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  protected override async throwThrottlingException(context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    context.switchToHttp().getResponse<Response>().setHeader('Retry-After', String(retryAfter(detail)));
    throw new ThrottlerException(await this.getErrorMessage(context, detail));
  }
}
