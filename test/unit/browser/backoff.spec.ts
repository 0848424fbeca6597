import fc from 'fast-check';
import { backoffDelay } from '../../../lib/browser/backoff.js';

describe('backoffDelay', () => {
  it('grows exponentially within [step/2, step], capped', () => {
    const opts = { minDelayMs: 500, maxDelayMs: 10_000 };
    expect(backoffDelay(0, opts, () => 0)).toBe(250);
    expect(backoffDelay(0, opts, () => 1)).toBe(500);
    expect(backoffDelay(3, opts, () => 1)).toBe(4000);
    expect(backoffDelay(10, opts, () => 1)).toBe(10_000);
    expect(backoffDelay(1000, opts, () => 0.5)).toBe(7500);
  });
  it('always between min/2 and max', () => {
    fc.assert(
      fc.property(fc.nat(100), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 0, max: 60000 }), (n, r, min, extra) => {
        const d = backoffDelay(n, { minDelayMs: min, maxDelayMs: min + extra }, () => r);
        return d >= Math.floor(min / 2) && d <= min + extra;
      }),
    );
  });
});
