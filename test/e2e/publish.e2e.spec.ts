// Integration suite against a real nginx with Nchan, run once per transport: the default undici
// client and AxiosHttpClient on @nestjs/axios's HttpService. Both must pass the same tests.
import { Agent as HttpAgent, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpModule, HttpService } from '@nestjs/axios';
import type { DynamicModule, INestApplicationContext, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AxiosHttpClient } from '../../lib/http/axios-http-client.js';
import {
  InvalidChannelNameError,
  MessageTooLargeError,
  PushStreamTimeoutError,
  PushStreamHttpError,
  PUSH_STREAM_HTTP_CLIENT,
  PushStreamConnectionError,
  PushStreamModule,
  PushStreamService,
  UndiciHttpClient,
  type PushStreamHttpClient,
  type PushStreamModuleOptions,
} from '../../lib/index.js';
import { NginxTestServer } from '../../lib/testing/index.js';
import { AuthStubServer } from '../support/auth-stub-server.js';
import { SilentServer } from '../support/silent-server.js';
import { countRequests, E2E_SECRET, eventually, longPollOldest, uniqueChannel } from '../support/e2e-helpers.js';
import { openEventSource, openWebSocket, type WebSocketSubscriber } from '../support/subscribers.js';

const PREFIX = 'e2e';
/** Not the default (3), so the count proves the option is honoured. */
const RETRY_ATTEMPTS = 4;

let nginx: NginxTestServer;
let app: AuthStubServer;

beforeAll(async () => {
  app = await AuthStubServer.start();
  nginx = await NginxTestServer.start({ server: 'nchan', appUpstream: app.upstream });
});

afterAll(async () => {
  await nginx?.dispose();
  await app?.close();
});

function moduleOptions(): PushStreamModuleOptions {
  return {
    server: 'nchan',
    publisherUrl: nginx.publisherUrl,
    statsUrl: nginx.statsUrl,
    prefix: PREFIX,
    secret: E2E_SECRET,
    publishTimeoutMs: 2000,
    // Short backoff: the attempts are counted, not timed.
    retry: { attempts: RETRY_ATTEMPTS, baseDelayMs: 1, maxDelayMs: 5 },
  };
}

interface TransportCase {
  name: string;
  expectedClass: Type<PushStreamHttpClient>;
  module: (options: () => PushStreamModuleOptions) => { module: DynamicModule; dispose: () => void };
}

const transports: TransportCase[] = [
  {
    name: 'undici (default)',
    expectedClass: UndiciHttpClient,
    module: (options) => ({ module: PushStreamModule.forRoot({ ...options(), authRoute: false }), dispose: () => undefined }),
  },
  {
    name: 'AxiosHttpClient on @nestjs/axios with a keep-alive agent',
    expectedClass: AxiosHttpClient,
    module: (options) => {
      const httpAgent = new HttpAgent({ keepAlive: true });
      return {
        module: PushStreamModule.forRootAsync({
          imports: [HttpModule.register({ httpAgent })],
          useFactory: options,
          httpClient: AxiosHttpClient,
          authRoute: false,
        }),
        dispose: () => httpAgent.destroy(),
      };
    },
  },
];

