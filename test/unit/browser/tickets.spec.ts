// Signed subscription tickets in the browser client (the `ticket` and `getTicket` options): URLs on
// both servers and every transport, renewal before connecting, on reconnects and between long
// polls, null → denied, rejection → backoff, one more ticket after a refusal. No sockets: the
// browser APIs are fakes and the clock is Jest's.
import { jest } from '@jest/globals';
import { PushStreamClient, type PushStreamClientOptions } from '../../../lib/browser/push-stream-client.js';
import { ticketExpiry } from '../../../lib/shared/push-stream-protocol.js';
import { FakeWebSocket } from './support/fake-websocket.js';

class FakeEventSource extends EventTarget {
  static readonly instances: FakeEventSource[] = [];
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(readonly url: string) {
    super();
    FakeEventSource.instances.push(this);
  }
  close(): void {}
}

const globals = globalThis as Record<string, unknown>;
const saved = { WebSocket: globals.WebSocket, EventSource: globals.EventSource, fetch: globals.fetch };
const NOW = Date.parse('2026-11-24T19:24:06Z');
const nowS = () => Math.floor(Date.now() / 1000);

/** A well-formed ticket expiring `inS` seconds from now; `mark` tells tickets apart. */
function ticket(inS: number, mark = 'A'): string {
  return `${nowS() + inS}.${mark.repeat(43)}`;
}

/** fetch answering from `answers` in turn (the long polls and the 403 probe), then pending until aborted. */
function fakeFetch(answers: Array<() => Response> = []) {
  const urls: string[] = [];
  globals.fetch = jest.fn((url: string, init?: RequestInit) => {
    urls.push(url);
    const next = answers.shift();
    if (next) return Promise.resolve(next());
    return new Promise<Response>((_resolve, reject) => {
      init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
    });
  });
  return { urls, answers };
}

/** A getTicket that answers from `answers` in turn and records the channels it was asked for. */
function tickets(...answers: Array<string | null | Error>) {
  const calls: string[][] = [];
  const getTicket = jest.fn(async (channels: readonly string[]) => {
    calls.push([...channels]);
    const next = answers.shift();
    if (next === undefined) throw new Error('no more tickets in this test');
    if (next instanceof Error) throw next;
    return next;
  });
  return { getTicket, calls, answers };
}

function record(client: PushStreamClient) {
  const log = { states: [] as string[], denied: [] as Array<{ status: number; transport: string }>, errors: [] as string[], messages: [] as unknown[] };
  client.addEventListener('state', (e) => log.states.push(e.detail.state));
  client.addEventListener('denied', (e) => log.denied.push(e.detail));
  client.addEventListener('error', (e) => log.errors.push(e.detail.message));
  client.addEventListener('message', (e) => log.messages.push(e.detail.data));
  return log;
}

const make = (options: Partial<PushStreamClientOptions>) =>
  new PushStreamClient({ url: 'http://nginx.test', server: 'nchan', channels: ['a'], transports: ['websocket'], ...options });
const sockets = () => FakeWebSocket.instances;
const latest = () => FakeWebSocket.instances[FakeWebSocket.instances.length - 1];

beforeEach(() => {
  jest.useFakeTimers({ now: NOW });
  jest.spyOn(Math, 'random').mockReturnValue(0);
  FakeWebSocket.instances.length = 0;
  FakeEventSource.instances.length = 0;
  globals.WebSocket = FakeWebSocket;
  globals.EventSource = FakeEventSource;
  // The 403 probe: nginx unreachable unless a test says otherwise.
  globals.fetch = jest.fn(() => Promise.reject(new TypeError('Failed to fetch')));
});

afterEach(() => {
  jest.useRealTimers();
  jest.restoreAllMocks();
  globals.WebSocket = saved.WebSocket;
  globals.EventSource = saved.EventSource;
  globals.fetch = saved.fetch;
});

