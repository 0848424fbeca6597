/**
 * PushStreamService through a Nest testing module, with the real UndiciHttpClient, against the
 * push-stream wire fake (test/support/push-stream-wire-fake.ts), which replays the recordings.
 */
import 'reflect-metadata';
import { once } from 'node:events';
import { createServer } from 'node:net';
import vm from 'node:vm';
import { Test, type TestingModule } from '@nestjs/testing';
import { PushStreamModuleDialect } from '../../lib/dialects/index.js';
import {
  InvalidChannelNameError,
  InvalidMessageError,
  MessageTooLargeError,
  PartialNodePublishError,
  PushStreamConnectionError,
  PushStreamError,
  PushStreamHttpError,
  PushStreamTimeoutError,
} from '../../lib/errors/index.js';
import { PushStreamHttpClient, type PushStreamHttpRequest, type PushStreamHttpResponse, UndiciHttpClient } from '../../lib/http/index.js';
import type { PushStreamModuleOptions } from '../../lib/options/index.js';
import { PUSH_STREAM_SLEEP } from '../../lib/push-stream.constants.js';
import { PushStreamModule } from '../../lib/push-stream.module.js';
import { PushStreamService } from '../../lib/service/index.js';
import { loadRecording, PushStreamWireFake, recordedAnswer } from '../support/push-stream-wire-fake.js';

const SECRET = 'service-spec-secret-0123456789';
const dialect = new PushStreamModuleDialect();

/** A recorded answer parsed the way the dialect reads it: the expected results. */
function recorded(id: string) {
  const { status, headers, body } = loadRecording(id).response;
  return { status, headers: Object.fromEntries(headers.map(([k, v]) => [k.toLowerCase(), v])), body: body.toString('utf8') };
}

/**
 * Rejections that nobody handled. Jest gives tests a copy of `process`, so the listener goes on
 * the real one (vm.runInThisContext runs in Node's main context).
 */
const realProcess = vm.runInThisContext('process') as NodeJS.Process;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

