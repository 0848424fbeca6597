// PushStreamModule's tokens: the transport and the dialect are classes that are also the types,
// so `httpClient: UndiciHttpClient` and `.overrideProvider(PushStreamHttpClient)` work. No sockets:
// undici's `factory` option stands in for the pool.
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { PushStreamModuleDialect } from '../../lib/dialects/push-stream.dialect.js';
import {
  PushStreamConfigError,
  PushStreamConnectionError,
  PushStreamDialect,
  PushStreamHttpClient,
  type PushStreamHttpRequest,
  type PushStreamHttpResponse,
  PushStreamModule,
  type PushStreamModuleOptions,
  PushStreamService,
  UndiciHttpClient,
} from '../../lib/index.js';

const base: PushStreamModuleOptions & { authRoute: false } = {
  publisherUrl: 'http://nginx.invalid/pub',
  secret: 'module-spec-secret-0123456789',
  authRoute: false,
};

let moduleRef: TestingModule | undefined;
afterEach(async () => {
  await moduleRef?.close();
  moduleRef = undefined;
});

async function compile(options: Parameters<typeof PushStreamModule.forRoot>[0]): Promise<TestingModule> {
  moduleRef = await Test.createTestingModule({ imports: [PushStreamModule.forRoot(options)] }).compile();
  return moduleRef;
}

/** undici options whose pool is never created: the factory records what undici would have used. */
function recordingPool(seen: object[]) {
  return {
    factory: (_origin: string | URL, opts: object) => {
      seen.push(opts);
      throw new Error('no network in this test');
    },
  };
}

const get: PushStreamHttpRequest = { method: 'GET', url: 'http://nginx.invalid/pub?id=a', headers: {}, timeoutMs: 1000 };

describe('PushStreamHttpClient token', () => {
  it('httpClient: UndiciHttpClient starts (its options are injected, optional) and is the token', async () => {
    const ref = await compile({ ...base, httpClient: UndiciHttpClient });
    expect(ref.get(PushStreamHttpClient)).toBeInstanceOf(UndiciHttpClient);
    expect(ref.get(PushStreamHttpClient)).toBeInstanceOf(PushStreamHttpClient);
  });

  it('the default transport is undici too, with the documented pool defaults', async () => {
    const seen: object[] = [];
    const ref = await compile({ ...base, undici: recordingPool(seen) });
    const client = ref.get(PushStreamHttpClient);
    expect(client).toBeInstanceOf(UndiciHttpClient);
    await expect(client.request(get)).rejects.toBeInstanceOf(PushStreamConnectionError);
    expect(seen).toEqual([expect.objectContaining({ connections: 32, keepAliveTimeout: 30_000, pipelining: 1 })]);
  });

  it("undici's pool options are set with the `undici` option, with forRoot and forRootAsync", async () => {
    const seen: object[] = [];
    const ref = await compile({ ...base, httpClient: UndiciHttpClient, undici: { connections: 3, keepAliveTimeout: 5_000, ...recordingPool(seen) } });
    await expect(ref.get(PushStreamHttpClient).request(get)).rejects.toBeInstanceOf(PushStreamConnectionError);
    expect(seen).toEqual([expect.objectContaining({ connections: 3, keepAliveTimeout: 5_000, pipelining: 1 })]);

    await moduleRef?.close();
    const fromFactory: object[] = [];
    moduleRef = await Test.createTestingModule({
      imports: [PushStreamModule.forRootAsync({ authRoute: false, useFactory: async () => ({ ...base, undici: { connections: 7, ...recordingPool(fromFactory) } }) })],
    }).compile();
    await expect(moduleRef.get(PushStreamHttpClient).request(get)).rejects.toBeInstanceOf(PushStreamConnectionError);
    expect(fromFactory).toEqual([expect.objectContaining({ connections: 7 })]);
  });

  it('an option given as undefined keeps its default; outside the module, new UndiciHttpClient(options) works', async () => {
    const seen: object[] = [];
    const client = new UndiciHttpClient({ connections: undefined, ...recordingPool(seen) });
    try {
      await expect(client.request(get)).rejects.toBeInstanceOf(PushStreamConnectionError);
      expect(seen).toEqual([expect.objectContaining({ connections: 32 })]);
    } finally {
      await client.onModuleDestroy();
    }
  });

  it('bad undici options stop start-up naming the field', async () => {
    await expect(compile({ ...base, undici: [] as never })).rejects.toMatchObject({ name: 'PushStreamConfigError', field: 'undici' });
    // undici's own check (a factory must be a function) is reported as the same field.
    const compiling = compile({ ...base, undici: { factory: 'pool' } as never });
    await expect(compiling).rejects.toBeInstanceOf(PushStreamConfigError);
    await expect(compiling).rejects.toMatchObject({ field: 'undici' });
  });

  it('a transport class of your own is constructed by Nest with its dependencies', async () => {
    @Injectable()
    class Clock {
      now = () => 42;
    }
    @Injectable()
    class StampingClient extends PushStreamHttpClient {
      constructor(readonly clock: Clock) {
        super();
      }
      async request(): Promise<PushStreamHttpResponse> {
        return { status: 200, headers: {}, body: JSON.stringify({ channel: 'my-app__all__', published_messages: this.clock.now(), stored_messages: 1, subscribers: 0 }) };
      }
    }
    @Module({ providers: [Clock], exports: [Clock] })
    class ClockModule {}
    moduleRef = await Test.createTestingModule({
      imports: [PushStreamModule.forRootAsync({ imports: [ClockModule], useFactory: () => base, httpClient: StampingClient, authRoute: false })],
    }).compile();
    const push = moduleRef.get(PushStreamService);
    expect((await push.publish(push.channels.all(), 'x')).publishedMessages).toBe(42);
  });

  it('.overrideProvider(PushStreamHttpClient) replaces it in a test', async () => {
    const sent: PushStreamHttpRequest[] = [];
    moduleRef = await Test.createTestingModule({ imports: [PushStreamModule.forRoot(base)] })
      .overrideProvider(PushStreamHttpClient)
      .useValue({
        async request(req: PushStreamHttpRequest): Promise<PushStreamHttpResponse> {
          sent.push(req);
          return { status: 200, headers: {}, body: '{"channel": "my-app__all__", "published_messages": 1, "stored_messages": 1, "subscribers": 2}' };
        },
      })
      .compile();
    const push = moduleRef.get(PushStreamService);
    expect((await push.publish(push.channels.all(), { hi: 1 })).subscribers).toBe(2);
    expect(sent.map((r) => r.url)).toEqual(['http://nginx.invalid/pub?id=my-app__all__']);
  });
});

describe('PushStreamDialect token', () => {
  it.each(['push-stream', 'nchan'] as const)('is the %s dialect for that server, and PushStreamService.server says which', async (server) => {
    const ref = await compile({ ...base, server });
    expect(ref.get(PushStreamDialect)).toBeInstanceOf(PushStreamDialect);
    expect(ref.get(PushStreamDialect).kind).toBe(server);
    expect(ref.get(PushStreamService).server).toBe(server);
  });

  it('.overrideProvider(PushStreamDialect) replaces it for the service', async () => {
    const replacement = new PushStreamModuleDialect();
    moduleRef = await Test.createTestingModule({ imports: [PushStreamModule.forRoot({ ...base, server: 'nchan' })] })
      .overrideProvider(PushStreamDialect)
      .useValue(replacement)
      .compile();
    expect(moduleRef.get(PushStreamDialect)).toBe(replacement);
    expect(moduleRef.get(PushStreamService).server).toBe('push-stream');
  });
});