describe('subscriber URLs carry the ticket', () => {
  const psFrame = '{"id":7,"channel":"a","text":{"n":1},"eventid":"","type":"","time":"Tue, 24 Nov 2026 19:24:06 GMT","tag":2}';

  it('push-stream, every transport: ?ticket= alone, &ticket= after the resume arguments, .bN history not in the way', () => {
    const t = ticket(600);
    const client = make({ server: 'push-stream', channels: ['a', 'b'], backtrack: { a: 5 }, ticket: t });
    expect(client.subscriberUrl('websocket')).toBe(`ws://nginx.test/ws/a.b5/b?ticket=${t}`);
    expect(client.subscriberUrl('eventsource')).toBe(`http://nginx.test/ev/a.b5/b?ticket=${t}`);
    expect(client.subscriberUrl('longpolling')).toBe(`http://nginx.test/lp/a.b5/b?ticket=${t}`);
    client.connect();
    expect(latest().url).toBe(`ws://nginx.test/ws/a.b5/b?ticket=${t}`);
    latest().open();
    latest().receive(psFrame);
    const resume = 'tag=2&time=Tue%2C%2024%20Nov%202026%2019%3A24%3A06%20GMT';
    expect(client.subscriberUrl('websocket')).toBe(`ws://nginx.test/ws/a/b?${resume}&ticket=${t}`);
    expect(client.subscriberUrl('eventsource')).toBe(`http://nginx.test/ev/a/b?${resume}&ticket=${t}`);
    expect(client.subscriberUrl('longpolling')).toBe(`http://nginx.test/lp/a/b?${resume}&ticket=${t}`);
    // The denial probe (no resume arguments) carries it too: it goes through the same check.
    expect(client.subscriberUrl('eventsource', false)).toBe(`http://nginx.test/ev/a/b?ticket=${t}`);
    client.close();
  });

  it('Nchan, every transport: ?ticket=, and &ticket= after last_event_id within a long-poll chain', async () => {
    const t = ticket(600);
    const lastModified = 'Wed, 25 Nov 2026 14:56:36 GMT';
    const id = `${Date.parse(lastModified) / 1000}:[0],-`;
    const { urls } = fakeFetch([
      () => new Response('{"channel":"a","text":{"n":1},"eventid":"","type":""}', { status: 200, headers: { 'last-modified': lastModified, etag: '[0],-' } }),
    ]);
    const client = make({ channels: ['a', 'b'], backtrack: { a: 5 }, ticket: t, transports: ['longpolling'] });
    expect(client.subscriberUrl('websocket')).toBe(`ws://nginx.test/ws/a/b?ticket=${t}`);
    expect(client.subscriberUrl('eventsource')).toBe(`http://nginx.test/ev/a/b?ticket=${t}`);
    client.connect();
    await jest.advanceTimersByTimeAsync(0);
    expect(urls).toEqual([`http://nginx.test/lp/a/b?ticket=${t}`, `http://nginx.test/lp/a/b?last_event_id=${encodeURIComponent(id)}&ticket=${t}`]);
    client.close();
  });

  it.each(['nchan', 'push-stream'] as const)('%s: the URLs each transport opens (WebSocket, EventSource, long polling)', async (server) => {
    const t = ticket(600);
    const { urls } = fakeFetch();
    for (const transport of ['websocket', 'eventsource', 'longpolling'] as const) {
      const client = make({ server, channels: ['a', 'b'], ticket: t, transports: [transport] });
      client.connect();
      client.close();
    }
    await jest.advanceTimersByTimeAsync(0);
    expect([sockets()[0].url, FakeEventSource.instances[0].url, urls[0]]).toEqual([
      `ws://nginx.test/ws/a/b?ticket=${t}`,
      `http://nginx.test/ev/a/b?ticket=${t}`,
      `http://nginx.test/lp/a/b?ticket=${t}`,
    ]);
  });

  it.each(['nchan', 'push-stream'] as const)('%s without ticket options: URLs exactly as before', (server) => {
    const client = make({ server, channels: ['a', 'b'] });
    expect(['websocket', 'eventsource', 'longpolling'].map((t) => client.subscriberUrl(t as 'websocket'))).toEqual([
      'ws://nginx.test/ws/a/b',
      'http://nginx.test/ev/a/b',
      'http://nginx.test/lp/a/b',
    ]);
    client.connect();
    expect(latest().url).toBe('ws://nginx.test/ws/a/b');
    client.close();
  });

  it('a ticket option that is not a ticket, or a getTicket that is not a function, throws before any request', () => {
    expect(() => make({ ticket: 'nope' })).toThrow(new TypeError('PushStreamClient: ticket is not a subscription ticket (<expiry>.<signature>): "nope"'));
    expect(() => make({ ticket: '' })).toThrow(TypeError);
    expect(() => make({ getTicket: 'x' as never })).toThrow(new TypeError('PushStreamClient: getTicket must be a function'));
    expect(sockets()).toHaveLength(0);
  });
});

