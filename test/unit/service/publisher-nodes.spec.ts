// Several publisherUrls (push-stream nodes, each with its own subscribers): every node's outcome,
// a failed node retried alone and never a second copy to one that answered, a typed partial error.
// And what PushStreamService reports to a PushStreamObserver.
import 'reflect-metadata';
import { Global, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  InvalidMessageError,
  PartialNodePublishError,
  PushStreamConnectionError,
  PushStreamHttpClient,
  type PushStreamHttpRequest,
  type PushStreamHttpResponse,
  PushStreamModule,
  PushStreamObserver,
  PushStreamService,
  type PublishEvent,
} from '../../../lib/index.js';
import { PUSH_STREAM_SLEEP } from '../../../lib/push-stream.constants.js';

const NODES = ['http://user:secret@10.0.0.1:9080/pub', 'http://10.0.0.2:9080/pub', 'http://10.0.0.3:9080/pub'];

/** Each node answers like push-stream with its own subscriber count, unless it is marked down. */
class Nodes extends PushStreamHttpClient {
  readonly requests: string[] = [];
  /** Origin → failures left before it answers (Infinity: down). */
  readonly down = new Map<string, number>();
  async request(req: PushStreamHttpRequest): Promise<PushStreamHttpResponse> {
    const url = new URL(req.url);
    this.requests.push(url.host);
    const left = this.down.get(url.host) ?? 0;
    if (left > 0) {
      this.down.set(url.host, left - 1);
      throw new PushStreamConnectionError(req.url, Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }));
    }
    const subscribers = Number(url.hostname.split('.').at(-1));
    return { status: 200, headers: {}, body: JSON.stringify({ channel: url.searchParams.get('id'), published_messages: 1, stored_messages: 1, subscribers }) };
  }
}

class Recorded extends PushStreamObserver {
  readonly publishes: PublishEvent[] = [];
  published(event: PublishEvent): void {
    this.publishes.push(event);
  }
  authorized(): void {}
}

@Global()
@Module({ providers: [{ provide: PushStreamObserver, useClass: Recorded }], exports: [PushStreamObserver] })
class ObserverModule {}

async function make(publisherUrl: string | string[] = NODES) {
  const nodes = new Nodes();
  const mod = await Test.createTestingModule({
    imports: [
      ObserverModule,
      PushStreamModule.forRoot({ server: 'push-stream', publisherUrl, secret: 'nodes-unit-secret-0123456789', authRoute: false, retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 1 } }),
    ],
  })
    .overrideProvider(PushStreamHttpClient)
    .useValue(nodes)
    .overrideProvider(PUSH_STREAM_SLEEP)
    .useValue(async () => undefined)
    .compile();
  return { push: mod.get(PushStreamService), nodes, observer: mod.get(PushStreamObserver) as Recorded };
}

