import { jest } from '@jest/globals';
import { PushStreamClient } from '../../../lib/browser/push-stream-client.js';

/** The least the browser sees of a WebSocket: what the client uses. */
class FakeWebSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly instances: FakeWebSocket[] = [];
  readyState = FakeWebSocket.CONNECTING;
  protocol = '';
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onclose: ((e: { code: number; reason: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(readonly url: string) {
    FakeWebSocket.instances.push(this);
  }
  open(): void {
    this.readyState = FakeWebSocket.OPEN;
    this.onopen?.();
  }
  /** The server closes it, as the Push Stream Module does to its subscribers on a reload. */
  serverClose(): void {
    this.readyState = 3;
    this.onclose?.({ code: 1005, reason: '' });
  }
  close(): void {
    this.readyState = 3;
  }
}

const globals = globalThis as Record<string, unknown>;
const saved = { WebSocket: globals.WebSocket, fetch: globals.fetch };

beforeEach(() => {
  jest.useFakeTimers();
  FakeWebSocket.instances.length = 0;
  globals.WebSocket = FakeWebSocket;
});

afterEach(() => {
  jest.useRealTimers();
  jest.restoreAllMocks();
  globals.WebSocket = saved.WebSocket;
  globals.fetch = saved.fetch;
});

/** nginx keeps old workers accepting for ~100 ms after a reload closed their subscribers. */
describe('after the server ends an open subscription, the client stays out of the reload window', () => {
  it.each([
    ['default backoff, lowest jitter', undefined, 0, 300],
    ['default backoff, highest jitter', undefined, 1, 500],
    ['a tiny minDelayMs does not go below the window', { minDelayMs: 20 }, 1, 300],
  ])('WebSocket: %s', async (_name, reconnect, random, expected) => {
    jest.spyOn(Math, 'random').mockReturnValue(random);
    const client = new PushStreamClient({ url: 'http://nginx.test', server: 'push-stream', channels: ['a'], transports: ['websocket'], reconnect });
    client.connect();
    FakeWebSocket.instances[0].open();
    expect(client.state).toBe('open');
    FakeWebSocket.instances[0].serverClose();
    expect(client.state).toBe('reconnecting');
    await jest.advanceTimersByTimeAsync(expected - 1);
    expect(FakeWebSocket.instances).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(FakeWebSocket.instances).toHaveLength(2);
    client.close();
  });

  it('long polling: a 304 (what push-stream answers waiting polls on a reload) is followed by a pause', async () => {
    jest.spyOn(Math, 'random').mockReturnValue(0);
    const polls: string[] = [];
    globals.fetch = jest.fn(async (url: string) => {
      polls.push(url);
      return new Response(null, { status: 304 });
    });
    const client = new PushStreamClient({ url: 'http://nginx.test', server: 'push-stream', channels: ['a'], transports: ['longpolling'] });
    client.connect();
    await jest.advanceTimersByTimeAsync(0);
    expect(polls).toHaveLength(1);
    expect(client.state).toBe('open');
    await jest.advanceTimersByTimeAsync(299);
    expect(polls).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(polls).toHaveLength(2);
    client.close();
  });
});