describe('getTicket before connecting', () => {
  it('no ticket yet: asks for the subscribed channels (de-duplicated, URL order) and opens with it', async () => {
    const t = ticket(600);
    const { getTicket, calls } = tickets(t);
    const client = make({ channels: ['b', 'a', 'b'], getTicket });
    const log = record(client);
    client.connect();
    expect(sockets()).toHaveLength(0);
    expect(log.states).toEqual(['connecting']);
    await jest.advanceTimersByTimeAsync(0);
    expect(calls).toEqual([['b', 'a']]);
    expect(latest().url).toBe(`ws://nginx.test/ws/b/a?ticket=${t}`);
    client.close();
  });

  it('a ticket good for more than 10 s is used at once, without asking', () => {
    const t = ticket(11);
    const { getTicket } = tickets();
    const client = make({ ticket: t, getTicket });
    client.connect();
    expect(latest().url).toBe(`ws://nginx.test/ws/a?ticket=${t}`);
    expect(getTicket).not.toHaveBeenCalled();
    client.close();
  });

  it('a ticket within 10 s of its expiry (by the page clock) is renewed first', async () => {
    const old = ticket(10);
    const fresh = ticket(600, 'B');
    const { getTicket } = tickets(fresh);
    const client = make({ ticket: old, getTicket });
    client.connect();
    expect(sockets()).toHaveLength(0);
    await jest.advanceTimersByTimeAsync(0);
    expect(getTicket).toHaveBeenCalledTimes(1);
    expect(latest().url).toBe(`ws://nginx.test/ws/a?ticket=${fresh}`);
    client.close();
  });

  it('a ticket that arrives short-lived is still used (one getTicket per connection, no loop)', async () => {
    const short = ticket(3);
    const { getTicket } = tickets(short);
    const client = make({ getTicket });
    client.connect();
    await jest.advanceTimersByTimeAsync(0);
    expect(getTicket).toHaveBeenCalledTimes(1);
    expect(latest().url).toBe(`ws://nginx.test/ws/a?ticket=${short}`);
    client.close();
  });

  it('getTicket → null: the app refuses, the client ends denied (403), no request', async () => {
    const { getTicket } = tickets(null);
    const client = make({ getTicket });
    const log = record(client);
    client.connect();
    await jest.advanceTimersByTimeAsync(60_000);
    expect(log.denied).toEqual([{ status: 403, transport: 'websocket' }]);
    expect(log.states).toEqual(['connecting', 'denied']);
    expect(client.state).toBe('denied');
    expect(getTicket).toHaveBeenCalledTimes(1);
    expect(sockets()).toHaveLength(0);
  });

  it('getTicket rejects (or throws, or resolves a non-ticket): error events and retries on the reconnect backoff, no storm', async () => {
    const t = ticket(600);
    const { getTicket } = tickets(new Error('app down'), new Error('app down'), 'garbage', t);
    const client = make({ getTicket, reconnect: { minDelayMs: 1000, maxDelayMs: 10_000 } });
    const log = record(client);
    client.connect();
    await jest.advanceTimersByTimeAsync(0);
    expect(getTicket).toHaveBeenCalledTimes(1);
    expect(log.errors).toEqual(['getTicket failed: app down']);
    expect(client.state).toBe('reconnecting');
    // Math.random() = 0: each step is half of min·2^n: 500, 1000, 2000 ms.
    await jest.advanceTimersByTimeAsync(499);
    expect(getTicket).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(getTicket).toHaveBeenCalledTimes(2);
    await jest.advanceTimersByTimeAsync(999);
    expect(getTicket).toHaveBeenCalledTimes(2);
    await jest.advanceTimersByTimeAsync(1);
    expect(getTicket).toHaveBeenCalledTimes(3);
    expect(log.errors.at(-1)).toBe('getTicket failed: not a subscription ticket (<expiry>.<signature>): "garbage"');
    expect(sockets()).toHaveLength(0);
    await jest.advanceTimersByTimeAsync(2000);
    expect(getTicket).toHaveBeenCalledTimes(4);
    expect(latest().url).toBe(`ws://nginx.test/ws/a?ticket=${t}`);
    latest().open();
    expect(client.state).toBe('open');
    expect(log.denied).toEqual([]);
    client.close();
  });

  it('a getTicket that throws synchronously is a rejection too', async () => {
    const client = make({
      getTicket: () => {
        throw new Error('sync');
      },
    });
    const log = record(client);
    client.connect();
    await jest.advanceTimersByTimeAsync(0);
    expect(log.errors).toEqual(['getTicket failed: sync']);
    expect(client.state).toBe('reconnecting');
    client.close();
  });

  it('close() (or connect()) while getTicket is pending: its answer is dropped', async () => {
    let resolve!: (t: string | null) => void;
    const getTicket = jest.fn(() => new Promise<string | null>((r) => (resolve = r)));
    const client = make({ getTicket });
    client.connect();
    client.close();
    resolve(ticket(600));
    await jest.advanceTimersByTimeAsync(0);
    expect(sockets()).toHaveLength(0);
    expect(client.state).toBe('closed');
  });
});

