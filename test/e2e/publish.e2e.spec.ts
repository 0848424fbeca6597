// Integration suite against a real nginx, once per server (Nchan and the Push Stream Module) and,
// for what goes through the HTTP client, once per transport: the default undici client and
// AxiosHttpClient on @nestjs/axios's HttpService. What the two servers answer differently is in
// SERVER_CASES below; every test asserts the same things on both.
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
  PushStreamConnectionError,
  PushStreamModule,
  PushStreamService,
  UndiciHttpClient,
  type ChannelInfo,
  type PublishResult,
  PushStreamHttpClient,
  type PushStreamModuleOptions,
  type PushStreamServerKind,
  type ServerStats,
} from '../../lib/index.js';
import { NginxTestServer } from '../../lib/testing/index.js';
import { AuthStubServer } from '../support/auth-stub-server.js';
import { SilentServer } from '../support/silent-server.js';
import { countRequests, E2E_SECRET, eventually, jsonMessages, longPoll, uniqueChannel } from '../support/e2e-helpers.js';
import { SERVERS } from '../support/servers.js';
import { openEventSource, openStream, openWebSocket, type WebSocketSubscriber } from '../support/subscribers.js';

const PREFIX = 'e2e';
/** Not the default (3), so the count proves the option is honoured. */
const RETRY_ATTEMPTS = 4;

/** How a message was published, for what its subscribers get. */
interface Sent {
  /** Its number in the channel (push-stream's ~id~): 1 for the first message. */
  id: number;
  eventId?: string;
  eventType?: string;
  /** Every channel of a publishMany. */
  to?: readonly string[];
}

/** Everything the two servers answer differently. */
interface ServerCase {
  /** A message as a subscriber of `channel` gets it, in every mode (and long polls): parsed JSON. */
  message(channel: string, text: unknown, sent: Sent): Record<string, unknown>;
  /** The channel-deleted notice, in every mode. */
  deleted(channel: string): Record<string, unknown>;
  /** Lines /sub/ sends as soon as it subscribes, before any message. */
  streamOpening: Record<string, unknown>[];
  /** ChannelInfo.publishedMessages of a channel with `n` publishes. */
  publishedMessages(n: number): number | null;
  /** ChannelInfo.lastMessageId. */
  lastMessageId: unknown;
  /** publishMany's per-channel counters. */
  manyInfos(infos: ChannelInfo[]): ChannelInfo[];
  /** Subscriber path of `channel` asking for its stored messages on join. */
  withHistory(channel: string): string;
  /** What a long poll from the start of a channel answers. */
  fromStart<T>(stored: T[]): T[];
  /** The EventSource `id:` line of a message. */
  eventSourceId(result: PublishResult, eventId: string): string | undefined;
  /** Query args resuming a long poll after the answer that carried these Etag / Last-Modified headers. */
  resumeQuery(etag: string, lastModified: string): string;
  /** stats().raw, given the counters parsed from it. */
  statsRaw(stats: ServerStats): Record<string, unknown>;
  /** Bytes nginx gets for the data '' on `channel`: what a message costs beyond its data. */
  overhead(channel: string): number;
}

const HTTP_DATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;
/** push-stream's fields for a ping or a notice: neither is a stored message. */
const NOT_STORED = { eventid: '', type: '', time: 'Thu, 01 Jan 1970 00:00:00 GMT', tag: 0 };