/** A port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('PushStreamService against the push-stream wire fake', () => {
  let fake: PushStreamWireFake;
  let moduleRef: TestingModule | undefined;
  const sleeps: number[] = [];
  const instantSleep = async (ms: number) => void sleeps.push(ms);

  async function createService(options: Partial<PushStreamModuleOptions> = {}, origin = fake.url): Promise<PushStreamService> {
    moduleRef = await Test.createTestingModule({
      imports: [
        PushStreamModule.forRoot({
          server: 'push-stream',
          publisherUrl: origin + '/pub',
          statsUrl: origin + '/channels-stats',
          secret: SECRET,
          authRoute: false,
          ...options,
        }),
      ],
    })
      .overrideProvider(PUSH_STREAM_SLEEP)
      .useValue(instantSleep)
      .compile();
    return moduleRef.get(PushStreamService);
  }

  beforeAll(() => {
    realProcess.on('unhandledRejection', onUnhandled);
  });
  afterAll(() => {
    realProcess.off('unhandledRejection', onUnhandled);
  });

  beforeEach(async () => {
    sleeps.length = 0;
    unhandled.length = 0;
    fake = await PushStreamWireFake.start();
  });

  afterEach(async () => {
    await moduleRef?.close();
    moduleRef = undefined;
    await fake.close();
    await settle();
    // Not one rejection escaped during the test.
    expect(unhandled).toEqual([]);
  });

  it('the unhandled-rejection detector works (self-test)', async () => {
    const escaped = Promise.reject(new Error('escaped'));
    await settle();
    expect(unhandled).toHaveLength(1);
    escaped.catch(() => undefined); // handled late: Node reports rejectionHandled, Jest lets it go
    await settle();
    unhandled.length = 0;
  });

  it('uses the undici client by default', async () => {
    await createService();
    expect(moduleRef!.get(PushStreamHttpClient)).toBeInstanceOf(UndiciHttpClient);
  });

  describe('the recorded sequence', () => {
    it('publish returns the typed counters of recordings 01 and 02, sending what curl sent', async () => {
      const push = await createService();
      const first = await push.publish('room1', { message: 'hello' });
      expect(first).toEqual(dialect.parseInfo('room1', recorded('01')));
      expect(first).toEqual({ channel: 'room1', subscribers: 0, storedMessages: 1, publishedMessages: 1 });

      const second = await push.publish('room1', { message: 'second' }, { eventId: 'evt-42', eventType: 'chat' });
      expect(second).toEqual(dialect.parseInfo('room1', recorded('02')));

      const [r1, r2] = fake.requests;
      expect([r1.method, r1.url, r1.body]).toEqual(['POST', '/pub?id=room1', '{"message":"hello"}']);
      expect(r1.headers['content-type']).toBe('application/json');
      expect(r1.headers['event-id']).toBeUndefined();
      expect([r2.method, r2.url, r2.body]).toEqual(['POST', '/pub?id=room1', '{"message":"second"}']);
      expect([r2.headers['event-id'], r2.headers['event-type']]).toEqual(['evt-42', 'chat']);
    });

    it('channelInfo gives recording 03, and null for a missing channel (04)', async () => {
      const push = await createService();
      await push.publish('room1', { message: 'hello' });
      await push.publish('room1', { message: 'second' });
      expect(await push.channelInfo('room1')).toEqual(dialect.parseInfo('room1', recorded('03')));
      expect(await push.channelInfo('nosuchchannel')).toBeNull();
      expect(fake.requests.slice(2).map((r) => `${r.method} ${r.url}`)).toEqual(['GET /pub?id=room1', 'GET /pub?id=nosuchchannel']);
    });

    it('publishMany sends one request with ?id=a/b and returns recording 09', async () => {
      const push = await createService();
      await push.publish('room1', { message: 'hello' });
      await push.publish('room1', { message: 'second' });
      fake.clearScript();
      const result = await push.publishMany(['room1', 'room2'], { x: 1 });
      expect(fake.requests.map((r) => `${r.method} ${r.url} ${r.body}`)).toEqual(['POST /pub?id=room1/room2 {"x":1}']);
      expect(result).toEqual(dialect.parsePublish(['room1', 'room2'], recorded('09')));
    });

    it('deleteChannel is true for an existing channel (15), false for a missing one (16)', async () => {
      const push = await createService();
      await push.publish('room1', 'x');
      expect(await push.deleteChannel('room1')).toBe(true);
      expect(await push.deleteChannel('room1')).toBe(false);
      expect(await push.deleteChannel('nosuchchannel')).toBe(false);
      expect(fake.requests.slice(1).map((r) => `${r.method} ${r.url}`)).toEqual([
        'DELETE /pub?id=room1',
        'DELETE /pub?id=room1',
        'DELETE /pub?id=nosuchchannel',
      ]);
      expect(fake.channelNames()).toEqual([]);
    });

    it('stats reads the summary (10)', async () => {
      const push = await createService();
      await push.publish('room1', 1);
      await push.publishMany(['room1', 'room2'], 2);
      const stats = await push.stats();
      expect(stats).toMatchObject({ server: 'push-stream', channels: 2, subscribers: 0, publishedMessages: 3, storedMessages: 3 });
      expect(Object.keys(stats.raw)).toEqual(Object.keys(dialect.parseStats(recorded('10')).raw));
      expect(fake.requests.at(-1)).toMatchObject({ method: 'GET', url: '/channels-stats' });
    });
  });

  describe('failures', () => {
    it('retries a 500 (shared memory full) and succeeds', async () => {
      const push = await createService();
      fake.failNext(1);
      await expect(push.publish('room1', 'x')).resolves.toMatchObject({ channel: 'room1', publishedMessages: 1 });
      expect(fake.requests).toHaveLength(2);
      expect(sleeps).toHaveLength(1);
      expect(sleeps[0]).toBeLessThanOrEqual(100); // the first backoff is at most baseDelayMs
    });

    it('500 forever: PushStreamHttpError, retryable, with status, after `attempts` requests', async () => {
      const push = await createService({ retry: { attempts: 4, baseDelayMs: 50, maxDelayMs: 80 } });
      fake.failNext();
      const err = await push.publish('room1', 'x').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PushStreamHttpError);
      expect(err).toMatchObject({ status: 500, retryable: true, explain: undefined, channels: ['room1'] });
      expect((err as Error).message).toContain('HTTP 500');
      expect(fake.requests).toHaveLength(4);
      expect(sleeps).toHaveLength(3);
      for (const ms of sleeps) expect(ms).toBeLessThanOrEqual(80);
      expect(fake.channel('room1')).toBeUndefined();
    });

    it.each([
      ['18', 403, 'Channel id not authorized for this method.'],
      ['06', 400, 'Empty post requests are not allowed.'],
      ['05', 400, 'No channel id provided.'],
    ])('recorded %s: %i with its explain is reported and not retried', async (id, status, explain) => {
      const push = await createService();
      fake.failNext(Infinity, recordedAnswer(id));
      const err = await push.publish('room1', 'x').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PushStreamHttpError);
      expect(err).toMatchObject({ status, explain, retryable: false, channels: ['room1'] });
      expect((err as Error).message).toContain(explain);
      expect(fake.requests).toHaveLength(1);
      expect(sleeps).toEqual([]);
    });

    it('413 from nginx (body over client_max_body_size) is not retried', async () => {
      // maxMessageBytes set above nginx's 64k, as a misconfiguration would: nginx refuses.
      const push = await createService({ maxMessageBytes: 100_000 });
      const err = await push.publish('room1', 'a'.repeat(70_000)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PushStreamHttpError);
      expect(err).toMatchObject({ status: 413, retryable: false, explain: undefined });
      expect(fake.requests).toHaveLength(1);
      expect(fake.requests[0].bodyBytes).toBe(70_002);
      expect(fake.channel('room1')).toBeUndefined();
    });

    it.each([
      ['bad chan/x', (p: PushStreamService) => p.publish('bad chan/x', 1)],
      ['bad%20chan%2Fx', (p: PushStreamService) => p.publish('bad%20chan%2Fx', 1)],
      ['room*', (p: PushStreamService) => p.publish('room*', 1)],
      ['ALL', (p: PushStreamService) => p.publish('ALL', 1)],
      ['a"b', (p: PushStreamService) => p.publish('a"b', 1)],
      ['many with one bad', (p: PushStreamService) => p.publishMany(['room1', 'a/b'], 1)],
      ['many empty', (p: PushStreamService) => p.publishMany([], 1)],
      ['many duplicate', (p: PushStreamService) => p.publishMany(['room1', 'room1'], 1)],
      ['info', (p: PushStreamService) => p.channelInfo('room1/room2')],
      ['delete', (p: PushStreamService) => p.deleteChannel('ALL')],
      ['too long', (p: PushStreamService) => p.publish('a'.repeat(129), 1)],
    ])('invalid channel (%s): InvalidChannelNameError and no request', async (_name, call) => {
      const push = await createService();
      await expect(call(push)).rejects.toBeInstanceOf(InvalidChannelNameError);
      expect(fake.requests).toHaveLength(0);
    });

    it('a message over maxMessageBytes is refused before sending, measured in UTF-8 bytes', async () => {
      const push = await createService();
      const err = await push.publish('room1', 'a'.repeat(70_000)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MessageTooLargeError);
      expect(err).toMatchObject({ size: 70_002, limit: 65_536, retryable: false, channels: ['room1'] });
      await expect(push.publish('room1', 'ż'.repeat(32_768))).rejects.toMatchObject({ size: 65_538 });
      expect(fake.requests).toHaveLength(0);

      // Exactly the limit passes, and nginx (client_max_body_size 64k) accepts it.
      await expect(push.publish('room1', 'ż'.repeat(32_767))).resolves.toMatchObject({ publishedMessages: 1 });
      expect(fake.requests[0].bodyBytes).toBe(65_536);
    });

    it.each([
      ['undefined data', (p: PushStreamService) => p.publish('room1', undefined)],
      ['a BigInt', (p: PushStreamService) => p.publish('room1', { n: 1n })],
      ['a cycle', (p: PushStreamService) => p.publish('room1', (() => { const o: Record<string, unknown> = {}; o.o = o; return o; })())],
      ['an event id with a space', (p: PushStreamService) => p.publish('room1', 1, { eventId: 'a b' })],
      ['an event type with a quote', (p: PushStreamService) => p.publish('room1', 1, { eventType: 'x"' })],
      ['an empty event id', (p: PushStreamService) => p.publish('room1', 1, { eventId: '' })],
    ])('%s: InvalidMessageError and no request', async (_name, call) => {
      const push = await createService();
      await expect(call(push)).rejects.toBeInstanceOf(InvalidMessageError);
      expect(fake.requests).toHaveLength(0);
    });

    it('connection refused: PushStreamConnectionError after every attempt', async () => {
      const port = await closedPort();
      const push = await createService({ retry: { attempts: 3 } }, `http://127.0.0.1:${port}`);
      const err = await push.publish('room1', 'x').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PushStreamConnectionError);
      expect(err).toMatchObject({ retryable: true, status: undefined });
      expect((err as Error).message).toContain('ECONNREFUSED');
      expect(sleeps).toHaveLength(2); // 3 attempts
    });

    it('a hung nginx: PushStreamTimeoutError after every attempt', async () => {
      const push = await createService({ publishTimeoutMs: 150, retry: { attempts: 2 } });
      fake.hangNext();
      const err = await push.publish('room1', 'x').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PushStreamTimeoutError);
      expect(err).toMatchObject({ retryable: true });
      expect((err as Error).message).toContain('150 ms');
      expect(fake.requests).toHaveLength(2);
    });

    it('every failure is a PushStreamError (one catch for all)', async () => {
      const push = await createService({ retry: { attempts: 1 } });
      fake.failNext(1);
      const errors = await Promise.all([
        push.publish('room1', 'x').catch((e: unknown) => e),
        push.publish('a/b', 'x').catch((e: unknown) => e),
        push.publish('room1', undefined).catch((e: unknown) => e),
      ]);
      for (const e of errors) expect(e).toBeInstanceOf(PushStreamError);
    });
  });

  describe('several nginx servers', () => {
    let second: PushStreamWireFake;
    beforeEach(async () => {
      second = await PushStreamWireFake.start();
    });
    afterEach(async () => {
      await second.close();
    });

    it('publishes to every publisher URL', async () => {
      const push = await createService({ publisherUrl: [fake.url + '/pub', second.url + '/pub'] });
      await push.publish('room1', 'x');
      expect([fake.requests.length, second.requests.length]).toEqual([1, 1]);
      expect(await push.deleteChannel('room1')).toBe(true);
      expect([fake.channelNames(), second.channelNames()]).toEqual([[], []]);
    });

    it('failing servers make a PartialNodePublishError naming each side; the others settle and nothing is left unhandled', async () => {
      const port = await closedPort();
      const push = await createService({
        publisherUrl: [`http://127.0.0.1:${port}/pub`, second.url + '/pub', fake.url + '/pub'],
        retry: { attempts: 2 },
      });
      fake.failNext(Infinity, recordedAnswer('18'));
      const err = (await push.publish('room1', 'x').catch((e: unknown) => e)) as PartialNodePublishError;
      expect(err).toBeInstanceOf(PartialNodePublishError);
      expect(err.published.map((n) => n.index)).toEqual([1]);
      expect(err.failed.map((n) => [n.index, n.error.constructor.name, n.error.status])).toEqual([
        [0, 'PushStreamConnectionError', undefined],
        [2, 'PushStreamHttpError', 403],
      ]);
      expect(err.retryable).toBe(false); // the 403 is not
      expect(second.channel('room1')?.published_messages).toBe(1);
      expect(fake.requests).toHaveLength(1); // 403 not retried
    });
  });
});

describe('overriding PushStreamHttpClient (how to test your app without nginx)', () => {
  it('routes every request through the given client', async () => {
    const sent: PushStreamHttpRequest[] = [];
    const client: PushStreamHttpClient = {
      async request(req: PushStreamHttpRequest): Promise<PushStreamHttpResponse> {
        sent.push(req);
        return { status: 200, headers: {}, body: '{"channel": "my-app__all__", "published_messages": 7, "stored_messages": 5, "subscribers": 3}' };
      },
    };
    const moduleRef = await Test.createTestingModule({
      imports: [PushStreamModule.forRoot({ publisherUrl: 'http://nginx.invalid/pub', secret: SECRET, authRoute: false })],
    })
      .overrideProvider(PushStreamHttpClient)
      .useValue(client)
      .compile();
    try {
      const push = moduleRef.get(PushStreamService);
      const result = await push.publish(push.channels.all(), { hello: 'world' }, { eventType: 'greeting' });
      expect(result).toEqual({ channel: 'my-app__all__', publishedMessages: 7, storedMessages: 5, subscribers: 3 });
      expect(sent).toEqual([
        {
          method: 'POST',
          url: 'http://nginx.invalid/pub?id=my-app__all__',
          headers: { 'content-type': 'application/json', 'event-type': 'greeting' },
          body: '{"hello":"world"}',
          timeoutMs: 5000,
        },
      ]);
    } finally {
      await moduleRef.close();
    }
  });
});
