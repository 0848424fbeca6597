// publish() on one publisher takes a path of its own (no publishMany list and set, no
// onEveryServer): it must check, send, retry and answer exactly as publishMany([c]) did,
// and several publishers must still all get the message.
import 'reflect-metadata';
import { jest } from '@jest/globals';
import { Test } from '@nestjs/testing';
import {
  InvalidChannelNameError,
  InvalidMessageError,
  MessageTooLargeError,
  PushStreamConnectionError,
  PushStreamHttpError,
} from '../../../lib/errors/index.js';
import { PushStreamHttpClient, type PushStreamHttpRequest, type PushStreamHttpResponse } from '../../../lib/http/index.js';
import type { PushStreamModuleOptions, PushStreamServerKind } from '../../../lib/options/index.js';
import { PUSH_STREAM_SLEEP } from '../../../lib/push-stream.constants.js';
import { PushStreamModule } from '../../../lib/push-stream.module.js';
import { PushStreamService } from '../../../lib/service/index.js';

type Answer = PushStreamHttpResponse | Error;

/** Answers as the server would, unless `next` holds scripted answers (taken in order). */
class ScriptedClient extends PushStreamHttpClient {
  readonly requests: PushStreamHttpRequest[] = [];
  readonly next: Answer[] = [];
  constructor(private readonly kind: PushStreamServerKind) {
    super();
  }
  async request(req: PushStreamHttpRequest): Promise<PushStreamHttpResponse> {
    this.requests.push({ ...req });
    const scripted = this.next.shift();
    if (scripted instanceof Error) throw scripted;
    if (scripted) return scripted;
    const id = decodeURIComponent(new URL(req.url).searchParams.get('id') ?? '');
    const body =
      this.kind === 'nchan'
        ? JSON.stringify({ messages: 2, requested: 0, subscribers: 3, last_message_id: '1:0' })
        : JSON.stringify({ channel: id, published_messages: 2, stored_messages: 2, subscribers: 3 });
    return { status: this.kind === 'nchan' ? 202 : 200, headers: {}, body };
  }
}

async function make(kind: PushStreamServerKind, options: Partial<PushStreamModuleOptions> = {}, clients?: ScriptedClient) {
  const client = clients ?? new ScriptedClient(kind);
  const sleeps: number[] = [];
  const moduleRef = await Test.createTestingModule({
    imports: [
      PushStreamModule.forRoot({
        server: kind,
        publisherUrl: 'http://127.0.0.1:9/pub',
        secret: 'fast-path-secret-0123456789',
        authRoute: false,
        retry: { attempts: 3, baseDelayMs: 100, maxDelayMs: 1000 },
        ...options,
      }),
    ],
  })
    .overrideProvider(PushStreamHttpClient)
    .useValue(client)
    .overrideProvider(PUSH_STREAM_SLEEP)
    .useValue(async (ms: number) => void sleeps.push(ms))
    .compile();
  return { service: moduleRef.get(PushStreamService), client, sleeps };
}

const onEveryServer = (service: PushStreamService) => jest.spyOn(service as unknown as { onEveryServer: () => Promise<unknown[]> }, 'onEveryServer');