describe('getTicket before a reconnect', () => {
  it('the ticket expired while connected: the reconnect after the server ended the connection renews it first', async () => {
    const first = ticket(60);
    const second = ticket(3600, 'B');
    const { getTicket } = tickets(first, second);
    const client = make({ getTicket });
    client.connect();
    await jest.advanceTimersByTimeAsync(0);
    latest().open();
    await jest.advanceTimersByTimeAsync(55_000); // still connected: nothing to do while open
    expect(getTicket).toHaveBeenCalledTimes(1);
    latest().serverClose(1006); // nginx reload
    await jest.advanceTimersByTimeAsync(300); // the reload pause, then getTicket, then the socket
    expect(getTicket).toHaveBeenCalledTimes(2);
    expect(sockets()).toHaveLength(2);
    expect(latest().url).toBe(`ws://nginx.test/ws/a?ticket=${second}`);
    client.close();
  });

  it('a ticket still good on reconnect is reused', async () => {
    const t = ticket(3600);
    const { getTicket } = tickets(t);
    const client = make({ getTicket });
    client.connect();
    await jest.advanceTimersByTimeAsync(0);
    latest().open();
    latest().serverClose(1006);
    await jest.advanceTimersByTimeAsync(300);
    expect(sockets().map((s) => s.url)).toEqual([`ws://nginx.test/ws/a?ticket=${t}`, `ws://nginx.test/ws/a?ticket=${t}`]);
    expect(getTicket).toHaveBeenCalledTimes(1);
    client.close();
  });

  it('without getTicket, an expired ticket is sent as is (nginx decides) and a refusal is final', async () => {
    const t = ticket(20);
    fakeFetch([() => new Response(null, { status: 403 })]); // the probe after the failed upgrade
    const client = make({ ticket: t });
    const log = record(client);
    client.connect();
    latest().open();
    await jest.advanceTimersByTimeAsync(30_000);
    latest().serverClose(1006);
    await jest.advanceTimersByTimeAsync(300);
    expect(latest().url).toBe(`ws://nginx.test/ws/a?ticket=${t}`);
    latest().serverClose(1006); // the upgrade is refused
    await jest.advanceTimersByTimeAsync(0);
    expect(log.denied).toEqual([{ status: 403, transport: 'websocket' }]);
    expect(sockets()).toHaveLength(2);
  });

  it('Nchan: a deleted channel changes the set, the resubscription asks a ticket for the channels left', async () => {
    const { getTicket, calls } = tickets(ticket(600), ticket(600, 'B'));
    const client = make({ channels: ['a', 'b'], getTicket });
    client.connect();
    await jest.advanceTimersByTimeAsync(0);
    latest().open('ws+meta.nchan');
    latest().receive('id: 1795617915:[2],1\ncontent-type: application/json\n\n{"id":-2,"channel":"a","text":"Channel deleted","eventid":"","type":""}');
    await jest.advanceTimersByTimeAsync(0);
    expect(calls).toEqual([['a', 'b'], ['b']]);
    expect(latest().url).toBe(`ws://nginx.test/ws/b?ticket=${ticket(600, 'B')}`);
    client.close();
  });

  it('push-stream: a deleted channel keeps the connection; the next reconnect asks a ticket for the channels left', async () => {
    const { getTicket, calls } = tickets(ticket(600), ticket(600, 'B'));
    const client = make({ server: 'push-stream', channels: ['a', 'b'], getTicket });
    client.connect();
    await jest.advanceTimersByTimeAsync(0);
    latest().open();
    latest().receive('{"id":-2,"channel":"b","text":"Channel deleted","eventid":"","type":"","time":"x","tag":0}');
    await jest.advanceTimersByTimeAsync(0);
    expect(sockets()).toHaveLength(1);
    expect(calls).toEqual([['a', 'b']]);
    latest().serverClose(1006);
    await jest.advanceTimersByTimeAsync(300);
    expect(calls).toEqual([['a', 'b'], ['a']]);
    expect(latest().url).toBe(`ws://nginx.test/ws/a?ticket=${ticket(600, 'B')}`);
    client.close();
  });
});

