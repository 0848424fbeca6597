// UndiciHttpClient without a network: undici's Agent is given a factory that returns a scripted
// dispatcher, which answers through the handler the client dispatched with, the way undici's
// HTTP/1.1 client calls it (onConnect, onHeaders, onData, onComplete or onError).
import { EventEmitter } from 'node:events';
import { jest } from '@jest/globals';
import { errors } from 'undici';
import { PushStreamConnectionError, PushStreamTimeoutError } from '../../../lib/errors/index.js';
import { type PushStreamHttpRequest, UndiciHttpClient } from '../../../lib/http/index.js';

/** What undici hands a dispatcher, and the handler methods it calls. */
interface Handler {
  onConnect(abort: (err?: Error) => void): void;
  onHeaders(status: number, raw: Buffer[], resume: () => void, text: string): boolean;
  onData(chunk: Buffer): boolean;
  onComplete(trailers: string[] | null): void;
  onError(err: Error): void;
}
interface Dispatched {
  opts: { origin: string; path: string; method: string; headers: Record<string, string>; body?: string; headersTimeout?: number; bodyTimeout?: number };
  handler: Handler;
  aborted: Array<Error | undefined>;
}

/** A pool per origin that records every request and answers it with `script` (or not at all). */
class ScriptedOrigin extends EventEmitter {
  constructor(
    private readonly seen: Dispatched[],
    private readonly script: (d: Dispatched) => void,
  ) {
    super();
  }
  dispatch(opts: Dispatched['opts'], handler: Handler): boolean {
    const d: Dispatched = { opts, handler, aborted: [] };
    this.seen.push(d);
    this.script(d);
    return true;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  destroy(): Promise<void> {
    return Promise.resolve();
  }
}

const raw = (pairs: Array<[string, string]>): Buffer[] => pairs.flatMap(([k, v]) => [Buffer.from(k, 'latin1'), Buffer.from(v, 'latin1')]);

/** Connects, answers `status` with `headers` and the body in `chunks`. */
function answer(status: number, headers: Array<[string, string]>, ...chunks: Buffer[]) {
  return (d: Dispatched) => {
    d.handler.onConnect((err) => d.aborted.push(err));
    d.handler.onHeaders(status, raw(headers), () => undefined, 'OK');
    for (const c of chunks) d.handler.onData(c);
    d.handler.onComplete(null);
  };
}

function client(script: (d: Dispatched) => void) {
  const seen: Dispatched[] = [];
  const http = new UndiciHttpClient({ factory: () => new ScriptedOrigin(seen, script) as never });
  return { http, seen };
}

const post = (over: Partial<PushStreamHttpRequest> = {}): PushStreamHttpRequest => ({
  method: 'POST',
  url: 'http://127.0.0.1:9080/pub?id=room1',
  headers: { 'content-type': 'application/json' },
  body: '{"a":1}',
  timeoutMs: 150,
  ...over,
});

/** Timers only: undici settles and closes through nextTick and setImmediate, which stay real. */
const fakeTimers = () => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });

afterEach(() => {
  jest.useRealTimers();
});

