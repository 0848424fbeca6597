// publishMany past one request's limits: split by each server's real limits (channel count, joined
// id length), merged in order, and a failure part way says which channels got the message.
import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import { createDialect } from '../../../lib/dialects/create-dialect.js';
import { PartialPublishError, PushStreamHttpError } from '../../../lib/errors/index.js';
import { PushStreamHttpClient, type PushStreamHttpRequest, type PushStreamHttpResponse } from '../../../lib/http/index.js';
import type { PushStreamServerKind } from '../../../lib/options/index.js';
import { PushStreamModule } from '../../../lib/push-stream.module.js';
import { PushStreamService } from '../../../lib/service/index.js';

/** Answers every publish as the server would, except the ones whose index is in `failAt` (503). */
class ScriptedClient extends PushStreamHttpClient {
  readonly requests: PushStreamHttpRequest[] = [];
  constructor(private readonly kind: PushStreamServerKind, private readonly failAt: ReadonlySet<number> = new Set()) {
    super();
  }
  async request(req: PushStreamHttpRequest): Promise<PushStreamHttpResponse> {
    this.requests.push(req);
    if (this.failAt.has(this.requests.length - 1)) return { status: 503, headers: {}, body: '' };
    const ids = decodeURIComponent(new URL(req.url).searchParams.get('id') ?? '').split('/');
    const info = (channel: string) => ({ channel, published_messages: 1, stored_messages: 1, subscribers: 1 });
    const body = this.kind === 'nchan'
      ? JSON.stringify({ messages: 1, requested: 0, subscribers: ids.length, last_message_id: '1:0' })
      : JSON.stringify(ids.length === 1 ? info(ids[0]) : { infos: ids.map(info) });
    return { status: this.kind === 'nchan' ? 202 : 200, headers: {}, body };
  }
}

async function service(kind: PushStreamServerKind, client: ScriptedClient): Promise<PushStreamService> {
  const moduleRef = await Test.createTestingModule({
    imports: [PushStreamModule.forRoot({ server: kind, publisherUrl: 'http://127.0.0.1:9/pub', secret: 'batches-secret-0123456789', authRoute: false, retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 } })],
  })
    .overrideProvider(PushStreamHttpClient)
    .useValue(client)
    .compile();
  return moduleRef.get(PushStreamService);
}

const names = (n: number, length: number) => Array.from({ length: n }, (_, i) => `c${String(i).padStart(length - 1, '0')}`);

describe.each(['nchan', 'push-stream'] as const)('publishMany on %s', (kind) => {
  const limits = createDialect(kind).publishLimits;

  it('batches never pass the server\'s limits and keep every channel once, in order', () => {
    for (const [n, length] of [[1, 5], [255, 5], [256, 5], [600, 128], [40, 100]] as const) {
      const channels = names(n, length);
      const batches = createDialect(kind).publishBatches(channels);
      expect(batches.flat()).toEqual(channels);
      for (const batch of batches) {
        expect(batch.length).toBeLessThanOrEqual(limits.channels);
        expect(batch.join('/').length).toBeLessThanOrEqual(limits.characters);
      }
      // As few as the limits allow: a batch could not have taken the next channel.
      for (let i = 0; i < batches.length - 1; i++) {
        const grown = [...batches[i], batches[i + 1][0]];
        expect(grown.length > limits.channels || grown.join('/').length > limits.characters).toBe(true);
      }
    }
  });

  it('one request while the channels fit it', async () => {
    const client = new ScriptedClient(kind);
    const result = await (await service(kind, client)).publishMany(['a', 'b', 'c'], 1);
    expect(client.requests).toHaveLength(1);
    expect(result.channels).toEqual(['a', 'b', 'c']);
  });

  it('past them, several requests whose results are merged in order', async () => {
    const client = new ScriptedClient(kind);
    const channels = names(300, 100);
    const result = await (await service(kind, client)).publishMany(channels, { n: 1 });
    const sent = client.requests.map((r) => decodeURIComponent(new URL(r.url).searchParams.get('id') ?? '').split('/'));
    expect(sent.length).toBe(createDialect(kind).publishBatches(channels).length);
    expect(sent.length).toBeGreaterThan(1);
    expect(sent.flat()).toEqual(channels);
    expect(result.channels).toEqual(channels);
    expect(result.subscribers).toBe(300);
    if (kind === 'push-stream') expect(result.infos.map((i) => i.channel)).toEqual(channels);
  });

  it('a request failing after others went through is a PartialPublishError naming both sides', async () => {
    const client = new ScriptedClient(kind, new Set([1]));
    const channels = names(300, 100);
    const error = await (await service(kind, client)).publishMany(channels, 'x').catch((e: unknown) => e);
    const first = createDialect(kind).publishBatches(channels)[0];
    expect(error).toBeInstanceOf(PartialPublishError);
    expect(error).toMatchObject({ published: first, failed: channels.slice(first.length), channels: channels.slice(first.length), status: 503, retryable: true });
    expect((error as PartialPublishError).cause).toBeInstanceOf(PushStreamHttpError);
    expect(client.requests).toHaveLength(2);
  });

  it('the first request failing is that request\'s own error: nothing was published', async () => {
    const client = new ScriptedClient(kind, new Set([0]));
    const error = await (await service(kind, client)).publishMany(names(300, 100), 'x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PushStreamHttpError);
    expect(error).not.toBeInstanceOf(PartialPublishError);
  });
});