describe('a refusal with a fresh ticket: getTicket once more, then denied', () => {
  it('long polling (403 read directly): a new ticket that works clears the refusal', async () => {
    const first = ticket(600);
    const second = ticket(600, 'B');
    const { urls } = fakeFetch([() => new Response(null, { status: 403 }), () => new Response(null, { status: 304 })]);
    const { getTicket } = tickets(second);
    const client = make({ ticket: first, getTicket, transports: ['longpolling'] });
    const log = record(client);
    client.connect();
    await jest.advanceTimersByTimeAsync(0);
    expect(log.errors).toEqual(['longpolling refused (403): asking getTicket for a new ticket']);
    expect(client.state).toBe('reconnecting');
    await jest.advanceTimersByTimeAsync(250); // first backoff step (min 500, jitter 0)
    expect(getTicket).toHaveBeenCalledTimes(1);
    expect(urls.slice(0, 2)).toEqual([`http://nginx.test/lp/a?ticket=${first}`, `http://nginx.test/lp/a?ticket=${second}`]);
    expect(client.state).toBe('open');
    expect(log.denied).toEqual([]);
    client.close();
  });

  it('WebSocket (403 from the probe): refused again with the new ticket → denied, no third try', async () => {
    const first = ticket(600);
    const second = ticket(600, 'B');
    const { urls } = fakeFetch([() => new Response(null, { status: 403 }), () => new Response(null, { status: 403 })]);
    const { getTicket } = tickets(second);
    const client = make({ ticket: first, getTicket });
    const log = record(client);
    client.connect();
    latest().serverClose(1006); // the upgrade fails; the probe reads 403
    await jest.advanceTimersByTimeAsync(250);
    expect(getTicket).toHaveBeenCalledTimes(1);
    expect(latest().url).toBe(`ws://nginx.test/ws/a?ticket=${second}`);
    latest().serverClose(1006);
    await jest.advanceTimersByTimeAsync(60_000);
    expect(urls).toEqual([`http://nginx.test/ev/a?ticket=${first}`, `http://nginx.test/ev/a?ticket=${second}`]);
    expect(log.denied).toEqual([{ status: 403, transport: 'websocket' }]);
    expect(client.state).toBe('denied');
    expect(sockets()).toHaveLength(2);
    expect(getTicket).toHaveBeenCalledTimes(1);
  });

  it('the renewal after a refusal answers null: denied at once', async () => {
    fakeFetch([() => new Response(null, { status: 401 })]);
    const { getTicket } = tickets(null);
    const client = make({ ticket: ticket(600), getTicket, transports: ['longpolling'] });
    const log = record(client);
    client.connect();
    await jest.advanceTimersByTimeAsync(250);
    expect(log.denied).toEqual([{ status: 403, transport: 'longpolling' }]);
    expect(client.state).toBe('denied');
  });

  it('a connection that opens in between allows one more renewal on the next refusal', async () => {
    fakeFetch([
      () => new Response(null, { status: 403 }),
      () => new Response(null, { status: 304 }), // open with the second ticket
      () => new Response(null, { status: 403 }), // refused again later: ask once more
      () => new Response(null, { status: 403 }), // and again: final
    ]);
    const { getTicket } = tickets(ticket(600, 'B'), ticket(600, 'C'));
    const client = make({ ticket: ticket(600), getTicket, transports: ['longpolling'] });
    const log = record(client);
    client.connect();
    await jest.advanceTimersByTimeAsync(10_000);
    expect(getTicket).toHaveBeenCalledTimes(2);
    expect(log.denied).toEqual([{ status: 403, transport: 'longpolling' }]);
  });

  it('connect() after denied starts over (a ticket from getTicket again)', async () => {
    const { getTicket } = tickets(null, ticket(600));
    const client = make({ getTicket });
    client.connect();
    await jest.advanceTimersByTimeAsync(0);
    expect(client.state).toBe('denied');
    client.connect();
    await jest.advanceTimersByTimeAsync(0);
    expect(sockets()).toHaveLength(1);
    expect(ticketExpiry(new URL(latest().url).searchParams.get('ticket')!)).toBe(nowS() + 600);
    client.close();
  });
});

