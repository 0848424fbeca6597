import type { Registry } from 'prom-client';

export interface PushStreamMetricsOptions {
  /** Registry to register in. Default: prom-client's global `register`. */
  registry?: Registry;
  /** Prefix of every metric name. Default `push_stream_`. */
  prefix?: string;
  /** Bound of the statistics request made at each scrape. Default 2000 ms. */
  statsTimeoutMs?: number;
  /** Buckets of the publish latency histogram, in seconds. */
  buckets?: number[];
}
