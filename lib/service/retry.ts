import { PushStreamError } from '../errors/push-stream.exception.js';
import type { RetryPolicy } from '../options/push-stream-options.interface.js';

export type Sleep = (ms: number) => Promise<void>;

export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether a failed attempt (1-based) should be tried again under `policy`. */
export function shouldRetry(error: unknown, attempt: number, policy: RetryPolicy): boolean {
  return attempt < policy.attempts && error instanceof PushStreamError && error.retryable;
}

/**
 * Delay before attempt `attempt + 1`: exponential with full jitter, so many publishers that
 * failed together (nginx restarting) do not come back in lock-step.
 */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling * random());
}

/** Runs `operation` until it succeeds, fails with a non-retryable error, or runs out of attempts. */
export async function withRetry<T>(operation: () => Promise<T>, policy: RetryPolicy, sleep: Sleep): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (!shouldRetry(error, attempt, policy)) throw error;
      await sleep(backoffDelay(attempt, policy));
    }
  }
}