describe('long polling: each poll is a new request nginx checks', () => {
  /** fetch whose answers the test gives one by one. */
  function manualFetch() {
    const polls: Array<{ url: string; answer: (res: Response) => void }> = [];
    globals.fetch = jest.fn(
      (url: string, init?: RequestInit) =>
        new Promise<Response>((resolve, reject) => {
          polls.push({ url, answer: resolve });
          init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
        }),
    );
    return polls;
  }
  const message = (n: number) =>
    new Response(`{"channel":"a","text":{"n":${n}},"eventid":"","type":""}`, { status: 200, headers: { 'last-modified': 'Wed, 25 Nov 2026 14:56:36 GMT', etag: String(n) } });

  it('a ticket that nears its expiry during a live chain is renewed before the next poll, without leaving the chain', async () => {
    const first = ticket(30);
    const second = ticket(600, 'B');
    const polls = manualFetch();
    let resolveTicket!: (t: string) => void;
    const getTicket = jest.fn(() => new Promise<string>((r) => (resolveTicket = r)));
    const client = make({ ticket: first, getTicket, transports: ['longpolling'] });
    const log = record(client);
    client.connect();
    await jest.advanceTimersByTimeAsync(0);
    polls[0].answer(message(0));
    await jest.advanceTimersByTimeAsync(0);
    expect(polls).toHaveLength(2);
    expect(getTicket).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(25_000); // the ticket is now within 10 s of its expiry
    polls[1].answer(message(1));
    await jest.advanceTimersByTimeAsync(0);
    expect(getTicket).toHaveBeenCalledTimes(1);
    expect(polls).toHaveLength(2); // waits for the ticket
    resolveTicket(second);
    await jest.advanceTimersByTimeAsync(0);
    expect(polls.map((p) => new URL(p.url).searchParams.get('ticket'))).toEqual([first, first, second]);
    expect(new URL(polls[2].url).searchParams.get('last_event_id')).toMatch(/^\d+:1$/); // still the same chain
    expect(log.messages).toEqual([{ n: 0 }, { n: 1 }]);
    expect(log.states).toEqual(['connecting', 'open']);
    expect(log.errors).toEqual([]);
    client.close();
  });

  it('a renewal between polls that fails: the chain goes on with the ticket it has, and does not ask again before every poll', async () => {
    const first = ticket(30);
    const polls = manualFetch();
    const { getTicket } = tickets(new Error('app down'));
    const client = make({ server: 'push-stream', ticket: first, getTicket, transports: ['longpolling'] });
    const log = record(client);
    client.connect();
    await jest.advanceTimersByTimeAsync(25_000);
    polls[0].answer(new Response(null, { status: 304 }));
    await jest.advanceTimersByTimeAsync(300);
    expect(getTicket).toHaveBeenCalledTimes(1);
    expect(log.errors).toEqual(['getTicket failed: app down']);
    expect(polls).toHaveLength(2);
    polls[1].answer(new Response(null, { status: 304 }));
    await jest.advanceTimersByTimeAsync(300);
    expect(polls).toHaveLength(3);
    expect(getTicket).toHaveBeenCalledTimes(1);
    expect(polls.map((p) => new URL(p.url).searchParams.get('ticket'))).toEqual([first, first, first]);
    expect(client.state).toBe('open');
    client.close();
  });

  it('getTicket → null between polls: denied, the chain stops', async () => {
    const polls = manualFetch();
    const { getTicket } = tickets(null);
    const client = make({ ticket: ticket(15), getTicket, transports: ['longpolling'] });
    const log = record(client);
    client.connect();
    await jest.advanceTimersByTimeAsync(6000);
    polls[0].answer(message(0));
    await jest.advanceTimersByTimeAsync(60_000);
    expect(log.denied).toEqual([{ status: 403, transport: 'longpolling' }]);
    expect(polls).toHaveLength(1);
    expect(log.messages).toEqual([{ n: 0 }]);
  });
});

