// Two independent nginx nodes behind one PushStreamService (publisherUrl: [A, B]), each holding
// its own subscribers, on both servers: node B killed (SIGKILL) in the middle of a run of
// publishes. Each publish says which nodes have the message; a failed node is published to alone
// once it is back; A's subscribers get every message once.
import 'reflect-metadata';
import { Test, type TestingModule } from '@nestjs/testing';
import { PartialNodePublishError, PushStreamConnectionError, PushStreamModule, PushStreamService } from '../../lib/index.js';
import { NginxTestServer } from '../../lib/testing/index.js';
import { AuthStubServer } from '../support/auth-stub-server.js';
import { E2E_SECRET, eventually, uniqueChannel } from '../support/e2e-helpers.js';
import { sigkillNginx } from '../support/nginx-processes.js';
import { SERVERS } from '../support/servers.js';
import { openWebSocket, type WebSocketSubscriber } from '../support/subscribers.js';

const PREFIX = 'nodes';

/** Subscribers `nginx` counts on `channel`, from its own channel info (both servers answer JSON). */
async function subscribersOn(nginx: NginxTestServer, channel: string): Promise<number> {
  const res = await fetch(`${nginx.publisherUrl}?id=${channel}`, { headers: { accept: 'application/json' } });
  return res.ok ? Number(((await res.json()) as { subscribers?: unknown }).subscribers) : 0;
}

/** The `text` of every message frame received so far and still to come, until `n` arrived. */
async function texts(sub: WebSocketSubscriber, n: number): Promise<string[]> {
  const got: string[] = [];
  while (got.length < n) {
    const frame = JSON.parse(await sub.next()) as { text?: unknown };
    if (typeof frame.text === 'string') got.push(frame.text);
  }
  return got;
}

describe.each(SERVERS)('two independent nodes on %s', (server) => {
  let app: AuthStubServer;
  let a: NginxTestServer;
  let b: NginxTestServer;
  let moduleRef: TestingModule;
  let push: PushStreamService;
  const open: WebSocketSubscriber[] = [];

  beforeAll(async () => {
    app = await AuthStubServer.start();
    a = await NginxTestServer.start({ server, appUpstream: app.upstream });
    b = await NginxTestServer.start({ server, appUpstream: app.upstream });
    moduleRef = await Test.createTestingModule({
      imports: [
        PushStreamModule.forRoot({
          server,
          publisherUrl: [a.publisherUrl, b.publisherUrl],
          statsUrl: a.statsUrl,
          prefix: PREFIX,
          secret: E2E_SECRET,
          publishTimeoutMs: 1000,
          retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 10 },
          authRoute: false,
        }),
      ],
    }).compile();
    push = moduleRef.get(PushStreamService);
  });

  afterAll(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
    await moduleRef?.close();
    await a?.dispose();
    await b?.dispose();
    await app?.close();
  });

  it('a node killed mid-run: the others keep every message once; the failed one is sent only what it missed, once it is back', async () => {
    const channel = uniqueChannel(PREFIX);
    const ws = (nginx: NginxTestServer) => openWebSocket(`${nginx.baseUrl.replace(/^http/, 'ws')}/ws/${channel}`);
    const onA = await ws(a);
    const onB = await ws(b);
    open.push(onA, onB);
    // A publish before a node counts its subscriber would not reach it.
    await eventually('a subscriber counted on each node', async () => (await subscribersOn(a, channel)) === 1 && (await subscribersOn(b, channel)) === 1);
    expect((await push.publish(channel, 'probe')).nodes?.map((n) => n.subscribers)).toEqual([1, 1]);
    expect(await texts(onA, 1)).toEqual(['probe']);
    expect(await texts(onB, 1)).toEqual(['probe']);

    // 1-5 reach both nodes.
    for (let i = 1; i <= 5; i++) {
      const result = await push.publish(channel, `m${i}`, { eventId: `m${i}` });
      expect(result.nodes?.map((n) => [n.index, n.subscribers])).toEqual([
        [0, 1],
        [1, 1],
      ]);
    }
    // Master and workers at once, as a crash or an OOM kill would.
    await sigkillNginx(b.workDir);
    // 6-10 reach A only: each a typed error naming both sides, retryable.
    const missed: number[] = [];
    for (let i = 6; i <= 10; i++) {
      const err = await push.publish(channel, `m${i}`, { eventId: `m${i}` }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(PartialNodePublishError);
      const partial = err as PartialNodePublishError;
      expect(partial.published.map((n) => n.index)).toEqual([0]);
      expect(partial.failed.map((n) => [n.index, n.error.constructor])).toEqual([[1, PushStreamConnectionError]]);
      expect(partial.retryable).toBe(true);
      missed.push(i);
    }
    // A's subscriber: every message, once, in order.
    expect(await texts(onA, 10)).toEqual(Array.from({ length: 10 }, (_, i) => `m${i + 1}`));

    // B comes back (its store went with it) and gets a new subscriber; what it missed is published to it alone.
    await b.stop(); // the test server's own bookkeeping after the kill
    await b.start();
    const onB2 = await ws(b);
    open.push(onB2);
    await eventually("B's new subscriber counted", async () => (await subscribersOn(b, channel)) === 1);
    for (const i of missed) {
      const result = await push.publish(channel, `m${i}`, { eventId: `m${i}`, nodes: [1] });
      expect(result.nodes?.map((n) => n.index)).toEqual([1]);
    }
    await push.publish(channel, 'end');
    expect(await texts(onB2, missed.length + 1)).toEqual([...missed.map((i) => `m${i}`), 'end']);
    // A got 'end' and nothing of the catch-up: no message twice on a node that had it.
    expect(await texts(onA, 1)).toEqual(['end']);
  });
});
