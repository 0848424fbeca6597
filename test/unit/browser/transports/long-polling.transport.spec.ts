import { jest } from '@jest/globals';
import { longPollingTransport } from '../../../../lib/browser/transports/long-polling.transport.js';
import { fakeContext, recordingDialect } from './fake-context.js';

const globals = globalThis as Record<string, unknown>;
const savedFetch = globals.fetch;

beforeEach(() => jest.useFakeTimers());
afterEach(() => {
  jest.useRealTimers();
  globals.fetch = savedFetch;
});

/** fetch answering from `answers` in turn, then pending until aborted. */
function fakeFetch(answers: Array<() => Response>) {
  const fetch = jest.fn((_url: string, init?: RequestInit) => {
    const next = answers.shift();
    if (next) return Promise.resolve(next());
    return new Promise<Response>((_resolve, reject) => {
      init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
    });
  });
  globals.fetch = fetch;
  return fetch;
}

describe('longPollingTransport (server-neutral: statuses and ids come from the dialect)', () => {
  it('decodes a 200 body with the meta the dialect reads from the headers, and polls again with a new URL', async () => {
    const { dialect, calls } = recordingDialect();
    const fetch = fakeFetch([() => new Response('body-1', { status: 200, headers: { 'x-id': 'id-1' } })]);
    const ctx = fakeContext(dialect);
    const stop = longPollingTransport.open(ctx);
    await jest.advanceTimersByTimeAsync(0);
    expect(calls.decode).toEqual([['body-1', { id: 'id-1', eventType: '' }, ['c']]]);
    expect(ctx.onOpen).toHaveBeenCalled();
    expect(ctx.onFrame).toHaveBeenCalledTimes(1);
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(ctx.url).toHaveBeenCalledTimes(2);
    // The client retires the attempt (isCurrent() false) before stopping it: the abort is not an end.
    ctx.isCurrent.mockReturnValue(false);
    stop();
    await jest.advanceTimersByTimeAsync(0);
    expect(ctx.onEnd).not.toHaveBeenCalled();
  });

  it('"no-message": open, pause noMessagePauseMs, poll again', async () => {
    const { dialect } = recordingDialect();
    const fetch = fakeFetch([() => new Response(null, { status: 299 })]);
    const ctx = fakeContext(dialect, { pauseMs: 250 });
    const stop = longPollingTransport.open(ctx);
    await jest.advanceTimersByTimeAsync(0);
    expect(ctx.onOpen).toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(249);
    expect(fetch).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(fetch).toHaveBeenCalledTimes(2);
    stop();
  });

  it('an answer that brought nothing new (only repeats) pauses noMessagePauseMs before the next poll, not a tight loop into limit_req', async () => {
    const { dialect } = recordingDialect();
    const fetch = fakeFetch([() => new Response('repeats', { status: 200 }), () => new Response('repeats', { status: 200 })]);
    const ctx = fakeContext(dialect, { pauseMs: 250 });
    ctx.onFrame.mockReturnValue(false);
    const stop = longPollingTransport.open(ctx);
    await jest.advanceTimersByTimeAsync(0);
    expect(fetch).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(249);
    expect(fetch).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(fetch).toHaveBeenCalledTimes(2);
    stop();
  });

  it('"ended": reports the status and stops polling', async () => {
    const { dialect } = recordingDialect();
    const fetch = fakeFetch([() => new Response('refused', { status: 403 })]);
    const ctx = fakeContext(dialect);
    longPollingTransport.open(ctx);
    await jest.advanceTimersByTimeAsync(0);
    expect(ctx.onEnd).toHaveBeenCalledWith({ status: 403, reason: 'HTTP 403' });
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(ctx.onOpen).not.toHaveBeenCalled();
  });

  it('before each poll after the first, waits for what beforeNextRequest() returns (the client renewing a ticket), then checks it is still current', async () => {
    const { dialect } = recordingDialect();
    const fetch = fakeFetch([() => new Response('body-1', { status: 200 }), () => new Response('body-2', { status: 200 })]);
    let release!: () => void;
    const hook = jest.fn((): Promise<void> | undefined => (hook.mock.calls.length === 1 ? new Promise<void>((r) => (release = r)) : undefined));
    const ctx = fakeContext(dialect, { beforeNextRequest: hook });
    const stop = longPollingTransport.open(ctx);
    await jest.advanceTimersByTimeAsync(0);
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(hook).toHaveBeenCalledTimes(1);
    expect(ctx.url).toHaveBeenCalledTimes(1); // the URL is built after the wait, with what it renewed
    release();
    await jest.advanceTimersByTimeAsync(0);
    expect(fetch).toHaveBeenCalledTimes(3);
    expect(hook).toHaveBeenCalledTimes(2);
    ctx.isCurrent.mockReturnValue(false);
    stop();
  });

  it('an attempt ended while beforeNextRequest() was pending sends no further poll', async () => {
    const { dialect } = recordingDialect();
    const fetch = fakeFetch([() => new Response('body-1', { status: 200 })]);
    let release!: () => void;
    const ctx = fakeContext(dialect, { beforeNextRequest: () => new Promise<void>((r) => (release = r)) });
    longPollingTransport.open(ctx);
    await jest.advanceTimersByTimeAsync(0);
    ctx.isCurrent.mockReturnValue(false);
    release();
    await jest.advanceTimersByTimeAsync(0);
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(ctx.onEnd).not.toHaveBeenCalled();
  });

  it('a pending poll never counts as open (nginx holds it while a slow auth_request waits)', async () => {
    const { dialect } = recordingDialect();
    fakeFetch([]);
    const ctx = fakeContext(dialect);
    const stop = longPollingTransport.open(ctx);
    await jest.advanceTimersByTimeAsync(60_000);
    expect(ctx.onOpen).not.toHaveBeenCalled();
    expect(ctx.onEnd).not.toHaveBeenCalled();
    ctx.isCurrent.mockReturnValue(false);
    stop();
  });

  it('a poll answered 500 after 2 s (a slow, failing auth) ends the attempt without ever opening it', async () => {
    const { dialect } = recordingDialect();
    let answer!: (res: Response) => void;
    globals.fetch = jest.fn(() => new Promise<Response>((resolve) => (answer = resolve)));
    const ctx = fakeContext(dialect);
    longPollingTransport.open(ctx);
    await jest.advanceTimersByTimeAsync(2000);
    answer(new Response('auth failed', { status: 500 }));
    await jest.advanceTimersByTimeAsync(0);
    expect(ctx.onOpen).not.toHaveBeenCalled();
    expect(ctx.onEnd).toHaveBeenCalledWith({ status: 500, reason: 'HTTP 500' });
  });

  it('opens on the first answer that shows the subscription: a body of messages, or "no message"', async () => {
    for (const status of [200, 299]) {
      const { dialect } = recordingDialect();
      let answer!: (res: Response) => void;
      globals.fetch = jest.fn(
        (_url: string, init?: RequestInit) =>
          new Promise<Response>((resolve, reject) => {
            answer = resolve;
            init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
          }),
      );
      const ctx = fakeContext(dialect, { pauseMs: 10 });
      const stop = longPollingTransport.open(ctx);
      await jest.advanceTimersByTimeAsync(5000);
      expect(ctx.onOpen).not.toHaveBeenCalled();
      answer(new Response(status === 200 ? 'body' : null, { status }));
      await jest.advanceTimersByTimeAsync(0);
      expect(ctx.onOpen).toHaveBeenCalledTimes(1);
      ctx.isCurrent.mockReturnValue(false);
      stop();
    }
  });
});
