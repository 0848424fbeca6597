// Types of soak.mjs, for test/e2e/soak.e2e.spec.ts. Field meanings: bench/README.md, "Soak".

export type SoakServer = 'nchan' | 'push-stream';

export interface SoakOptions {
  server: SoakServer;
  /** Publishing time; startup and the drain come on top. */
  durationMs: number;
  /** Default 1000. */
  subscribers?: number;
  /** Messages per second, default 20. */
  rate?: number;
  /** Fraction of the subscribers dropping their connection each second, default 0.01. */
  churn?: number;
  /** `nginx -s reload` every this many seconds (0: never), default 20. */
  reloadEverySeconds?: number;
  /** steady (default): publishing goes on through reloads; quiet: it pauses around each reload. */
  reloadMode?: 'steady' | 'quiet';
  /** Channels the subscribers and messages are spread over, default 1. */
  channels?: number;
  sampleEveryMs?: number;
  drainTimeoutMs?: number;
  maxInFlight?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** The library's classes the soak runs on (from lib/ in the tests, from a dist/ snapshot in the CLI). */
export interface SoakLibrary {
  NginxTestServer: unknown;
  PushStreamModule: unknown;
  PushStreamService: unknown;
  NestFactory: unknown;
}

export interface MemorySummary {
  first: number | null;
  min: number | null;
  max: number | null;
  last: number | null;
  growth: number | null;
}

export interface MemorySample {
  /** Seconds since publishing started. */
  t: number;
  phase: 'start' | 'run' | 'end';
  nginxRss: number | null;
  nginxProcesses: number;
  appRss: number;
  /** V8 heap in use in the app (no forced GC): tells heap growth from RSS that is only reserved. */
  appHeapUsed: number;
  subscribersRss: number;
  open: number;
  sent: number;
  received: number;
  reconnects: number;
  doubled: number;
  reloads: number;
}

export interface Latency {
  p50: number | null;
  p99: number | null;
  max: number;
  n: number;
}

export interface SoakReport {
  server: SoakServer;
  startedAt: string;
  config: {
    durationSeconds: number;
    subscribers: number;
    ratePerSecond: number;
    churnPerSecond: number;
    reloadEverySeconds: number | null;
    reloadMode: 'steady' | 'quiet';
    channels: number;
    storedMessagesPerChannel: number;
    messageTtlSeconds: number;
    sampleEverySeconds: number;
    sourceAddresses: number;
  };
  runSeconds: number;
  sent: number;
  skippedQuiet: number;
  publishFailed: number;
  publishErrors: Record<string, number>;
  deliveries: { expected: number; delivered: number };
  lost: number;
  lostBy: { skippedLive: number; stalled: number; notResumed: number; acrossReload: number; notReconnected: number };
  beyondBuffer: number;
  doubled: number;
  doubledBy: { joinRace: number; sameConnection: number; afterResume: number };
  replayed: number;
  reconnects: number;
  churned: number;
  serverClosed: number;
  failedOpens: number;
  openFailures: Record<string, number>;
  reloads: number;
  reloadErrors: string[];
  authRequests: number;
  subscribers: { requested: number; connectedAtStart: number; neverConnected: number; openAtEnd: number; notCaughtUpAtEnd: number };
  latencyMs: Latency;
  liveLatencyMs: Latency;
  memory: { nginxRss: MemorySummary; appRss: MemorySummary; subscribersRss: MemorySummary; samples: MemorySample[] };
  nginxErrorLog: { levels: Record<string, number>; firstLines: string[]; ignoredSetrlimitAlerts: number };
  timeline: { startMs: number; reloads: Array<{ signalledMs: number; oldWorkersGoneMs: number }> };
  examples: { lost: unknown[]; doubled: unknown[] };
  problems: string[];
  ok: boolean;
}

export const SOAK_DEFAULTS: Readonly<Required<Pick<SoakOptions, 'subscribers' | 'rate' | 'churn' | 'reloadEverySeconds' | 'channels' | 'reloadMode' | 'drainTimeoutMs' | 'maxInFlight'>>>;

export function runSoak(options: SoakOptions, library: SoakLibrary): Promise<SoakReport>;

export function formatReports(reports: SoakReport[]): string;
