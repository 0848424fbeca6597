import { jest } from '@jest/globals';
import { PushStreamClient, type PushStreamClientOptions, type PushStreamMessage } from '../../../lib/browser/push-stream-client.js';
import { REORDER_WAIT_MS } from '../../../lib/browser/resume-tracker.js';
import { FakeWebSocket } from './support/fake-websocket.js';

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

/** Records the client's events. */
function record(client: PushStreamClient) {
  const log = { messages: [] as PushStreamMessage[], deleted: [] as string[], errors: [] as string[], states: [] as string[] };
  client.addEventListener('message', (e) => log.messages.push(e.detail));
  client.addEventListener('channel-deleted', (e) => log.deleted.push(e.detail.channel));
  client.addEventListener('error', (e) => log.errors.push(e.detail.message));
  client.addEventListener('state', (e) => log.states.push(e.detail.state));
  return log;
}

/** A fetch that answers from `answers` in turn, then stays pending until aborted. */
function fakeFetch(answers: Array<() => Response>) {
  const urls: string[] = [];
  const fetch = jest.fn((url: string, init?: RequestInit) => {
    urls.push(url);
    const next = answers.shift();
    if (next) return Promise.resolve(next());
    return new Promise<Response>((_resolve, reject) => {
      init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
    });
  });
  globals.fetch = fetch;
  return { fetch, urls };
}

describe('a channel set nginx or the app would refuse is refused at construction, before any request', () => {
  const names = (n: number, length = 8) => Array.from({ length: n }, (_, i) => `c${i}`.padEnd(length, 'x'));
  let fetchSpy: ReturnType<typeof fakeFetch>;
  beforeEach(() => {
    fetchSpy = fakeFetch([]);
  });
  afterEach(() => {
    expect(fetchSpy.fetch).not.toHaveBeenCalled();
    expect(FakeWebSocket.instances).toHaveLength(0);
  });
  const make = (options: Partial<PushStreamClientOptions>) => () =>
    new PushStreamClient({ url: 'http://nginx.test', server: 'nchan', channels: ['a'], ...options }).connect();

  it.each(['nchan', 'push-stream'] as const)('%s: more than maxChannels (default 16, as auth.maxChannelsPerRequest)', (server) => {
    expect(make({ server, channels: names(17) })).toThrow(new RangeError(
      'PushStreamClient: 17 channels, more than maxChannels (16): the auth endpoint refuses more than its auth.maxChannelsPerRequest in one subscription',
    ));
    expect(make({ server, channels: names(5), maxChannels: 4 })).toThrow(/more than maxChannels \(4\)/);
  });

  it('duplicates count once', () => {
    const channels = [...names(16), 'c0xxxxxx'];
    expect(() => new PushStreamClient({ url: 'http://nginx.test', server: 'nchan', channels }).subscribedChannels).not.toThrow();
    expect(new PushStreamClient({ url: 'http://nginx.test', server: 'nchan', channels }).subscribedChannels).toHaveLength(16);
  });

  it.each(['nchan', 'push-stream'] as const)('%s: invalid and reserved names are TypeErrors', (server) => {
    expect(make({ server, channels: ['a/b'] })).toThrow(new TypeError('PushStreamClient: invalid channel name "a/b" (allowed: A-Z a-z 0-9 _ -)'));
    expect(make({ server, channels: ['a', 'b*'] })).toThrow(TypeError);
    expect(make({ server, channels: ['ALL'] })).toThrow(/"ALL" is reserved/);
    expect(make({ server, channels: [] })).toThrow(new TypeError('PushStreamClient: channels must be a non-empty array'));
  });

  it.each(['nchan', 'push-stream'] as const)('%s: a name longer than maxChannelNameLength (default 128)', (server) => {
    expect(make({ server, channels: names(1, 129) })).toThrow(/129 characters, more than maxChannelNameLength \(128\)/);
    expect(make({ server, channels: names(1, 20), maxChannelNameLength: 10 })).toThrow(RangeError);
  });

  it('Nchan: a joined id over nchan_max_channel_id_length (2063) even when the app allows the count', () => {
    expect(make({ server: 'nchan', channels: names(17, 128), maxChannels: 32 })).toThrow(/nchan_max_channel_id_length/);
    // push-stream has no limit on the whole path: the same set is fine there.
    expect(() => new PushStreamClient({ url: 'http://nginx.test', server: 'push-stream', channels: names(17, 128), maxChannels: 32 })).not.toThrow();
  });

  it('push-stream: a name over push_stream_max_channel_id_length (128) even when the app allows longer names', () => {
    expect(make({ server: 'push-stream', channels: names(1, 129), maxChannelNameLength: 200 })).toThrow(/push_stream_max_channel_id_length/);
    expect(() => new PushStreamClient({ url: 'http://nginx.test', server: 'nchan', channels: names(1, 129), maxChannelNameLength: 200 })).not.toThrow();
  });

  it('bad limits, servers and transports', () => {
    expect(make({ maxChannels: 0 })).toThrow(new RangeError('PushStreamClient: maxChannels must be a whole number from 1 to 255, got 0'));
    expect(make({ maxChannels: 256 })).toThrow(RangeError);
    expect(make({ maxChannelNameLength: 1.5 })).toThrow(RangeError);
    expect(make({ server: 'redis' as never })).toThrow(new TypeError("PushStreamClient: server must be 'nchan' or 'push-stream', got redis"));
    expect(make({ transports: ['sse' as never] })).toThrow(/unknown transport "sse"/);
  });
});

