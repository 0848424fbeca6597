/** Reconnect delays: exponential, capped, with jitter. Pure; `random` is injectable for tests. */
export interface BackoffOptions {
  /** First delay. Default 500 ms. */
  minDelayMs?: number;
  /** Cap. Default 10 000 ms. */
  maxDelayMs?: number;
}

export const DEFAULT_MIN_DELAY_MS = 500;
export const DEFAULT_MAX_DELAY_MS = 10_000;

/**
 * Delay before reconnect attempt `attempt` (0 = first retry): the exponential step
 * `min * 2^attempt`, capped at `max`, then "equal jitter" — uniformly in [step/2, step] — so that a
 * crowd of browsers dropped by one nginx restart does not come back in lockstep, while the delay
 * never falls below half the step.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const min = Math.max(0, options.minDelayMs ?? DEFAULT_MIN_DELAY_MS);
  const max = Math.max(min, options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS);
  const step = Math.min(max, min * 2 ** Math.max(0, Math.min(attempt, 30)));
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(step / 2 + (step / 2) * r);
}