describe('UndiciHttpClient', () => {
  it('sends method, origin, path with the query, headers and body as given', async () => {
    const { http, seen } = client(answer(200, [], Buffer.from('{}')));
    await http.request(post());
    expect(seen).toHaveLength(1);
    expect(seen[0].opts).toMatchObject({ origin: 'http://127.0.0.1:9080', path: '/pub?id=room1', method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    await http.onModuleDestroy();
  });

  it('reads the status and the body as UTF-8 text, across chunks (a character split in two) and without a byte order mark', async () => {
    const text = Buffer.from('\ufeff{"text":"café ✓"}', 'utf8');
    const cut = text.indexOf(Buffer.from('✓')) + 1;
    const { http } = client(answer(201, [], text.subarray(0, cut), text.subarray(cut)));
    const res = await http.request(post());
    expect(res.status).toBe(201);
    expect(res.body).toBe('{"text":"café ✓"}');
    await http.onModuleDestroy();
  });

  it('an answer without a body has the empty string; a 1xx before the answer is skipped', async () => {
    const { http } = client((d) => {
      d.handler.onConnect(() => undefined);
      d.handler.onHeaders(100, raw([['X-Interim', 'yes']]), () => undefined, 'Continue');
      d.handler.onHeaders(204, raw([['X-Final', 'yes']]), () => undefined, 'No Content');
      d.handler.onComplete(null);
    });
    const res = await http.request(post());
    expect(res).toMatchObject({ status: 204, body: '' });
    expect(res.headers).toEqual({ 'x-final': 'yes' });
    await http.onModuleDestroy();
  });

  it('headers: names in lower case, a repeated header joined with ", ", built once on first read and shown by JSON.stringify', async () => {
    const { http } = client(
      answer(403, [['Content-Type', 'text/plain'], ['X-Nginx-PushStream-Explain', 'No channel id provided.'], ['Vary', 'a'], ['Vary', 'b']], Buffer.from('')),
    );
    const res = await http.request(post());
    // Built on demand: not an own field of the answer until read.
    expect(Object.keys(res)).not.toContain('headers');
    expect(res.headers).toEqual({ 'content-type': 'text/plain', 'x-nginx-pushstream-explain': 'No channel id provided.', vary: 'a, b' });
    expect(res.headers).toBe(res.headers);
    expect(JSON.parse(JSON.stringify(res))).toEqual({ status: 403, headers: res.headers, body: '' });
    await http.onModuleDestroy();
  });

  it('URL credentials become Basic authorization; an Authorization header of the request wins', async () => {
    const { http, seen } = client(answer(200, [], Buffer.from('{}')));
    await http.request(post({ url: 'http://admin:p%40ss@127.0.0.1:9080/pub?id=a' }));
    await http.request(post({ url: 'http://admin:p%40ss@127.0.0.1:9080/pub?id=b', headers: { authorization: 'Bearer t' } }));
    expect(seen[0].opts.headers.authorization).toBe(`Basic ${Buffer.from('admin:p@ss').toString('base64')}`);
    expect(seen[0].opts.path).toBe('/pub?id=a');
    expect(seen[1].opts.headers).toEqual({ authorization: 'Bearer t' });
    await http.onModuleDestroy();
  });

  it('URLs sharing a prefix keep their own paths (the last-URL shortcut compares up to "?")', async () => {
    const { http, seen } = client(answer(200, [], Buffer.from('{}')));
    for (const url of ['http://h:1/pub?id=a', 'http://h:1/pub2?id=b', 'http://h:1/pub', 'http://h:1/pub?id=c', 'http://u:p@h:1/pub?id=d', 'http://h:1/pub?id=e']) {
      await http.request(post({ url }));
    }
    expect(seen.map((d) => d.opts.path)).toEqual(['/pub?id=a', '/pub2?id=b', '/pub', '/pub?id=c', '/pub?id=d', '/pub?id=e']);
    expect(seen.map((d) => d.opts.headers.authorization !== undefined)).toEqual([false, false, false, false, true, false]);
    await http.onModuleDestroy();
  });

  it('a URL that does not parse is a PushStreamConnectionError (a rejection, not a throw)', async () => {
    const { http, seen } = client(answer(200, [], Buffer.from('{}')));
    const pending = http.request(post({ url: 'not a url' }));
    await expect(pending).rejects.toBeInstanceOf(PushStreamConnectionError);
    expect(seen).toHaveLength(0);
    await http.onModuleDestroy();
  });

  it('transport failures: undici timeouts are PushStreamTimeoutError, anything else PushStreamConnectionError', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    for (const [err, type] of [
      [refused, PushStreamConnectionError],
      [new errors.SocketError('other side closed'), PushStreamConnectionError],
      [new errors.HeadersTimeoutError(), PushStreamTimeoutError],
      [new errors.BodyTimeoutError(), PushStreamTimeoutError],
      [new errors.ConnectTimeoutError(), PushStreamTimeoutError],
    ] as const) {
      const { http } = client((d) => d.handler.onError(err));
      const e = await http.request(post()).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(type);
      expect(e).toMatchObject({ retryable: true });
      await http.onModuleDestroy();
    }
  });

  it('a pool that refuses the request at once (its factory throws) is a PushStreamConnectionError', async () => {
    const http = new UndiciHttpClient({
      factory: () => {
        throw new Error('no pool');
      },
    });
    await expect(http.request(post())).rejects.toBeInstanceOf(PushStreamConnectionError);
    await http.onModuleDestroy();
  });

  describe('the deadline: one timer per attempt', () => {
    it('an answer clears the attempt\'s only timer', async () => {
      fakeTimers();
      let queued: Dispatched | undefined;
      const { http } = client((d) => (queued = d));
      const pending = http.request(post());
      expect(jest.getTimerCount()).toBe(1);
      answer(200, [], Buffer.from('{}'))(queued!);
      await expect(pending).resolves.toMatchObject({ status: 200 });
      expect(jest.getTimerCount()).toBe(0);
      await http.onModuleDestroy();
    });

    it('a request sent and never answered: PushStreamTimeoutError at timeoutMs, and undici is told to abort it', async () => {
      fakeTimers();
      const { http, seen } = client((d) => d.handler.onConnect((err) => d.aborted.push(err)));
      const pending = http.request(post({ timeoutMs: 150 }));
      let settled = false;
      void pending.catch(() => (settled = true));
      expect(jest.getTimerCount()).toBe(1);
      await jest.advanceTimersByTimeAsync(149);
      expect(settled).toBe(false);
      await jest.advanceTimersByTimeAsync(1);
      const err = await pending.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PushStreamTimeoutError);
      expect(err).toMatchObject({ retryable: true });
      expect((err as Error).message).toContain('150 ms');
      expect(seen[0].aborted).toHaveLength(1);
      expect(jest.getTimerCount()).toBe(0);
      // What undici does after an abort (onError), or an answer arriving late: ignored.
      seen[0].handler.onError(new Error('aborted'));
      seen[0].handler.onHeaders(200, [], () => undefined, 'OK');
      seen[0].handler.onComplete(null);
      await http.onModuleDestroy();
    });

    it('a request still waiting for a connection at the deadline times out, and is dropped unsent when its turn comes', async () => {
      fakeTimers();
      // Queued: undici has not called onConnect yet.
      const { http, seen } = client(() => undefined);
      const failed = http.request(post({ timeoutMs: 200 })).catch((e: unknown) => e);
      await jest.advanceTimersByTimeAsync(200);
      expect(await failed).toBeInstanceOf(PushStreamTimeoutError);
      // undici's HTTP/1.1 client catches a throw from onConnect and fails the request before
      // writing it, keeping the connection.
      const abort = jest.fn();
      expect(() => seen[0].handler.onConnect(abort)).toThrow(/deadline/);
      expect(abort).not.toHaveBeenCalled();
      await http.onModuleDestroy();
    });

    it('sets no headersTimeout or bodyTimeout per request: the attempt timer bounds the whole request', async () => {
      const { http, seen } = client(answer(200, [], Buffer.from('{}')));
      await http.request(post());
      expect(seen[0].opts.headersTimeout).toBeUndefined();
      expect(seen[0].opts.bodyTimeout).toBeUndefined();
      await http.onModuleDestroy();
    });
  });
});