describe('publishing to several nginx nodes', () => {
  it("names every node's outcome and sums the subscribers they reached", async () => {
    const { push } = await make();
    const result = await push.publish('my-app__all__', 'hi');
    expect(result.subscribers).toBe(1 + 2 + 3);
    expect(result.nodes).toEqual([
      { index: 0, url: 'http://***@10.0.0.1:9080/pub', subscribers: 1 },
      { index: 1, url: 'http://10.0.0.2:9080/pub', subscribers: 2 },
      { index: 2, url: 'http://10.0.0.3:9080/pub', subscribers: 3 },
    ]);
    const many = await push.publishMany(['my-app__all__', 'my-app__user__7'], 'hi');
    expect(many.nodes?.map((n) => n.index)).toEqual([0, 1, 2]);
  });

  it('retries a failing node alone, and never sends a second copy to a node that answered', async () => {
    const { push, nodes } = await make();
    nodes.down.set('10.0.0.2:9080', 2); // answers on its third attempt
    const result = await push.publish('my-app__all__', 'hi');
    expect(result.nodes?.map((n) => n.index)).toEqual([0, 1, 2]);
    expect(nodes.requests.filter((h) => h === '10.0.0.1:9080')).toHaveLength(1);
    expect(nodes.requests.filter((h) => h === '10.0.0.2:9080')).toHaveLength(3);
    expect(nodes.requests.filter((h) => h === '10.0.0.3:9080')).toHaveLength(1);
  });

  it('a node down after its retries: PartialNodePublishError says which nodes have it; publishing to the failed ones reaches only them', async () => {
    const { push, nodes } = await make();
    nodes.down.set('10.0.0.3:9080', Infinity);
    const err = (await push.publish('my-app__all__', 'hi').catch((e: unknown) => e)) as PartialNodePublishError;
    expect(err).toBeInstanceOf(PartialNodePublishError);
    expect(err.published.map((n) => n.index)).toEqual([0, 1]);
    expect(err.failed).toEqual([{ index: 2, url: 'http://10.0.0.3:9080/pub', error: expect.any(PushStreamConnectionError) }]);
    expect(err.retryable).toBe(true);
    expect(err.channels).toEqual(['my-app__all__']);
    expect(err.message).toMatch(/^Published to 2 of 3 nginx nodes; not to http:\/\/10\.0\.0\.3:9080\/pub \(node 2\): Cannot reach nginx/);
    expect(err.message).not.toContain('secret');

    nodes.down.delete('10.0.0.3:9080');
    nodes.requests.length = 0;
    const retried = await push.publish('my-app__all__', 'hi', { nodes: err.failed.map((n) => n.index) });
    expect(nodes.requests).toEqual(['10.0.0.3:9080']);
    expect(retried.nodes).toEqual([{ index: 2, url: 'http://10.0.0.3:9080/pub', subscribers: 3 }]);
  });

  it('every node down: the first error, as with one node', async () => {
    const { push, nodes } = await make();
    for (const host of ['10.0.0.1:9080', '10.0.0.2:9080', '10.0.0.3:9080']) nodes.down.set(host, Infinity);
    await expect(push.publish('my-app__all__', 'hi')).rejects.toBeInstanceOf(PushStreamConnectionError);
  });

  it('refuses nodes that are not distinct indexes of the list, before any request', async () => {
    const { push, nodes } = await make();
    for (const bad of [[], [3], [-1], [0, 0], [0.5], ['0']]) {
      await expect(push.publish('my-app__all__', 'hi', { nodes: bad as number[] })).rejects.toBeInstanceOf(InvalidMessageError);
    }
    expect(nodes.requests).toEqual([]);
    // One node: nodes: [0] is that node.
    const single = await make(NODES[1]);
    expect((await single.push.publish('my-app__all__', 'hi', { nodes: [0] })).nodes).toEqual([{ index: 0, url: NODES[1], subscribers: 2 }]);
  });
});

describe('what PushStreamService reports to a PushStreamObserver', () => {
  it('one event per publish call: channels, attempts (retries included), duration, and the error when it failed', async () => {
    const { push, nodes, observer } = await make(NODES[1]);
    await push.publish('my-app__all__', 'a');
    nodes.down.set('10.0.0.2:9080', 1);
    await push.publishMany(['my-app__all__', 'my-app__user__7'], 'b');
    nodes.down.set('10.0.0.2:9080', Infinity);
    await expect(push.publish('my-app__all__', 'c')).rejects.toBeInstanceOf(PushStreamConnectionError);
    expect(observer.publishes.map(({ durationMs, ...e }) => ({ ...e, durationMs: durationMs >= 0 }))).toEqual([
      { server: 'push-stream', channels: 1, attempts: 1, durationMs: true },
      { server: 'push-stream', channels: 2, attempts: 2, durationMs: true },
      { server: 'push-stream', channels: 1, attempts: 3, durationMs: true, error: expect.any(PushStreamConnectionError) },
    ]);
  });
});