describe('the dialect drives URLs, subprotocol, decoding and deleted channels', () => {
  it('push-stream: .bN history on the first join only, then ?tag=&time= (%-encoded) of the newest message', () => {
    const client = new PushStreamClient({ url: 'http://nginx.test/', server: 'push-stream', channels: ['a', 'b'], backtrack: { a: 5 }, transports: ['websocket'] });
    expect(client.subscriberUrl('websocket')).toBe('ws://nginx.test/ws/a.b5/b');
    expect(client.subscriberUrl('longpolling')).toBe('http://nginx.test/lp/a.b5/b');
    const log = record(client);
    client.connect();
    const ws = FakeWebSocket.instances[0];
    expect(ws.protocols).toBeUndefined();
    ws.open();
    ws.receive('{"id":7,"channel":"a","text":{"n":1},"eventid":"","type":"","time":"Tue, 24 Nov 2026 19:24:06 GMT","tag":2}');
    expect(log.messages).toEqual([{ channel: 'a', data: { n: 1 }, eventId: '', eventType: '', id: '7', transport: 'websocket' }]);
    expect(client.subscriberUrl('eventsource')).toBe('http://nginx.test/ev/a/b?tag=2&time=Tue%2C%2024%20Nov%202026%2019%3A24%3A06%20GMT');
    client.close();
  });

  it('push-stream: a deleted channel is dropped and the connection kept', () => {
    const client = new PushStreamClient({ url: 'http://nginx.test', server: 'push-stream', channels: ['a', 'b'], transports: ['websocket'] });
    const log = record(client);
    client.connect();
    FakeWebSocket.instances[0].open();
    FakeWebSocket.instances[0].receive('{"id":-2,"channel":"b","text":"Channel deleted","eventid":"","type":"","time":"x","tag":0}');
    expect(log.deleted).toEqual(['b']);
    expect(client.subscribedChannels).toEqual(['a']);
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(client.state).toBe('open');
    client.close();
  });

  it('Nchan: asks ws+meta.nchan, reads ids from the frames, resubscribes without a deleted channel', () => {
    const client = new PushStreamClient({ url: 'https://nginx.test', server: 'nchan', channels: ['a', 'b'], backtrack: { a: 5 }, transports: ['websocket'] });
    const log = record(client);
    client.connect();
    const ws = FakeWebSocket.instances[0];
    expect(ws.url).toBe('wss://nginx.test/ws/a/b');
    expect(ws.protocols).toBe('ws+meta.nchan');
    ws.open('ws+meta.nchan');
    ws.receive('id: 1795617914:0,[1]\ncontent-type: application/json\n\n{"channel":"a/b","text":{"n":1},"eventid":"","type":""}');
    expect(log.messages).toEqual([{ channel: 'b', data: { n: 1 }, eventId: '', eventType: '', id: '1795617914:0,[1]', transport: 'websocket' }]);
    ws.receive('id: 1795617915:[2],1\ncontent-type: application/json\n\n{"id":-2,"channel":"a","text":"Channel deleted","eventid":"","type":""}');
    expect(log.deleted).toEqual(['a']);
    expect(FakeWebSocket.instances).toHaveLength(2);
    expect(FakeWebSocket.instances[1].url).toBe('wss://nginx.test/ws/b');
    client.close();
  });

  it('Nchan long polling: chains last_event_id from Last-Modified + Etag; a 410 ends the poll and the client reconnects from the buffers (no id)', async () => {
    jest.spyOn(Math, 'random').mockReturnValue(0);
    const lastModified = 'Wed, 25 Nov 2026 14:56:36 GMT';
    const id = `${Date.parse(lastModified) / 1000}:[0],-`;
    const { urls } = fakeFetch([
      () => new Response('{"channel":"a","text":{"n":1},"eventid":"e1","type":"chat"}', { status: 200, headers: { 'last-modified': lastModified, etag: '[0],-' } }),
      () => new Response(null, { status: 410 }),
    ]);
    const client = new PushStreamClient({ url: 'http://nginx.test', server: 'nchan', channels: ['a', 'b'], transports: ['longpolling'] });
    const log = record(client);
    client.connect();
    await jest.advanceTimersByTimeAsync(0);
    expect(log.messages).toEqual([{ channel: 'a', data: { n: 1 }, eventId: 'e1', eventType: 'chat', id, transport: 'longpolling' }]);
    expect(urls.slice(0, 2)).toEqual(['http://nginx.test/lp/a/b', `http://nginx.test/lp/a/b?last_event_id=${encodeURIComponent(id)}`]);
    expect(log.errors).toEqual(['longpolling closed: HTTP 410']);
    expect(client.state).toBe('reconnecting');
    await jest.advanceTimersByTimeAsync(300);
    expect(urls[2]).toBe('http://nginx.test/lp/a/b');
    client.close();
  });
});