describe('secure-link tickets (22-character MD5): no .bN history', () => {
  /** A well-formed secure-link ticket expiring `inS` seconds from now. */
  const secureLink = (inS: number, mark = 'A') => `${nowS() + inS}.${mark.repeat(21)}w`;
  const psFrame = '{"id":7,"channel":"a","text":{"n":1},"eventid":"","type":"","time":"Tue, 24 Nov 2026 19:24:06 GMT","tag":2}';

  it('is a ticket like the HMAC kind: URLs carry it, resume arguments too', () => {
    const t = secureLink(600);
    expect(ticketExpiry(t)).toBe(nowS() + 600);
    const client = make({ server: 'push-stream', channels: ['a', 'b'], ticket: t });
    expect(client.subscriberUrl('websocket')).toBe(`ws://nginx.test/ws/a/b?ticket=${t}`);
    client.connect();
    latest().open();
    latest().receive(psFrame);
    expect(client.subscriberUrl('longpolling')).toBe(`http://nginx.test/lp/a/b?tag=2&time=Tue%2C%2024%20Nov%202026%2019%3A24%3A06%20GMT&ticket=${t}`);
    client.close();
  });

  it('push-stream with backtrack: a secure-link ticket option throws before any request (nginx would refuse the .bN path)', () => {
    expect(() => make({ server: 'push-stream', channels: ['a', 'b'], backtrack: { a: 5 }, ticket: secureLink(600) })).toThrow(
      /^PushStreamClient: a secure-link ticket cannot open the backtrack \(\.bN\) history/,
    );
    // backtrack 0 writes no suffix; Nchan has none: nothing to refuse.
    expect(make({ server: 'push-stream', backtrack: { a: 0 }, ticket: secureLink(600) }).subscriberUrl('websocket')).toMatch(/\/ws\/a\?ticket=/);
    expect(make({ server: 'nchan', backtrack: { a: 5 }, ticket: secureLink(600) }).subscriberUrl('websocket')).toMatch(/\/ws\/a\?ticket=/);
    expect(sockets()).toHaveLength(0);
  });

  it('push-stream with backtrack: getTicket returning a secure-link ticket → an error event naming the conflict, then denied (403), no request', async () => {
    const { getTicket } = tickets(secureLink(600));
    const client = make({ server: 'push-stream', backtrack: { a: 5 }, getTicket });
    const log = record(client);
    client.connect();
    await jest.advanceTimersByTimeAsync(60_000);
    expect(log.errors).toEqual([expect.stringMatching(/^getTicket: a secure-link ticket cannot open the backtrack \(\.bN\) history .*Drop the backtrack option/)]);
    expect(log.denied).toEqual([{ status: 403, transport: 'websocket' }]);
    expect(getTicket).toHaveBeenCalledTimes(1);
    expect(sockets()).toHaveLength(0);
  });

  it('push-stream with backtrack and HMAC tickets: unchanged (the .bN path is signed without its suffix)', async () => {
    const t = ticket(600);
    const { getTicket } = tickets(t);
    const client = make({ server: 'push-stream', backtrack: { a: 5 }, getTicket });
    client.connect();
    await jest.advanceTimersByTimeAsync(0);
    expect(latest().url).toBe(`ws://nginx.test/ws/a.b5?ticket=${t}`);
    client.close();
  });
});