describe.each(transports)('PushStreamService on Nchan via $name', ({ expectedClass, module }) => {
  let context: INestApplicationContext;
  let service: PushStreamService;
  let requests: ReturnType<typeof countRequests>;
  let disposeTransport: () => void;
  const open: WebSocketSubscriber[] = [];

  beforeAll(async () => {
    const wiring = module(moduleOptions);
    disposeTransport = wiring.dispose;
    context = await NestFactory.createApplicationContext(wiring.module, { logger: false, abortOnError: false });
    service = context.get(PushStreamService);
    requests = countRequests(context.get<PushStreamHttpClient>(PUSH_STREAM_HTTP_CLIENT));
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });

  afterAll(async () => {
    await context?.close();
    disposeTransport?.();
  });

  async function ws(channel: string): Promise<WebSocketSubscriber> {
    const subscriber = await openWebSocket(`${nginx.baseUrl.replace(/^http/, 'ws')}/ws/${channel}`);
    open.push(subscriber);
    return subscriber;
  }

  /** Waits until nginx counts `n` subscribers on the channel, so a publish surely reaches them. */
  async function subscribed(channel: string, n = 1): Promise<void> {
    await eventually(`${n} subscriber(s) on ${channel}`, async () => (await service.channelInfo(channel))?.subscribers === n);
  }

  it('publishes through the configured transport', () => {
    const client = context.get(PUSH_STREAM_HTTP_CLIENT);
    expect(client).toBeInstanceOf(expectedClass);
    if (expectedClass === AxiosHttpClient) {
      // The HttpModule given to forRootAsync is the one the client uses, agent included.
      const agent = context.get(HttpService).axiosRef.defaults.httpAgent as HttpAgent;
      expect(agent).toBeInstanceOf(HttpAgent);
      expect((agent as HttpAgent & { keepAlive: boolean }).keepAlive).toBe(true);
    }
  });

  describe('publish', () => {
    it('stores the message on nginx and returns the channel counters', async () => {
      const channel = uniqueChannel(PREFIX);
      const result = await service.publish(channel, { message: ['Foobar'] });

      expect(result).toEqual({
        channel,
        subscribers: 0,
        storedMessages: 1,
        publishedMessages: null,
        lastMessageId: expect.stringMatching(/^\d+:\d+$/),
      });
      // What nginx stored is the Nchan envelope around the data.
      const stored = await longPollOldest(`${nginx.baseUrl}/lp/${channel}`);
      expect(stored.status).toBe(200);
      expect(JSON.parse(stored.body)).toEqual({ channel, text: { message: ['Foobar'] }, eventid: '', type: '' });
    });

    it('counts subscribers reached', async () => {
      const channel = uniqueChannel(PREFIX);
      await ws(channel);
      await ws(channel);
      await subscribed(channel, 2);
      expect((await service.publish(channel, 'hello')).subscribers).toBe(2);
    });
  });

  describe('publishMany', () => {
    it('publishes one message to several channels in one request', async () => {
      const a = uniqueChannel(PREFIX, 'a');
      const b = uniqueChannel(PREFIX, 'b');
      const subA = await ws(a);
      const subB = await ws(b);
      await subscribed(a);
      await subscribed(b);
      requests.reset();

      const result = await service.publishMany([a, b], { n: 1 });

      expect(requests.calls).toHaveLength(1);
      expect(result).toEqual({ channels: [a, b], subscribers: 2, infos: [] });
      for (const sub of [subA, subB]) {
        expect(JSON.parse(await sub.next())).toEqual({ channel: `${a}/${b}`, text: { n: 1 }, eventid: '', type: '' });
      }
      expect((await service.channelInfo(a))?.storedMessages).toBe(1);
      expect((await service.channelInfo(b))?.storedMessages).toBe(1);
    });
  });

  describe('channelInfo', () => {
    it('returns null for a channel nginx does not know', async () => {
      expect(await service.channelInfo(uniqueChannel(PREFIX, 'never'))).toBeNull();
    });

    it('returns the counters of a channel', async () => {
      const channel = uniqueChannel(PREFIX);
      await service.publish(channel, 1);
      const last = await service.publish(channel, 2);
      await ws(channel);
      await subscribed(channel);

      expect(await service.channelInfo(channel)).toEqual({
        channel,
        subscribers: 1,
        storedMessages: 2,
        publishedMessages: null,
        lastMessageId: last.lastMessageId,
      });
    });
  });

  describe('deleteChannel', () => {
    it('tells subscribers in band, deletes the stored messages and disconnects them', async () => {
      const channel = uniqueChannel(PREFIX);
      await service.publish(channel, 'doomed');
      const sub = await ws(channel);
      await subscribed(channel);
      expect(JSON.parse(await sub.next()).text).toBe('doomed'); // replayed buffer on join

      expect(await service.deleteChannel(channel)).toBe(true);

      // Nchan closes a deleted channel's subscribers like a reload would; the notice says why.
      expect(JSON.parse(await sub.next())).toEqual({ id: -2, channel, text: 'Channel deleted', eventid: '', type: '' });
      await expect(sub.next()).rejects.toThrow(/closed/);
      // Nchan keeps an empty channel record for a while after a delete; either way nothing is stored.
      expect((await service.channelInfo(channel))?.storedMessages ?? 0).toBe(0);
    });

    it('returns false for a channel that never existed', async () => {
      expect(await service.deleteChannel(uniqueChannel(PREFIX, 'never'))).toBe(false);
    });
  });

  describe('stats', () => {
    it('reads nchan_stub_status and counts a publish', async () => {
      const before = await service.stats();
      await service.publish(uniqueChannel(PREFIX), 'counted');
      const after = await service.stats();

      expect(after.server).toBe('nchan');
      expect(after.publishedMessages).toBe(before.publishedMessages + 1);
      expect(after.storedMessages).toBe(before.storedMessages + 1);
      expect(after.channels).toBeGreaterThanOrEqual(1);
      expect(after.raw['nchan version']).toMatch(/^\d+\.\d+\.\d+$/);
    });
  });

  describe('message size', () => {
    /** Data whose Nchan envelope is exactly `bytes` long. */
    function dataOfEnvelopeSize(channel: string, bytes: number): string {
      const overhead = JSON.stringify({ channel, text: '', eventid: '', type: '' }).length;
      return 'x'.repeat(bytes - overhead);
    }

    it('accepts a message of exactly maxMessageBytes (64 KiB, nginx client_max_body_size 64k)', async () => {
      const channel = uniqueChannel(PREFIX);
      const result = await service.publish(channel, dataOfEnvelopeSize(channel, 65536));
      expect(result.storedMessages).toBe(1);
    });

    it('refuses a larger message with MessageTooLargeError before sending; nothing is stored', async () => {
      const channel = uniqueChannel(PREFIX);
      await service.publish(channel, 'small');
      const before = await service.channelInfo(channel);
      requests.reset();

      const error = await service.publish(channel, dataOfEnvelopeSize(channel, 65537)).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(MessageTooLargeError);
      expect(error).toMatchObject({ size: 65537, limit: 65536, retryable: false, channels: [channel] });
      expect(requests.calls).toHaveLength(0);
      expect(await service.channelInfo(channel)).toEqual(before);
    });
  });

  describe('channel names', () => {
    // Each of these, sent as is, would publish somewhere: "/" splits into two channels on Nchan.
    const refused = [`${PREFIX}__all__/${PREFIX}__admin__`, 'a%2Fb', 'with space', 'caf\u00e9', 'x'.repeat(129), ''];

    it.each(refused)('refuses %j with InvalidChannelNameError; nothing is published', async (name) => {
      const before = await service.stats();
      requests.reset();

      await expect(service.publish(name, 'nope')).rejects.toThrow(InvalidChannelNameError);
      await expect(service.publishMany([uniqueChannel(PREFIX), name], 'nope')).rejects.toThrow(InvalidChannelNameError);

      expect(requests.calls).toHaveLength(0);
      const after = await service.stats();
      expect(after.publishedMessages).toBe(before.publishedMessages);
      expect(after.storedMessages).toBe(before.storedMessages);
    });
  });

  describe('subscribers', () => {
    it('a WebSocket subscriber receives the envelope with event id and type', async () => {
      const channel = uniqueChannel(PREFIX);
      const sub = await ws(channel);
      await subscribed(channel);
      // nginx asked the app before letting the subscriber in, naming the channel.
      expect(app.authRequests.map((h) => h['x-push-stream-channels'])).toContain(channel);

      const result = await service.publish(channel, { message: ['Foobar'] }, { eventId: 'evt-42', eventType: 'chat' });

      expect(result.subscribers).toBe(1);
      expect(JSON.parse(await sub.next())).toEqual({
        channel,
        text: { message: ['Foobar'] },
        eventid: 'evt-42',
        type: 'chat',
      });
    });

    it('an EventSource subscriber receives the envelope, the event: line and the message id', async () => {
      const channel = uniqueChannel(PREFIX);
      const sub = await openEventSource(`${nginx.baseUrl}/ev/${channel}`);
      try {
        expect(sub.headers['content-type']).toMatch(/^text\/event-stream/);
        await subscribed(channel);

        const result = await service.publish(channel, { message: ['Foobar'] }, { eventId: 'evt-7', eventType: 'chat' });
        const frame = await sub.next();

        expect(frame.event).toBe('chat');
        expect(frame.raw).toMatch(/^event: chat$/m);
        // Nchan's own message id, which Last-Event-ID resumes from; the publisher's id is in the envelope.
        expect(frame.id).toBe(result.lastMessageId);
        expect(JSON.parse(frame.data)).toEqual({ channel, text: { message: ['Foobar'] }, eventid: 'evt-7', type: 'chat' });
      } finally {
        await sub.close();
      }
    });
  });

  describe('an nginx that accepts and never answers', () => {
    it('fails with a retryable PushStreamTimeoutError after every attempt timed out', async () => {
      const silent = await SilentServer.start();
      const wiring = module(() => ({ ...moduleOptions(), publisherUrl: silent.url, publishTimeoutMs: 150, retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 } }));
      const hung = await NestFactory.createApplicationContext(wiring.module, { logger: false, abortOnError: false });
      try {
        const calls = countRequests(hung.get<PushStreamHttpClient>(PUSH_STREAM_HTTP_CLIENT));
        const error = await hung.get(PushStreamService).publish(uniqueChannel(PREFIX), 'lost').catch((e: unknown) => e);

        expect(error).toBeInstanceOf(PushStreamTimeoutError);
        expect(error).toMatchObject({ retryable: true, message: expect.stringContaining('did not answer within 150 ms') });
        expect(calls.calls).toHaveLength(2);
        expect(silent.connections).toBeGreaterThanOrEqual(1);
      } finally {
        await hung.close();
        wiring.dispose();
        await silent.close();
      }
    });
  });

  describe('a publisher location that redirects', () => {
    it('is an error: a redirect is never followed (a POST replayed as GET would look like a success)', async () => {
      const channel = uniqueChannel(PREFIX);
      await service.publish(channel, 'first');
      const redirect = createServer((req, res) => {
        res.writeHead(302, { location: `${nginx.publisherUrl}${(req.url ?? '').replace(/^[^?]*/, '')}` }).end();
      });
      await new Promise<void>((resolve) => redirect.listen(0, '127.0.0.1', resolve));
      const port = (redirect.address() as AddressInfo).port;
      const wiring = module(() => ({ ...moduleOptions(), publisherUrl: `http://127.0.0.1:${port}/pub` }));
      const redirected = await NestFactory.createApplicationContext(wiring.module, { logger: false, abortOnError: false });
      try {
        const error = await redirected.get(PushStreamService).publish(channel, 'second').catch((e: unknown) => e);

        expect(error).toBeInstanceOf(PushStreamHttpError);
        expect(error).toMatchObject({ status: 302, retryable: false });
        expect((await service.channelInfo(channel))?.storedMessages).toBe(1);
      } finally {
        await redirected.close();
        wiring.dispose();
        redirect.closeAllConnections();
        await new Promise((resolve) => redirect.close(resolve));
      }
    });
  });

  describe('nginx stopped and started again', () => {
    it(`fails with a retryable PushStreamConnectionError after ${RETRY_ATTEMPTS} attempts, then publishes again`, async () => {
      const channel = uniqueChannel(PREFIX);
      await service.publish(channel, 'before');

      await nginx.stop();
      try {
        requests.reset();
        const error = await service.publish(channel, 'while down').catch((e: unknown) => e);

        expect(error).toBeInstanceOf(PushStreamConnectionError);
        expect(error).toMatchObject({ retryable: true });
        expect((error as Error).message).toContain(nginx.publisherUrl);
        expect(requests.calls).toHaveLength(RETRY_ATTEMPTS);
      } finally {
        await nginx.start();
      }

      // Nchan's memory store starts empty after a restart.
      const result = await service.publish(channel, 'after');
      expect(result).toMatchObject({ channel, storedMessages: 1 });
      expect(JSON.parse((await longPollOldest(`${nginx.baseUrl}/lp/${channel}`)).body).text).toBe('after');
    });
  });
});