describe('long polling against a failing, slow auth (nginx answers 500 after 2 s)', () => {
  it('is never open and backs off between attempts as the policy says', async () => {
    jest.spyOn(Math, 'random').mockReturnValue(0);
    const at: number[] = [];
    const start = Date.now();
    globals.fetch = jest.fn(() => {
      at.push(Date.now() - start);
      return new Promise<Response>((resolve) => setTimeout(() => resolve(new Response('', { status: 500 })), 2000));
    });
    const client = new PushStreamClient({ url: 'http://nginx.test', server: 'push-stream', channels: ['a'], transports: ['longpolling'] });
    const states: string[] = [];
    client.addEventListener('state', (e) => states.push(e.detail.state));
    client.connect();
    await jest.advanceTimersByTimeAsync(40_000);
    client.close();
    expect(states).not.toContain('open');
    // Each attempt: 2 s for nginx's answer, then the backoff (lowest jitter: 250 ms * 2^n, capped at 5 s).
    expect(at.slice(1).map((t, i) => t - at[i])).toEqual([2250, 2500, 3000, 4000, 6000, 7000, 7000, 7000]);
  });
});

describe('the gap event', () => {
  const psFrame = (id: number, second = 6) =>
    `{"id":${id},"channel":"a","text":{"n":${id}},"eventid":"e${second}-${id}","type":"","time":"Tue, 24 Nov 2026 19:24:${String(second).padStart(2, '0')} GMT","tag":${id}}`;
  /** Messages and gaps in the order the page sees them. */
  function timeline(client: PushStreamClient) {
    const events: string[] = [];
    client.addEventListener('message', (e) => events.push(`message ${e.detail.id}`));
    client.addEventListener('gap', (e) => events.push(`gap ${JSON.stringify(e.detail)}`));
    return events;
  }
  const gap = (detail: Record<string, unknown>) => `gap ${JSON.stringify(detail)}`;
  const latest = () => FakeWebSocket.instances[FakeWebSocket.instances.length - 1];
  /** The server ends the open subscription; the next attempt opens (`reachable`) or first fails once. */
  async function reconnect(reachable: boolean): Promise<void> {
    const count = FakeWebSocket.instances.length;
    latest().serverClose();
    await jest.advanceTimersByTimeAsync(10_000);
    expect(FakeWebSocket.instances).toHaveLength(count + 1);
    if (!reachable) {
      latest().serverClose(); // fails to open; the probe cannot connect either: nginx down
      await jest.advanceTimersByTimeAsync(10_000);
      expect(FakeWebSocket.instances).toHaveLength(count + 2);
    }
    latest().open();
  }
  beforeEach(() => {
    jest.spyOn(Math, 'random').mockReturnValue(0);
    globals.fetch = jest.fn(() => Promise.reject(new TypeError('Failed to fetch')));
  });

  it('overrun: emitted once the missing numbers did not come within the wait (they may come out of order), with the count, even right after a reload', async () => {
    const client = new PushStreamClient({ url: 'http://nginx.test', server: 'push-stream', channels: ['a'], transports: ['websocket'] });
    const events = timeline(client);
    client.connect();
    latest().open();
    latest().receive(psFrame(1));
    latest().receive(psFrame(2));
    await reconnect(true);
    latest().receive(psFrame(8, 9));
    latest().receive(psFrame(9, 9));
    expect(events).toEqual(['message 1', 'message 2', 'message 8', 'message 9']);
    await jest.advanceTimersByTimeAsync(REORDER_WAIT_MS);
    expect(events.slice(4)).toEqual([
      gap({ channel: 'a', reason: 'overrun', certain: true, missed: 5, lastSeen: { id: '2', eventId: 'e6-2' }, next: { id: '8', eventId: 'e9-8' }, transport: 'websocket' }),
    ]);
    client.close();
  });

  it('push-stream with several workers: messages out of order are each delivered, with no gap', async () => {
    const client = new PushStreamClient({ url: 'http://nginx.test', server: 'push-stream', channels: ['a'], transports: ['websocket'] });
    const events = timeline(client);
    client.connect();
    latest().open();
    for (const n of [1, 3, 2, 5, 4, 6]) latest().receive(psFrame(n));
    await jest.advanceTimersByTimeAsync(10 * REORDER_WAIT_MS);
    expect(events).toEqual(['message 1', 'message 3', 'message 2', 'message 5', 'message 4', 'message 6']);
    client.close();
  });

  it('long polling: a poll answered with a later number resumes the next poll from before the missing one, which comes then', async () => {
    const body = (...ns: number[]) => () => new Response(ns.map((n) => psFrame(n)).join('\n'), { status: 200 });
    const urls: string[] = [];
    const answers = [body(1, 3), body(2, 3), body(4)];
    globals.fetch = jest.fn((url: string, init?: RequestInit) => {
      urls.push(url);
      const next = answers.shift();
      if (next) return Promise.resolve(next());
      return new Promise<Response>((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))));
    });
    const client = new PushStreamClient({ url: 'http://nginx.test', server: 'push-stream', channels: ['a'], transports: ['longpolling'] });
    const events = timeline(client);
    client.connect();
    await jest.advanceTimersByTimeAsync(10 * REORDER_WAIT_MS);
    const time = encodeURIComponent('Tue, 24 Nov 2026 19:24:06 GMT');
    expect(urls).toEqual(['http://nginx.test/lp/a', `http://nginx.test/lp/a?tag=1&time=${time}`, `http://nginx.test/lp/a?tag=3&time=${time}`, `http://nginx.test/lp/a?tag=4&time=${time}`]);
    expect(events).toEqual(['message 1', 'message 3', 'message 2', 'message 4']);
    client.close();
  });

  it('no gap event after close(); a number still missing is reported after the wait on the next connection', async () => {
    const client = new PushStreamClient({ url: 'http://nginx.test', server: 'push-stream', channels: ['a'], transports: ['websocket'] });
    const events = timeline(client);
    client.connect();
    latest().open();
    latest().receive(psFrame(1));
    latest().receive(psFrame(3));
    client.close();
    await jest.advanceTimersByTimeAsync(60_000);
    expect(events).toEqual(['message 1', 'message 3']);
    client.connect();
    latest().open();
    await jest.advanceTimersByTimeAsync(REORDER_WAIT_MS);
    expect(events.slice(2)).toEqual([expect.stringMatching(/^gap .*"missed":1/)]);
    client.close();
  });

  it('a store numbered anew right after the server ended an open subscription (reload, restart) is no gap', async () => {
    const client = new PushStreamClient({ url: 'http://nginx.test', server: 'push-stream', channels: ['a'], transports: ['websocket'] });
    const events = timeline(client);
    client.connect();
    latest().open();
    latest().receive(psFrame(1));
    latest().receive(psFrame(2));
    await reconnect(true);
    latest().receive(psFrame(1, 9));
    expect(events).toEqual(['message 1', 'message 2', 'message 1']);
    client.close();
  });

  it('a store numbered anew after a failed attempt (nginx down, or this page offline) is a possible gap', async () => {
    const client = new PushStreamClient({ url: 'http://nginx.test', server: 'push-stream', channels: ['a'], transports: ['websocket'] });
    const events = timeline(client);
    client.connect();
    latest().open();
    latest().receive(psFrame(1));
    latest().receive(psFrame(2));
    await reconnect(false);
    latest().receive(psFrame(1, 9));
    latest().receive(psFrame(2, 9));
    expect(events).toEqual([
      'message 1',
      'message 2',
      gap({ channel: 'a', reason: 'store-reset', certain: false, missed: null, lastSeen: { id: '2', eventId: 'e6-2' }, next: { id: '1', eventId: 'e9-1' }, transport: 'websocket' }),
      'message 1',
      'message 2',
    ]);
    client.close();
  });

  it('Nchan, close() then connect(): resumes from the buffer (no last_event_id); a buffer past the last message is a gap', () => {
    const nchanFrame = (id: string, n: number) => `id: ${id}\ncontent-type: application/json\n\n{"channel":"a","text":{"n":${n}},"eventid":"","type":""}`;
    const client = new PushStreamClient({ url: 'http://nginx.test', server: 'nchan', channels: ['a'], transports: ['websocket'] });
    const events = timeline(client);
    client.connect();
    latest().open('ws+meta.nchan');
    latest().receive(nchanFrame('1795668410:0', 1));
    client.close();
    client.connect();
    expect(latest().url).toBe('ws://nginx.test/ws/a');
    latest().open('ws+meta.nchan');
    latest().receive(nchanFrame('1795668412:0', 5));
    latest().receive(nchanFrame('1795668412:1', 6));
    expect(events).toEqual([
      'message 1795668410:0',
      gap({ channel: 'a', reason: 'unknown', certain: false, missed: null, lastSeen: { id: '1795668410:0', eventId: '' }, next: { id: '1795668412:0', eventId: '' }, transport: 'websocket' }),
      'message 1795668412:0',
      'message 1795668412:1',
    ]);
    client.close();
  });

  it('Nchan long polling: a store renumbered between two polls of a live chain (a reload) is no gap; one that proves a loss is', async () => {
    const lastModified = 'Wed, 25 Nov 2026 14:56:36 GMT';
    const answer = (tag: number, n: number) => () =>
      new Response(`{"channel":"a","text":{"n":${n}},"eventid":"","type":""}`, { status: 200, headers: { 'last-modified': lastModified, etag: String(tag) } });
    const id = (tag: number) => `${Date.parse(lastModified) / 1000}:${tag}`;
    fakeFetch([answer(5, 1), answer(0, 2), answer(1, 3), answer(4, 4)]);
    const client = new PushStreamClient({ url: 'http://nginx.test', server: 'nchan', channels: ['a'], transports: ['longpolling'] });
    const events = timeline(client);
    client.connect();
    await jest.advanceTimersByTimeAsync(0);
    expect(events).toEqual([
      `message ${id(5)}`,
      `message ${id(0)}`, // the new store's first message, after a reload between the polls
      `message ${id(1)}`,
      gap({ channel: 'a', reason: 'overrun', certain: true, missed: 2, lastSeen: { id: id(1), eventId: '' }, next: { id: id(4), eventId: '' }, transport: 'longpolling' }),
      `message ${id(4)}`,
    ]);
    client.close();
  });

  it('a page that closes the client on a gap gets no message after it', () => {
    const client = new PushStreamClient({ url: 'http://nginx.test', server: 'push-stream', channels: ['a'], transports: ['websocket'] });
    const events = timeline(client);
    client.addEventListener('gap', () => client.close());
    client.connect();
    latest().open();
    latest().receive(psFrame(1));
    // A jump wider than the reorder window is reported at once, before its message.
    latest().receive(psFrame(100));
    expect(events).toEqual(['message 1', expect.stringMatching(/^gap .*"missed":98/)]);
  });
});
