import {
  InvalidChannelNameError,
  MessageTooLargeError,
  PushStreamConnectionError,
  PushStreamHttpError,
  PushStreamProtocolError,
  PushStreamTimeoutError,
} from '../../lib/errors/index.js';
import type { RetryPolicy } from '../../lib/options/index.js';
import { backoffDelay, realSleep, shouldRetry, withRetry } from '../../lib/service/retry.js';

const policy: RetryPolicy = { attempts: 4, baseDelayMs: 100, maxDelayMs: 1000 };

describe('shouldRetry', () => {
  const retryable = [
    new PushStreamConnectionError('http://x/pub', Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })),
    new PushStreamTimeoutError('http://x/pub', 10),
    new PushStreamHttpError('publish', 500),
    new PushStreamHttpError('publish', 502),
    new PushStreamHttpError('publish', 503),
  ];
  const final = [
    new PushStreamHttpError('publish', 400, { explain: 'Empty post requests are not allowed.' }),
    new PushStreamHttpError('publish', 403, { explain: 'Channel id not authorized for this method.' }),
    new PushStreamHttpError('publish', 404),
    new PushStreamHttpError('publish', 413),
    new PushStreamProtocolError('publish', 'body is not JSON'),
    new InvalidChannelNameError('a/b', 'bad'),
    new MessageTooLargeError(70000, 65536, ['c']),
    new Error('not ours'),
    'a string',
    undefined,
  ];

  it.each(retryable.map((e) => [e.message, e]))('retries %s while attempts remain', (_m, error) => {
    expect(shouldRetry(error, 1, policy)).toBe(true);
    expect(shouldRetry(error, 3, policy)).toBe(true);
    expect(shouldRetry(error, 4, policy)).toBe(false); // the 4th attempt was the last
    expect(shouldRetry(error, 1, { ...policy, attempts: 1 })).toBe(false);
  });

  it.each(final.map((e) => [String(e instanceof Error ? e.message : e), e]))('never retries %s', (_m, error) => {
    expect(shouldRetry(error, 1, policy)).toBe(false);
  });

  it('5xx errors are flagged retryable, 4xx not', () => {
    expect(new PushStreamHttpError('publish', 500).retryable).toBe(true);
    expect(new PushStreamHttpError('publish', 499).retryable).toBe(false);
  });
});

describe('backoffDelay (exponential, full jitter, capped)', () => {
  it('is 0 with random() = 0 and the full ceiling with random() -> 1', () => {
    expect(backoffDelay(1, policy, () => 0)).toBe(0);
    expect(backoffDelay(1, policy, () => 0.999999)).toBe(100);
    expect(backoffDelay(2, policy, () => 0.999999)).toBe(200);
    expect(backoffDelay(3, policy, () => 0.999999)).toBe(400);
    expect(backoffDelay(4, policy, () => 0.999999)).toBe(800);
    expect(backoffDelay(5, policy, () => 0.999999)).toBe(1000); // capped at maxDelayMs
    expect(backoffDelay(30, policy, () => 0.999999)).toBe(1000);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(200);
  });

  it('stays within [0, min(max, base * 2^(attempt-1))] with Math.random', () => {
    for (let attempt = 1; attempt <= 8; attempt++) {
      const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
      const delays = Array.from({ length: 200 }, () => backoffDelay(attempt, policy));
      for (const d of delays) {
        expect(Number.isInteger(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(ceiling);
      }
      expect(new Set(delays).size).toBeGreaterThan(1); // jittered, not lock-step
    }
  });

  it('is 0 with a zero base delay', () => {
    expect(backoffDelay(3, { attempts: 3, baseDelayMs: 0, maxDelayMs: 1000 })).toBe(0);
  });
});

describe('withRetry', () => {
  const instant = () => {
    const delays: number[] = [];
    return { delays, sleep: async (ms: number) => void delays.push(ms) };
  };

  it('returns the first success without sleeping', async () => {
    const { delays, sleep } = instant();
    let calls = 0;
    await expect(withRetry(async () => ++calls, policy, sleep)).resolves.toBe(1);
    expect([calls, delays]).toEqual([1, []]);
  });

  it('retries a retryable failure and returns the later success', async () => {
    const { delays, sleep } = instant();
    let calls = 0;
    const result = await withRetry(
      async () => {
        calls++;
        if (calls < 3) throw new PushStreamHttpError('publish', 500);
        return 'ok';
      },
      policy,
      sleep,
    );
    expect([result, calls, delays.length]).toEqual(['ok', 3, 2]);
    expect(delays[0]).toBeLessThanOrEqual(100);
    expect(delays[1]).toBeLessThanOrEqual(200);
  });

  it('makes exactly `attempts` attempts, then throws the last error', async () => {
    const { delays, sleep } = instant();
    let calls = 0;
    const last = new PushStreamTimeoutError('http://x/pub', 5);
    await expect(
      withRetry(
        async () => {
          calls++;
          throw calls === policy.attempts ? last : new PushStreamConnectionError('http://x/pub', new Error('x'));
        },
        policy,
        sleep,
      ),
    ).rejects.toBe(last);
    expect(calls).toBe(4);
    expect(delays).toHaveLength(3);
  });

  it('does not retry a non-retryable failure', async () => {
    const { delays, sleep } = instant();
    let calls = 0;
    const forbidden = new PushStreamHttpError('publish', 403, { explain: 'Channel id not authorized for this method.' });
    await expect(
      withRetry(
        async () => {
          calls++;
          throw forbidden;
        },
        policy,
        sleep,
      ),
    ).rejects.toBe(forbidden);
    expect([calls, delays.length]).toEqual([1, 0]);
  });

  it('attempts: 1 disables retrying', async () => {
    const { sleep } = instant();
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new PushStreamHttpError('publish', 500);
        },
        { ...policy, attempts: 1 },
        sleep,
      ),
    ).rejects.toMatchObject({ status: 500, retryable: true });
    expect(calls).toBe(1);
  });

  it('realSleep waits about the given time', async () => {
    const start = Date.now();
    await realSleep(30);
    expect(Date.now() - start).toBeGreaterThanOrEqual(25);
  });
});
