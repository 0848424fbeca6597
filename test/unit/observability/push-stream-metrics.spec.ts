import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import { Registry } from 'prom-client';
import { ChannelAuthorizer } from '../../../lib/auth/channel-authorizer.js';
import { CHANNELS_HEADER } from '../../../lib/auth/auth.constants.js';
import {
  PushStreamConnectionError,
  PushStreamHttpClient,
  type PushStreamHttpRequest,
  PushStreamService,
  PushStreamTickets,
  PushStreamTimeoutError,
} from '../../../lib/index.js';
import { PushStreamMetrics, PushStreamMetricsModule } from '../../../lib/metrics/index.js';
import { PushStreamRecorder, PushStreamTestingModule } from '../../../lib/testing/index.js';

/** nginx down: every request fails to connect. */
class Unreachable extends PushStreamHttpClient {
  async request(req: PushStreamHttpRequest): Promise<never> {
    throw new PushStreamConnectionError(req.url, Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
  }
}

async function setup(server: 'push-stream' | 'nchan', down = false) {
  const registry = new Registry();
  let builder = Test.createTestingModule({
    imports: [
      PushStreamTestingModule.forRoot({ server, authRoute: false, retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 } }),
      PushStreamMetricsModule.forRoot({ registry }),
    ],
  });
  if (down) builder = builder.overrideProvider(PushStreamHttpClient).useClass(Unreachable);
  const mod = await builder.compile();
  return { registry, mod, push: mod.get(PushStreamService), authorizer: mod.get(ChannelAuthorizer) };
}

/** One sample's value from the registry, or undefined when it has none. */
async function value(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  // A histogram's samples carry their own names (`<name>_count`, `_sum`, `_bucket`).
  const samples = (await registry.getMetricsAsJSON()).flatMap((m) =>
    (m.values as Array<{ value: number; labels: Record<string, unknown>; metricName?: string }>).map((v) => ({ ...v, name: v.metricName ?? m.name })),
  );
  const sample = samples.find((v) => v.name === name && Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return sample?.value;
}

describe.each(['push-stream', 'nchan'] as const)('PushStreamMetrics on %s', (server) => {
  it('counts subscription decisions once per channel kind, and malformed requests as "invalid"', async () => {
    const { registry, authorizer, push } = await setup(server);
    const all = push.channels.all();
    await authorizer.authorize({ headers: { [CHANNELS_HEADER]: `${all}/${all}` } }); // one decision for kind "all"
    await authorizer.authorize({ headers: { [CHANNELS_HEADER]: all } });
    await authorizer.authorize({ headers: { [CHANNELS_HEADER]: `${all}/${push.channels.user(7)}` } }); // no user: refused
    await authorizer.authorize({ headers: {} }); // no channels header
    await authorizer.authorize({ headers: { [CHANNELS_HEADER]: push.channels.custom('room', 1) } }); // a kind with no rule
    expect(await value(registry, 'push_stream_auth_decisions_total', { decision: 'allowed', kind: 'all' })).toBe(2);
    expect(await value(registry, 'push_stream_auth_decisions_total', { decision: 'refused', kind: 'all' })).toBeUndefined();
    expect(await value(registry, 'push_stream_auth_decisions_total', { decision: 'refused', kind: 'user' })).toBe(1);
    expect(await value(registry, 'push_stream_auth_decisions_total', { decision: 'refused', kind: 'invalid' })).toBe(2);
  });

  it('counts publishes by outcome (ok or the error class), the retries, and their latency', async () => {
    const { registry, push, mod } = await setup(server);
    const recorder = mod.get(PushStreamRecorder);
    await push.publish(push.channels.all(), 'one');
    await push.publishMany([push.channels.all(), push.channels.user(7)], 'two');
    recorder.failNextPublish(new PushStreamTimeoutError('http://push-stream.test/pub', 5)); // retried once, then answered
    await push.publish(push.channels.all(), 'three');
    recorder.failNextPublish(new PushStreamTimeoutError('http://push-stream.test/pub', 5));
    recorder.failNextPublish(new PushStreamTimeoutError('http://push-stream.test/pub', 5));
    await expect(push.publish(push.channels.all(), 'four')).rejects.toBeInstanceOf(PushStreamTimeoutError);
    expect(await value(registry, 'push_stream_publishes_total', { server, outcome: 'ok' })).toBe(3);
    expect(await value(registry, 'push_stream_publishes_total', { server, outcome: 'timeout' })).toBe(1);
    expect(await value(registry, 'push_stream_publish_retries_total', { server })).toBe(2);
    expect(await value(registry, 'push_stream_publish_duration_seconds_count', { server, outcome: 'ok' })).toBe(3);
  });

  it('says server_up 0, and 0 for every server figure, when nginx does not answer the scrape', async () => {
    const { registry } = await setup(server, true);
    const text = await registry.metrics();
    expect(text).toMatch(/^push_stream_server_up 0$/m);
    expect(text).toMatch(/^push_stream_server_channels 0$/m);
    expect(text).toMatch(/^push_stream_server_subscribers 0$/m);
  });

  it('counts the decisions PushStreamTickets.issue makes too', async () => {
    const { registry, mod, push } = await setup(server);
    await mod.get(PushStreamTickets).issue({ headers: {} }, [push.channels.all()]);
    expect(await value(registry, 'push_stream_auth_decisions_total', { decision: 'allowed', kind: 'all' })).toBe(1);
  });

  it("reads the server's statistics at scrape time into gauges, with server_up 1", async () => {
    const { registry, push, mod } = await setup(server);
    await push.publish(push.channels.all(), 'hello');
    const text = await registry.metrics();
    expect(text).toMatch(/^push_stream_server_up 1$/m);
    expect(text).toMatch(/^push_stream_server_channels \d+$/m);
    expect(text).toMatch(/^push_stream_server_subscribers \d+$/m);
    expect(mod.get(PushStreamMetrics).registry).toBe(registry);
  });
});