describe.each(['nchan', 'push-stream'] as const)('publish() on %s', (kind) => {
  afterEach(() => jest.restoreAllMocks());

  it('one publisher: one request, not through onEveryServer, and the result publishMany([c]) gives', async () => {
    const { service, client } = await make(kind);
    const multi = onEveryServer(service);
    const one = await service.publish('room1', { n: 1 }, { eventId: 'e-1', eventType: 'chat' });
    expect(multi).not.toHaveBeenCalled();
    expect(client.requests).toHaveLength(1);
    const many = await service.publishMany(['room1'], { n: 1 }, { eventId: 'e-1', eventType: 'chat' });
    expect(one).toEqual(many.infos[0]);
    expect(Object.keys(one).sort()).toEqual(Object.keys(many.infos[0]).sort());
    // The same request both ways.
    expect(client.requests[0]).toEqual(client.requests[1]);
    expect(client.requests[0]).toMatchObject({ method: 'POST', url: 'http://127.0.0.1:9/pub?id=room1', timeoutMs: 5000 });
  });

  it('a request carries timeoutMs from publishTimeoutMs, and no body field when it has no body', async () => {
    const { service, client } = await make(kind, { publishTimeoutMs: 1234 });
    await service.publish('room1', 'x');
    client.next.push({ status: 404, headers: {}, body: '' });
    await service.channelInfo('room1');
    expect(client.requests[0].timeoutMs).toBe(1234);
    expect(client.requests[1]).toMatchObject({ method: 'GET', timeoutMs: 1234 });
    expect('body' in client.requests[1]).toBe(false);
  });

  it('checks as publishMany does, before sending: channel name, event id and type, size', async () => {
    const { service, client } = await make(kind, { maxMessageBytes: 40 });
    await expect(service.publish('a/b', 'x')).rejects.toBeInstanceOf(InvalidChannelNameError);
    await expect(service.publish('room1', 'x', { eventId: 'has space' })).rejects.toBeInstanceOf(InvalidMessageError);
    await expect(service.publish('room1', 'x', { eventType: 42 as never })).rejects.toBeInstanceOf(InvalidMessageError);
    await expect(service.publish('room1', undefined)).rejects.toBeInstanceOf(InvalidMessageError);
    // 14 characters, but 3 bytes each in UTF-8: over 40 bytes.
    const err = await service.publish('room1', '✓'.repeat(14)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MessageTooLargeError);
    expect(client.requests).toHaveLength(0);
  });

  it('the size check counts bytes only when the characters could pass the limit', async () => {
    // push-stream sends the JSON string itself, Nchan its envelope. Both bodies below are short
    // enough in characters (x 3 over the limit) to need counting: 16 and 66 bytes pass.
    const limit = kind === 'nchan' ? 120 : 40;
    const { service, client } = await make(kind, { maxMessageBytes: limit });
    await service.publish('room1', 'a'.repeat(14));
    // Fewer characters than the limit, more bytes: 15 characters and 41 bytes (push-stream),
    // 80 characters and 122 bytes (Nchan).
    const bytes = kind === 'nchan' ? 'é✓'.repeat(14) : '✓'.repeat(13);
    await expect(service.publish('room1', bytes)).rejects.toBeInstanceOf(MessageTooLargeError);
    expect(client.requests).toHaveLength(1);
  });

  it('retries a retryable failure with jittered backoff, the same request each attempt', async () => {
    const { service, client, sleeps } = await make(kind);
    const random = jest.spyOn(Math, 'random').mockReturnValue(0.5);
    client.next.push({ status: 503, headers: {}, body: '' }, new PushStreamConnectionError('http://127.0.0.1:9/pub', new Error('reset')));
    await service.publish('room1', 'x');
    expect(client.requests).toHaveLength(3);
    expect(client.requests[1]).toEqual(client.requests[0]);
    expect(client.requests[2]).toEqual(client.requests[0]);
    // Full jitter: random × min(maxDelayMs, baseDelayMs × 2^(attempt-1)).
    expect(sleeps).toEqual([50, 100]);
    expect(random).toHaveBeenCalledTimes(2);
  });

  it('an HTTP error carries its status, nginx\'s explain header and retryable; 4xx is not retried', async () => {
    const { service, client, sleeps } = await make(kind);
    client.next.push({ status: 403, headers: { 'x-nginx-pushstream-explain': 'Publisher not allowed.' }, body: '' });
    const err = await service.publish('room1', 'x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PushStreamHttpError);
    expect(err).toMatchObject({ status: 403, explain: 'Publisher not allowed.', retryable: false, channels: ['room1'] });
    expect(client.requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('the headers of a success are never read (the default client builds them on demand)', async () => {
    const { service, client } = await make(kind);
    const body =
      kind === 'nchan'
        ? JSON.stringify({ messages: 1, requested: 0, subscribers: 0, last_message_id: '1:0' })
        : JSON.stringify({ channel: 'room1', published_messages: 1, stored_messages: 1, subscribers: 0 });
    const read = jest.fn(() => ({}));
    const answer = Object.defineProperty({ status: kind === 'nchan' ? 202 : 200, body }, 'headers', { get: read, enumerable: true }) as PushStreamHttpResponse;
    client.next.push(answer);
    await service.publish('room1', 'x');
    expect(read).not.toHaveBeenCalled();
  });

  it('attempts: 1 fails at once with the first error', async () => {
    const { service, client, sleeps } = await make(kind, { retry: { attempts: 1 } });
    client.next.push({ status: 500, headers: {}, body: '' });
    await expect(service.publish('room1', 'x')).rejects.toMatchObject({ status: 500, retryable: true });
    expect(client.requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it("several publishers: every one gets the message, with each node's outcome; all failing: the first node's error", async () => {
    const urls = ['http://127.0.0.1:9/pub', 'http://127.0.0.1:10/pub'];
    const { service, client } = await make(kind, { publisherUrl: urls, retry: { attempts: 1 } });
    const result = await service.publish('room1', 'x');
    expect(client.requests.map((r) => new URL(r.url).origin)).toEqual(urls.map((u) => new URL(u).origin));
    expect(result).toMatchObject({ channel: 'room1', subscribers: 6, nodes: [{ index: 0, subscribers: 3 }, { index: 1, subscribers: 3 }] });

    client.next.push({ status: 403, headers: {}, body: '' }, { status: 500, headers: {}, body: '' });
    await expect(service.publish('room1', 'x')).rejects.toMatchObject({ status: 403 });
  });
});
