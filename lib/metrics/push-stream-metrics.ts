import { Inject, Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { Counter, Gauge, Histogram, type Registry, register as defaultRegistry } from 'prom-client';
import type { ServerStats } from '../dialects/push-stream-result.interface.js';
import type { PushStreamError } from '../errors/push-stream.exception.js';
import { type AuthorizationEvent, type PublishEvent, PushStreamObserver } from '../observability/push-stream-observer.js';
import { PushStreamService } from '../service/push-stream.service.js';
import type { PushStreamMetricsOptions } from './push-stream-metrics-options.interface.js';

/** Token of the options given to PushStreamMetricsModule.forRoot. */
export const PUSH_STREAM_METRICS_OPTIONS = Symbol('PUSH_STREAM_METRICS_OPTIONS');

/** The error label of a failed publish: the error's class without "PushStream" and "Error", in snake case. */
function errorLabel(error: PushStreamError): string {
  const name = error.name.replace(/^PushStream/, '').replace(/Error$/, '') || 'unknown';
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/**
 * Prometheus metrics of the library (prom-client): publishes, errors by class, retries, publish
 * latency, subscription decisions by channel kind, and the server's statistics as gauges, read
 * from nginx when Prometheus scrapes.
 */
@Injectable()
export class PushStreamMetrics extends PushStreamObserver {
  /** Where the metrics are registered: serve `registry.metrics()` with `registry.contentType`. */
  readonly registry: Registry;
  private readonly publishes: Counter<'server' | 'outcome'>;
  private readonly retries: Counter<'server'>;
  private readonly latency: Histogram<'server' | 'outcome'>;
  private readonly decisions: Counter<'decision' | 'kind'>;
  private readonly statsTimeoutMs: number;
  /** The scrape in flight: every stats gauge of one scrape shares one request to nginx. */
  private scrape: Promise<ServerStats | null> | null = null;

  constructor(
    @Inject(PUSH_STREAM_METRICS_OPTIONS) options: PushStreamMetricsOptions,
    // PushStreamService reports here, so it is looked up when first needed rather than injected.
    private readonly moduleRef: ModuleRef,
  ) {
    super();
    const registry = options.registry ?? defaultRegistry;
    const prefix = options.prefix ?? 'push_stream_';
    this.registry = registry;
    this.statsTimeoutMs = options.statsTimeoutMs ?? 2000;
    const registers = [registry];
    this.publishes = new Counter({
      name: `${prefix}publishes_total`,
      help: 'Publish calls by outcome: ok, or the error class (timeout, connection, http, partial_publish, ...)',
      labelNames: ['server', 'outcome'],
      registers,
    });
    this.retries = new Counter({ name: `${prefix}publish_retries_total`, help: 'HTTP attempts beyond the first, over all publish calls', labelNames: ['server'], registers });
    this.latency = new Histogram({
      name: `${prefix}publish_duration_seconds`,
      help: 'Publish calls from call to outcome, retries included',
      labelNames: ['server', 'outcome'],
      buckets: options.buckets ?? [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.decisions = new Counter({
      name: `${prefix}auth_decisions_total`,
      help: 'Subscription decisions, once per channel kind in the request ("invalid": refused as malformed)',
      labelNames: ['decision', 'kind'],
      registers,
    });
    // When nginx does not answer a scrape every gauge reads 0 (prom-client keeps a sample for an
    // unlabelled gauge anyway): server_up is what tells a real 0 from no answer.
    const gauge = (name: string, help: string, read: (s: ServerStats) => number) =>
      new Gauge({
        name: `${prefix}${name}`,
        help,
        registers,
        collect: async function (this: Gauge) {
          const stats = await metrics.stats();
          this.set(stats ? read(stats) : 0);
        },
      });
    const metrics = this;
    gauge('server_up', '1 when the statistics location answered this scrape, else 0 (and every server gauge 0)', () => 1);
    gauge('server_channels', 'Channels nginx holds', (s) => s.channels);
    gauge('server_subscribers', 'Subscribers connected to nginx', (s) => s.subscribers);
    gauge('server_stored_messages', 'Messages stored in channels', (s) => s.storedMessages);
    gauge('server_published_messages', 'Messages published since nginx started', (s) => s.publishedMessages);
  }

  published(event: PublishEvent): void {
    const outcome = event.error ? errorLabel(event.error) : 'ok';
    this.publishes.inc({ server: event.server, outcome });
    if (event.attempts > 1) this.retries.inc({ server: event.server }, event.attempts - 1);
    this.latency.observe({ server: event.server, outcome }, event.durationMs / 1000);
  }

  authorized(event: AuthorizationEvent): void {
    const decision = event.allowed ? 'allowed' : 'refused';
    for (const kind of event.kinds.length === 0 ? ['invalid'] : new Set(event.kinds)) this.decisions.inc({ decision, kind });
  }

  private stats(): Promise<ServerStats | null> {
    this.scrape ??= this.moduleRef
      .get(PushStreamService, { strict: false })
      .stats({ timeoutMs: this.statsTimeoutMs })
      .catch(() => null)
      .finally(() => {
        this.scrape = null;
      });
    return this.scrape;
  }
}