const SERVER_CASES: Record<PushStreamServerKind, ServerCase> = {
  // The library wraps each message in an envelope; Nchan stores and delivers it as is.
  nchan: {
    message: (channel, text, { eventId = '', eventType = '', to = [channel] }) => ({ channel: to.join('/'), text, eventid: eventId, type: eventType }),
    // Published by the library just before the delete (Nchan's own 410 says nothing a browser can read).
    deleted: (channel) => ({ id: -2, channel, text: 'Channel deleted', eventid: '', type: '' }),
    streamOpening: [],
    publishedMessages: () => null,
    lastMessageId: expect.stringMatching(/^\d+:\d+$/),
    manyInfos: () => [], // Nchan sums a multi-channel publish into one answer
    withHistory: (channel) => channel, // replays its buffer on join
    fromStart: (stored) => stored.slice(0, 1), // the oldest message; the next poll resumes after it
    eventSourceId: (result) => result.lastMessageId,
    resumeQuery: (etag, lastModified) => `?last_event_id=${Date.parse(lastModified) / 1000}:${etag}`,
    statsRaw: (stats) =>
      expect.objectContaining({
        'total published messages': stats.publishedMessages,
        'stored messages': stats.storedMessages,
        channels: stats.channels,
        subscribers: stats.subscribers,
        'nchan version': expect.stringMatching(/^\d+\.\d+\.\d+$/),
      }),
    overhead: (channel) => JSON.stringify({ channel, text: '', eventid: '', type: '' }).length,
  },
  // The data travels as is; subscribers get it through the JSON message templates of push-stream.conf.template.
  'push-stream': {
    message: (channel, text, { id, eventId = '', eventType = '' }) => ({
      id,
      channel,
      text,
      eventid: eventId,
      type: eventType,
      time: expect.stringMatching(HTTP_DATE),
      tag: expect.any(Number),
    }),
    deleted: (channel) => ({ id: -2, channel, text: 'Channel deleted', ...NOT_STORED }),
    // The header template: a ping line, so nginx sends the status line and headers at once.
    streamOpening: [{ id: -1, channel: '', text: '', ...NOT_STORED }],
    publishedMessages: (n) => n,
    lastMessageId: undefined,
    manyInfos: (infos) => infos,
    withHistory: (channel) => `${channel}.b20`, // only new messages unless asked
    fromStart: (stored) => stored, // every message after the position, concatenated
    eventSourceId: (_result, eventId) => eventId, // the publisher's Event-ID
    resumeQuery: (etag, lastModified) => `?tag=${etag.replace(/^W\//, '')}&time=${encodeURIComponent(lastModified)}`,
    statsRaw: (stats) => ({
      hostname: expect.any(String),
      time: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/),
      channels: stats.channels,
      wildcard_channels: 0,
      published_messages: stats.publishedMessages,
      stored_messages: stats.storedMessages,
      messages_in_trash: expect.any(Number),
      channels_in_delete: expect.any(Number),
      channels_in_trash: expect.any(Number),
      subscribers: stats.subscribers,
      uptime: expect.any(Number),
      // One entry per worker process, each counting its own subscribers.
      by_worker: expect.arrayContaining([{ pid: expect.stringMatching(/^\d+$/), subscribers: expect.any(Number), uptime: expect.any(Number) }]),
    }),
    overhead: () => JSON.stringify('').length,
  },
};

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

function moduleOptions(server: PushStreamServerKind, publisherUrl: string, statsUrl: string): PushStreamModuleOptions {
  return {
    server,
    publisherUrl,
    statsUrl,
    prefix: PREFIX,
    secret: E2E_SECRET,
    publishTimeoutMs: 2000,
    // Short backoff: the attempts are counted, not timed.
    retry: { attempts: RETRY_ATTEMPTS, baseDelayMs: 1, maxDelayMs: 5 },
  };
}

/** A Nest application context publishing through `transport`, with its requests counted. */
async function connect(transport: TransportCase, options: () => PushStreamModuleOptions) {
  const wiring = transport.module(options);
  const context = await NestFactory.createApplicationContext(wiring.module, { logger: false, abortOnError: false });
  return {
    context,
    service: context.get(PushStreamService),
    requests: countRequests(context.get(PushStreamHttpClient)),
    close: async () => {
      await context.close();
      wiring.dispose();
    },
  };
}

describe.each(SERVERS)('on %s', (server) => {
  const S = SERVER_CASES[server];
  let nginx: NginxTestServer;
  let app: AuthStubServer;

  beforeAll(async () => {
    app = await AuthStubServer.start();
    nginx = await NginxTestServer.start({ server, appUpstream: app.upstream });
  });

  afterAll(async () => {
    await nginx?.dispose();
    await app?.close();
  });

  const options = () => moduleOptions(server, nginx.publisherUrl, nginx.statsUrl);

  /** Subscribers of the current test, closed after it, and the service they subscribe through. */
  function subscriberKit(getService: () => PushStreamService) {
    const open: WebSocketSubscriber[] = [];
    afterEach(async () => {
      await Promise.all(open.splice(0).map((s) => s.close()));
    });
    return {
      /** A WebSocket subscriber of `path` (a channel, or a channel with history). */
      ws: async (path: string): Promise<WebSocketSubscriber> => {
        const subscriber = await openWebSocket(`${nginx.baseUrl.replace(/^http/, 'ws')}/ws/${path}`);
        open.push(subscriber);
        return subscriber;
      },
      /** Waits until nginx counts `n` subscribers on the channel, so a publish surely reaches them. */
      subscribed: async (channel: string, n = 1): Promise<void> => {
        await eventually(`${n} subscriber(s) on ${channel}`, async () => (await getService().channelInfo(channel))?.subscribers === n);
      },
      /** The channel's messages a long poll from its start answers, parsed. */
      stored: async (channel: string): Promise<unknown[]> => {
        const answer = await longPoll(`${nginx.baseUrl}/lp/${S.withHistory(channel)}`);
        expect(answer.status).toBe(200);
        return jsonMessages(answer.body);
      },
    };
  }

  describe.each(transports)('PushStreamService via $name', (transport) => {
    let context: INestApplicationContext;
    let service: PushStreamService;
    let requests: ReturnType<typeof countRequests>;
    let close: () => Promise<void>;
    const { ws, subscribed, stored } = subscriberKit(() => service);

    beforeAll(async () => {
      ({ context, service, requests, close } = await connect(transport, options));
    });

    afterAll(async () => {
      await close?.();
    });

    it('publishes through the configured transport', () => {
      const client = context.get(PushStreamHttpClient);
      expect(client).toBeInstanceOf(transport.expectedClass);
      if (transport.expectedClass === AxiosHttpClient) {
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
          publishedMessages: S.publishedMessages(1),
          lastMessageId: S.lastMessageId,
        });
        expect(await stored(channel)).toEqual([S.message(channel, { message: ['Foobar'] }, { id: 1 })]);
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
        const counters = (channel: string) => ({ channel, subscribers: 1, storedMessages: 1, publishedMessages: 1 });
        expect(result).toEqual({ channels: [a, b], subscribers: 2, infos: S.manyInfos([counters(a), counters(b)]) });
        expect(JSON.parse(await subA.next())).toEqual(S.message(a, { n: 1 }, { id: 1, to: [a, b] }));
        expect(JSON.parse(await subB.next())).toEqual(S.message(b, { n: 1 }, { id: 1, to: [a, b] }));
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
          publishedMessages: S.publishedMessages(2),
          lastMessageId: last.lastMessageId,
        });
      });
    });

    describe('deleteChannel', () => {
      it('tells subscribers in band, deletes the stored messages and disconnects them', async () => {
        const channel = uniqueChannel(PREFIX);
        await service.publish(channel, 'doomed');
        const sub = await ws(S.withHistory(channel));
        await subscribed(channel);
        expect(JSON.parse(await sub.next())).toEqual(S.message(channel, 'doomed', { id: 1 })); // stored, replayed on join

        expect(await service.deleteChannel(channel)).toBe(true);

        expect(JSON.parse(await sub.next())).toEqual(S.deleted(channel));
        await expect(sub.next()).rejects.toThrow(/closed/);
        // Nchan keeps an empty channel record for a while after a delete; either way nothing is stored.
        expect((await service.channelInfo(channel))?.storedMessages ?? 0).toBe(0);
      });

      it('returns false for a channel that never existed', async () => {
        expect(await service.deleteChannel(uniqueChannel(PREFIX, 'never'))).toBe(false);
      });
    });

    describe('stats', () => {
      it('reads the statistics location and counts a publish; raw keeps every field', async () => {
        const before = await service.stats();
        await service.publish(uniqueChannel(PREFIX), 'counted');
        const after = await service.stats();

        expect(after.server).toBe(server);
        expect(after.publishedMessages).toBe(before.publishedMessages + 1);
        expect(after.storedMessages).toBe(before.storedMessages + 1);
        expect(after.channels).toBeGreaterThanOrEqual(1);
        expect(after.raw).toEqual(S.statsRaw(after));
        const workers = after.raw.by_worker;
        if (Array.isArray(workers)) {
          // One entry per worker process, adding up to the total.
          expect(workers.length).toBeGreaterThanOrEqual(1);
          const counts = workers.map((w) => (w !== null && typeof w === 'object' && !Array.isArray(w) ? w.subscribers : null));
          expect(counts.reduce<number>((n, c) => n + (typeof c === 'number' ? c : NaN), 0)).toBe(after.subscribers);
        }
      });
    });

    describe('message size', () => {
      it('accepts a message of exactly maxMessageBytes (64 KiB, nginx client_max_body_size 64k)', async () => {
        const channel = uniqueChannel(PREFIX);
        const result = await service.publish(channel, 'x'.repeat(65536 - S.overhead(channel)));
        expect(result.storedMessages).toBe(1);
      });
    });

    describe('subscribers', () => {
      it('a WebSocket subscriber receives the message with event id and type', async () => {
        const channel = uniqueChannel(PREFIX);
        const sub = await ws(channel);
        await subscribed(channel);
        // nginx asked the app before letting the subscriber in, naming the channel.
        expect(app.authRequests.map((h) => h['x-push-stream-channels'])).toContain(channel);

        const result = await service.publish(channel, { message: ['Foobar'] }, { eventId: 'evt-42', eventType: 'chat' });

        expect(result.subscribers).toBe(1);
        expect(JSON.parse(await sub.next())).toEqual(
          S.message(channel, { message: ['Foobar'] }, { id: 1, eventId: 'evt-42', eventType: 'chat' }),
        );
      });

      it('an EventSource subscriber receives the message, the event: line and the message id', async () => {
        const channel = uniqueChannel(PREFIX);
        const sub = await openEventSource(`${nginx.baseUrl}/ev/${channel}`);
        try {
          expect(sub.headers['content-type']).toMatch(/^text\/event-stream/);
          await subscribed(channel);

          const result = await service.publish(channel, { message: ['Foobar'] }, { eventId: 'evt-7', eventType: 'chat' });
          const frame = await sub.next();

          expect(frame.event).toBe('chat');
          expect(frame.raw).toMatch(/^event: chat$/m);
          // What Last-Event-ID resumes from: Nchan's own message id, push-stream's Event-ID.
          expect(frame.id).toBe(S.eventSourceId(result, 'evt-7'));
          expect(JSON.parse(frame.data)).toEqual(S.message(channel, { message: ['Foobar'] }, { id: 1, eventId: 'evt-7', eventType: 'chat' }));
        } finally {
          await sub.close();
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
        const redirected = await connect(transport, () => ({ ...options(), publisherUrl: `http://127.0.0.1:${port}/pub` }));
        try {
          const error = await redirected.service.publish(channel, 'second').catch((e: unknown) => e);

          expect(error).toBeInstanceOf(PushStreamHttpError);
          expect(error).toMatchObject({ status: 302, retryable: false });
          expect((await service.channelInfo(channel))?.storedMessages).toBe(1);
        } finally {
          await redirected.close();
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

        // Both keep messages in shared memory only: a restart starts empty.
        const result = await service.publish(channel, 'after');
        expect(result).toMatchObject({ channel, storedMessages: 1 });
        expect(await stored(channel)).toEqual([S.message(channel, 'after', { id: 1 })]);
      });
    });
  });

  // Refused before anything is sent, or about what nginx sends subscribers: the transport plays no
  // part, so these run once per server, publishing through the default client.
  describe('PushStreamService and nginx, independent of the transport', () => {
    let service: PushStreamService;
    let requests: ReturnType<typeof countRequests>;
    let close: () => Promise<void>;
    const { ws, subscribed, stored } = subscriberKit(() => service);

    beforeAll(async () => {
      ({ service, requests, close } = await connect(transports[0], options));
    });

    afterAll(async () => {
      await close?.();
    });

    it('refuses a message larger than maxMessageBytes with MessageTooLargeError before sending; nothing is stored', async () => {
      const channel = uniqueChannel(PREFIX);
      await service.publish(channel, 'small');
      const before = await service.channelInfo(channel);
      requests.reset();

      const error = await service.publish(channel, 'x'.repeat(65537 - S.overhead(channel))).catch((e: unknown) => e);

      expect(error).toBeInstanceOf(MessageTooLargeError);
      expect(error).toMatchObject({ size: 65537, limit: 65536, retryable: false, channels: [channel] });
      expect(requests.calls).toHaveLength(0);
      expect(await service.channelInfo(channel)).toEqual(before);
    });

    it('publishMany at any size: 300 channels of 128 characters in as few requests as the server accepts, every one stored', async () => {
      // 300 x 129 characters: 38,700, far past both servers' limit for one request.
      const base = uniqueChannel(PREFIX, 'm');
      const channels = Array.from({ length: 300 }, (_, i) => `${base}-${i}-`.padEnd(128, 'x'));
      const first = await ws(channels[0]);
      const last = await ws(channels[299]);
      await subscribed(channels[0]);
      await subscribed(channels[299]);
      requests.reset();

      const result = await service.publishMany(channels, { n: 300 });

      expect(result.channels).toEqual(channels);
      expect(result.subscribers).toBe(2);
      expect(requests.calls.length).toBeGreaterThan(1);
      expect(requests.calls.every((c) => c.url.length < 8192)).toBe(true);
      for (const sub of [first, last]) expect(JSON.parse(await sub.next())).toMatchObject({ text: { n: 300 } });
      for (const channel of [channels[1], channels[150], channels[298]]) expect((await service.channelInfo(channel))?.storedMessages).toBe(1);
    });

    describe('channel names', () => {
      // Each of these, sent as is, would publish somewhere: "/" splits into two channels on both servers.
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

    it('the channel-deleted notice is valid JSON in every subscriber mode (/ws/, /ev/, /lp/, /sub/), then each is disconnected', async () => {
      const channel = uniqueChannel(PREFIX);
      const base = nginx.baseUrl;
      const socket = await ws(channel);
      const events = await openEventSource(`${base}/ev/${channel}`);
      const stream = await openStream(`${base}/sub/${channel}`);
      const poll = longPoll(`${base}/lp/${channel}`); // waits: the channel has no message yet
      poll.catch(() => undefined); // awaited below; a failure before that must not go unhandled
      try {
        await subscribed(channel, 4);
        for (const line of S.streamOpening) expect(JSON.parse(await stream.nextLine())).toEqual(line);

        expect(await service.deleteChannel(channel)).toBe(true);

        const notice = S.deleted(channel);
        expect(JSON.parse(await socket.next())).toEqual(notice);
        expect(JSON.parse((await events.next()).data)).toEqual(notice);
        expect(jsonMessages((await poll).body)).toEqual([notice]);
        expect(JSON.parse(await stream.nextLine())).toEqual(notice);
        // Nothing follows the notice: every connection is closed by nginx.
        await expect(socket.next()).rejects.toThrow(/closed/);
        await expect(events.next()).rejects.toThrow(/closed/);
        expect(await stream.ended()).toEqual([]);
      } finally {
        await events.close();
        await stream.close();
      }
    });

    it('/sub/ sends the status line and headers at once, before any message; every line is JSON', async () => {
      const channel = uniqueChannel(PREFIX);
      // Resolves on the status line and headers: nothing is published yet.
      const stream = await openStream(`${nginx.baseUrl}/sub/${channel}`);
      try {
        expect(stream.status).toBe(200);
        await subscribed(channel);
        for (const line of S.streamOpening) expect(JSON.parse(await stream.nextLine())).toEqual(line);

        await service.publish(channel, { message: ['Foobar'] }, { eventId: 'evt-1', eventType: 'chat' });

        expect(JSON.parse(await stream.nextLine())).toEqual(S.message(channel, { message: ['Foobar'] }, { id: 1, eventId: 'evt-1', eventType: 'chat' }));
      } finally {
        await stream.close();
      }
    });

    it('a long poll resumes after the message its Etag / Last-Modified name: as If-None-Match / If-Modified-Since (pushstream.js) or as query args', async () => {
      const channel = uniqueChannel(PREFIX);
      const older = S.message(channel, 'older', { id: 1 });
      const newer = S.message(channel, 'newer', { id: 2 });
      await service.publish(channel, 'older');
      const first = await longPoll(`${nginx.baseUrl}/lp/${S.withHistory(channel)}`);
      expect(jsonMessages(first.body)).toEqual([older]);
      const etag = String(first.headers.etag);
      const lastModified = String(first.headers['last-modified']);
      expect(lastModified).toMatch(HTTP_DATE);

      await service.publish(channel, 'newer');

      // A poll that ignored the position would wait for a message after 'newer', and fail at its bound.
      const byHeaders = await longPoll(`${nginx.baseUrl}/lp/${channel}`, { 'if-none-match': etag, 'if-modified-since': lastModified });
      expect([byHeaders.status, jsonMessages(byHeaders.body)]).toEqual([200, [newer]]);
      const byQuery = await longPoll(`${nginx.baseUrl}/lp/${channel}${S.resumeQuery(etag, lastModified)}`);
      expect([byQuery.status, jsonMessages(byQuery.body)]).toEqual([200, [newer]]);
      // From the start: Nchan answers the oldest message, push-stream every one.
      expect(await stored(channel)).toEqual(S.fromStart([older, newer]));
    });
  });
});

// No nginx involved: the same for both servers.
describe.each(transports)('PushStreamService via $name and an nginx that accepts and never answers', (transport) => {
  it('fails with a retryable PushStreamTimeoutError after every attempt timed out', async () => {
    const silent = await SilentServer.start();
    const hung = await connect(transport, () => ({
      ...moduleOptions(SERVERS[0], silent.url, silent.url),
      publishTimeoutMs: 150,
      retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
    }));
    try {
      const error = await hung.service.publish(uniqueChannel(PREFIX), 'lost').catch((e: unknown) => e);

      expect(error).toBeInstanceOf(PushStreamTimeoutError);
      expect(error).toMatchObject({ retryable: true, message: expect.stringContaining('did not answer within 150 ms') });
      expect(hung.requests.calls).toHaveLength(2);
      expect(silent.connections).toBeGreaterThanOrEqual(1);
    } finally {
      await hung.close();
      await silent.close();
    }
  });
});
