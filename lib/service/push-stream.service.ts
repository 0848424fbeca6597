import { Inject, Injectable, Optional } from '@nestjs/common';
import { PushStreamChannels } from '../channels/push-stream-channels.js';
import { type DialectRequest, PushStreamDialect } from '../dialects/push-stream-dialect.interface.js';
import type {
  ChannelInfo,
  PublisherNodeOutcome,
  PublishManyResult,
  PublishOptions,
  PublishResult,
  ServerStats,
} from '../dialects/push-stream-result.interface.js';
import {
  ChannelSetTooLargeError,
  PushStreamConfigError,
  InvalidChannelNameError,
  InvalidMessageError,
  MessageTooLargeError,
  type FailedPublisherNode,
  PartialNodePublishError,
  PartialPublishError,
  PushStreamError,
  PushStreamHttpError,
  redactUrl,
} from '../errors/push-stream.exception.js';
import { PushStreamHttpClient, type PushStreamHttpRequest, type PushStreamHttpResponse } from '../http/http-client.interface.js';
import { PushStreamObserver } from '../observability/push-stream-observer.js';
import type { PushStreamServerKind, ResolvedPushStreamOptions, RetryPolicy } from '../options/push-stream-options.interface.js';
import { PUSH_STREAM_RESOLVED_OPTIONS, PUSH_STREAM_SLEEP } from '../push-stream.constants.js';
import type { HealthCheck, HealthOptions, HealthReport, HealthWorker } from './health.interface.js';
import { backoffDelay, type Sleep, shouldRetry } from './retry.js';
import type { RevocationResult } from './revocation.interface.js';
import { subscriberChannelPath, subscriberUrlsOf } from './subscriber-channel-path.js';
import type { SubscriberUrlOptions, SubscriberUrls } from './subscriber-urls.interface.js';

/** Event ids and types go into headers and, raw, into push-stream's JSON templates. */
const EVENT_FIELD = /^[A-Za-z0-9_.:-]{1,128}$/;
/**
 * Channels health() asks about, `<prefix>__health__<n>`. On Nchan every channel has an owner
 * worker (a hash of its name modulo the worker count), so this many names reach every worker of
 * any usual count. An info request does not create the channel.
 */
const HEALTH_PROBE_CHANNELS = 16;
const NO_RETRY: RetryPolicy = { attempts: 1, baseDelayMs: 0, maxDelayMs: 0 };

/** HTTP attempts made by one publish call, for the observer. */
interface AttemptCounter {
  attempts: number;
}

/**
 * Publishes messages and manages channels on nginx. Every channel name is validated and every
 * message encoded and size-checked before any request; failures are PushStreamError subclasses.
 */
@Injectable()
export class PushStreamService {
  constructor(
    @Inject(PUSH_STREAM_RESOLVED_OPTIONS) private readonly options: ResolvedPushStreamOptions,
    @Inject(PushStreamHttpClient) private readonly http: PushStreamHttpClient,
    @Inject(PushStreamDialect) private readonly dialect: PushStreamDialect,
    @Inject(PUSH_STREAM_SLEEP) private readonly sleep: Sleep,
    readonly channels: PushStreamChannels,
    @Optional() private readonly observer?: PushStreamObserver,
  ) {}

  /** The configured server (the `server` option): `push-stream` or `nchan`. */
  get server(): PushStreamServerKind {
    return this.dialect.kind;
  }

  /** Publishes `data` (JSON-encoded; a string becomes a JSON string) to one channel. */
  async publish(channel: string, data: unknown, options: PublishOptions = {}): Promise<PublishResult> {
    // The checks of publishMany, without its list, set and batching: one channel is one request.
    const names = [this.channels.validate(channel)];
    this.checkPublishOptions(options, names);
    const result = this.observer === undefined ? await this.publishBatch(names, data, options) : await this.observed(1, (counter) => this.publishBatch(names, data, options, counter));
    const info = result.infos[0] ?? { channel: names[0], subscribers: result.subscribers, storedMessages: 0, publishedMessages: null };
    return result.nodes === undefined ? info : { ...info, subscribers: result.subscribers, nodes: result.nodes };
  }

  /**
   * Publishes one message to several channels: one request when the server accepts them all at
   * once, else as few as its limits need (channel count, joined id length), in order. A failure
   * after some requests went through is a PartialPublishError naming both sides.
   */
  async publishMany(channels: readonly string[], data: unknown, options: PublishOptions = {}): Promise<PublishManyResult> {
    if (!Array.isArray(channels) || channels.length === 0) {
      throw new InvalidChannelNameError('', 'publishMany needs at least one channel');
    }
    const names = channels.map((c) => this.channels.validate(c));
    if (new Set(names).size !== names.length) throw new InvalidChannelNameError(names.join(','), 'a channel is named twice');
    this.checkPublishOptions(options, names);
    if (this.observer === undefined) return this.publishBatches(names, data, options);
    return this.observed(names.length, (counter) => this.publishBatches(names, data, options, counter));
  }

  /** Reports one publish call to the observer: attempts, duration and the error, if any. */
  private async observed<T>(channels: number, run: (counter: AttemptCounter) => Promise<T>): Promise<T> {
    const counter: AttemptCounter = { attempts: 0 };
    const started = performance.now();
    const report = (error?: PushStreamError) =>
      this.observer!.published({ server: this.dialect.kind, channels, attempts: counter.attempts, durationMs: performance.now() - started, ...(error ? { error } : {}) });
    try {
      const result = await run(counter);
      report();
      return result;
    } catch (err) {
      report(err instanceof PushStreamError ? err : new PushStreamError(String(err), { cause: err }));
      throw err;
    }
  }

  /** publishMany after its checks: as few requests as the server's limits need, in order. */
  private async publishBatches(names: string[], data: unknown, options: PublishOptions, counter?: AttemptCounter): Promise<PublishManyResult> {
    const batches = this.dialect.publishBatches(names);
    if (batches.length === 1) return this.publishBatch(names, data, options, counter);
    const merged: PublishManyResult = { channels: [], subscribers: 0, infos: [] };
    for (const batch of batches) {
      const result = await this.publishBatch(batch, data, options, counter).catch((err: unknown) => {
        if (merged.channels.length === 0 || !(err instanceof PushStreamError)) throw err;
        throw new PartialPublishError(merged.channels, names.slice(merged.channels.length), err);
      });
      merged.channels.push(...result.channels);
      merged.subscribers += result.subscribers;
      merged.infos.push(...result.infos);
    }
    return merged;
  }

  /** Every field of the publish options (event id and type) must be safe in a header and raw in a template. */
  private checkPublishOptions(options: PublishOptions, names: readonly string[]): void {
    for (const field of Object.keys(options)) {
      if (field === 'nodes') {
        this.checkNodes(options.nodes, names);
        continue;
      }
      const value: unknown = options[field as keyof PublishOptions];
      if (value !== undefined && (typeof value !== 'string' || !EVENT_FIELD.test(value))) {
        throw new InvalidMessageError(`${field} must be 1-128 of letters, digits, "_", ".", ":" or "-"`, names);
      }
    }
  }

  /** `nodes`: distinct indexes into the publisherUrl list, at least one. */
  private checkNodes(nodes: unknown, names: readonly string[]): void {
    if (nodes === undefined) return;
    const count = this.options.publisherUrls.length;
    if (
      !Array.isArray(nodes) ||
      nodes.length === 0 ||
      new Set(nodes).size !== nodes.length ||
      !nodes.every((n) => Number.isInteger(n) && n >= 0 && n < count)
    ) {
      throw new InvalidMessageError(`nodes must be distinct indexes into the ${count} publisherUrl(s), 0 to ${count - 1}, got ${JSON.stringify(nodes)}`, names);
    }
  }

  /** One publish request per node for channels the server accepts together. */
  private async publishBatch(names: string[], data: unknown, options: PublishOptions, counter?: AttemptCounter): Promise<PublishManyResult> {
    const urls = this.options.publisherUrls;
    // One publisher, the usual case: its answer directly, without the per-node bookkeeping.
    if (urls.length === 1 && options.nodes === undefined) {
      const body = this.encode(data, names, options);
      return this.dialect.parsePublish(names, await this.send(this.dialect.publishRequest(urls[0], names, body, options), 'publish', names, false, undefined, counter));
    }
    const { nodes, ...event } = options;
    const body = this.encode(data, names, event);
    const indexes = nodes ?? urls.map((_, i) => i);
    // Each node on its own, with its own retries: one that answered is never sent the message again.
    const settled = await Promise.allSettled(
      indexes.map(async (index) =>
        this.dialect.parsePublish(names, await this.send(this.dialect.publishRequest(urls[index], names, body, event), 'publish', names, false, undefined, counter)),
      ),
    );
    const answered: Array<{ outcome: PublisherNodeOutcome; result: PublishManyResult }> = [];
    const failed: FailedPublisherNode[] = [];
    settled.forEach((s, i) => {
      const index = indexes[i];
      const url = redactUrl(urls[index]);
      if (s.status === 'fulfilled') answered.push({ outcome: { index, url, subscribers: s.value.subscribers }, result: s.value });
      else failed.push({ index, url, error: s.reason instanceof PushStreamError ? s.reason : new PushStreamError(String(s.reason), { cause: s.reason }) });
    });
    // Nobody has it: the first node's error, as with one node (a plain retry is right).
    if (answered.length === 0) throw failed[0].error;
    if (failed.length > 0) throw new PartialNodePublishError(answered.map((a) => a.outcome), failed, names);
    return {
      channels: names,
      subscribers: answered.reduce((sum, a) => sum + a.result.subscribers, 0),
      infos: answered[0].result.infos,
      nodes: answered.map((a) => a.outcome),
    };
  }

  /** Counters of one channel, or null when nginx does not know it. */
  async channelInfo(channel: string): Promise<ChannelInfo | null> {
    const name = this.channels.validate(channel);
    const res = await this.send(this.dialect.infoRequest(this.options.publisherUrls[0], name), 'channel info', [name], true);
    return this.dialect.parseInfo(name, res);
  }

  /** Deletes a channel (subscribers get the server's channel-deleted notice). False when it did not exist. */
  async deleteChannel(channel: string): Promise<boolean> {
    const name = this.channels.validate(channel);
    const notice = this.dialect.deleteNotice?.(name);
    const deleted = await this.onEveryServer(async (url) => {
      if (notice !== undefined) {
        // The server tells subscribers nothing they can tell from a restart: say it in band first,
        // but only to a channel that exists (a publish would create it).
        const info = await this.send(this.dialect.infoRequest(url, name), 'channel info', [name], true);
        if (this.dialect.parseInfo(name, info) === null) return false;
        await this.send(this.dialect.publishRequest(url, [name], notice, {}), 'delete notice', [name]);
      }
      const res = await this.send(this.dialect.deleteRequest(url, name), 'delete channel', [name], true);
      return this.dialect.parseDelete(name, res);
    });
    return deleted.some(Boolean);
  }

  /**
   * Ends the subscriptions of one session: deletes its `__session__` channel on every publisher.
   * Call it after the session itself is gone (logout, `req.session.destroy` / `regenerate`), so
   * that a client subscribing again is refused. What it reaches differs by server: see
   * RevocationResult.connectionsClosed and the README's Security section. Errors as deleteChannel.
   */
  async revokeSession(sessionId: string): Promise<RevocationResult> {
    return this.revoke(this.channels.session(sessionId));
  }

  /**
   * Ends the subscriptions of one user, in every session: deletes `__user__<id>` on every
   * publisher. On Nchan the user's other pages are closed too; the browser client subscribes again
   * at once and is let back in while its session is still logged in.
   */
  async revokeUser(userId: string | number): Promise<RevocationResult> {
    return this.revoke(this.channels.user(userId));
  }

  /**
   * Probes nginx and says which check failed, without throwing: the stats location, and on every
   * publisher the channel information of a few probe channels (see HealthCheckName), all at once,
   * each request bounded by `timeoutMs` and never retried. Resolves within about `timeoutMs`.
   */
  async health(options: HealthOptions = {}): Promise<HealthReport> {
    const timeoutMs = options.timeoutMs ?? this.options.publishTimeoutMs;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
      throw new PushStreamConfigError('timeoutMs', `health() needs a whole number of milliseconds >= 1, got ${JSON.stringify(timeoutMs)}`);
    }
    const bounded = { timeoutMs, retry: NO_RETRY };
    let workers: HealthWorker[] | undefined;
    let figures: HealthReport['stats'];
    const stats = this.check('stats', this.options.statsUrl, async () => {
      const res = await this.send(this.dialect.statsRequest(this.options.statsUrl), 'stats', [], false, bounded);
      const parsed = this.dialect.parseStats(res);
      figures = { channels: parsed.channels, subscribers: parsed.subscribers, storedMessages: parsed.storedMessages, publishedMessages: parsed.publishedMessages };
      workers = healthWorkers(parsed.raw.by_worker);
    });
    const probes = Array.from({ length: HEALTH_PROBE_CHANNELS }, (_, i) => this.channels.custom('health', i));
    const infos = this.options.publisherUrls.map((url) =>
      this.check('channel-info', url, async () => {
        await Promise.all(
          probes.map(async (name) => this.dialect.parseInfo(name, await this.send(this.dialect.infoRequest(url, name), 'health channel info', [name], true, bounded))),
        );
      }),
    );
    const checks = await Promise.all([stats, ...infos]);
    return {
      healthy: checks.every((c) => c.ok),
      server: this.dialect.kind,
      checks,
      ...(figures === undefined ? {} : { stats: figures }),
      ...(workers === undefined ? {} : { workers }),
    };
  }

  /**
   * Server-wide statistics from the stats location. With `timeoutMs`, one attempt bounded by it
   * (for scrapes and probes); otherwise publishTimeoutMs and the retry policy.
   */
  async stats(options: HealthOptions = {}): Promise<ServerStats> {
    const policy = options.timeoutMs === undefined ? undefined : { timeoutMs: options.timeoutMs, retry: NO_RETRY };
    const res = await this.send(this.dialect.statsRequest(this.options.statsUrl), 'stats', [], false, policy);
    return this.dialect.parseStats(res);
  }

  /**
   * Subscriber URLs for a page, from the `subscriber` option (host, port, protocol) and the
   * locations in the shipped nginx configs. Channel names are validated like publishes. A set
   * that would be refused anyway is a ChannelSetTooLargeError before anything else: more channels
   * than `auth.maxChannelsPerRequest` (the auth endpoint answers 403), or over the server's own
   * limit (Nchan's channel id length).
   */
  subscriberUrls(channels: readonly string[], options: SubscriberUrlOptions = {}): SubscriberUrls {
    const { names, path } = subscriberChannelPath(channels, { options: this.options, channels: this.channels, dialect: this.dialect }, options.backtrack);
    const endpoint = this.options.subscriber;
    if (!endpoint) throw new PushStreamConfigError('subscriber', 'set subscriber { host, port, protocol } to build subscriber URLs');
    if (this.options.auth.ticketFormat === 'secure-link-md5' && path !== this.dialect.subscriberPath(names)) {
      // nginx in secure-link mode refuses every path with a `.b<n>` suffix (docs/deployment.md, "Signed tickets").
      throw new PushStreamConfigError('backtrack', "cannot be used with auth.ticketFormat 'secure-link-md5': nginx refuses .b<n> paths in secure-link mode (history comes by event-id resume)");
    }
    return subscriberUrlsOf(endpoint, path);
  }

  private encode(data: unknown, channels: readonly string[], options: PublishOptions): string {
    let body: string | undefined;
    try {
      body = this.dialect.encodeMessage(data, channels, options);
    } catch (err) {
      throw new InvalidMessageError(`data is not JSON-encodable (${(err as Error).message})`, channels);
    }
    if (typeof body !== 'string' || data === undefined) {
      throw new InvalidMessageError('data is not JSON-encodable (undefined or a function)', channels);
    }
    // A UTF-16 code unit is at most 3 bytes of UTF-8: most bodies need no count.
    if (body.length * 3 <= this.options.maxMessageBytes) return body;
    const size = Buffer.byteLength(body, 'utf8');
    if (size > this.options.maxMessageBytes) throw new MessageTooLargeError(size, this.options.maxMessageBytes, channels);
    return body;
  }

  private async revoke(channel: string): Promise<RevocationResult> {
    const existed = await this.onEveryServer(async (url) => {
      const res = await this.send(this.dialect.revokeRequest(url, channel), 'revoke', [channel], true);
      return this.dialect.parseDelete(channel, res);
    });
    return { channel, existed: existed.some(Boolean), connectionsClosed: this.dialect.deleteClosesConnections };
  }

  /** Runs one health check; any failure becomes the check's error (a non-library error is wrapped). */
  private async check(name: HealthCheck['name'], url: string, probe: () => Promise<void>): Promise<HealthCheck> {
    try {
      await probe();
      return { name, url: redactUrl(url), ok: true };
    } catch (err) {
      const error = err instanceof PushStreamError ? err : new PushStreamError(`${name}: ${redactUrl(String(err))}`);
      return { name, url: redactUrl(url), ok: false, error };
    }
  }

  /** Runs `perServer` for every configured publisher; every server must succeed, or the first failure is thrown. */
  private async onEveryServer<T>(perServer: (publisherUrl: string) => Promise<T>): Promise<T[]> {
    // allSettled: a failure on one server must not leave another's rejection unhandled.
    const settled = await Promise.allSettled(this.options.publisherUrls.map(perServer));
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
  }

  /**
   * One request with the retry policy (withRetry's loop, written out: no closure or promise per
   * attempt on the publish path). `policy` defaults to publishTimeoutMs and the retry option.
   */
  private async send(
    req: DialectRequest,
    operation: string,
    channels: readonly string[],
    notFoundIsAnswer = false,
    policy?: { timeoutMs: number; retry: RetryPolicy },
    counter?: AttemptCounter,
  ): Promise<PushStreamHttpResponse> {
    const retry = policy === undefined ? this.options.retry : policy.retry;
    const timeoutMs = policy === undefined ? this.options.publishTimeoutMs : policy.timeoutMs;
    // Written out rather than `{ ...req, timeoutMs }`: the spread was the costliest line of a
    // publish in a CPU profile (bench/, P1). A request without a body has no body field, as before.
    const { method, url, headers, body } = req;
    const request: PushStreamHttpRequest = body === undefined ? { method, url, headers, timeoutMs } : { method, url, headers, body, timeoutMs };
    for (let attempt = 1; ; attempt++) {
      if (counter !== undefined) counter.attempts++;
      try {
        const res = await this.http.request(request);
        if ((res.status >= 200 && res.status < 300) || (notFoundIsAnswer && res.status === this.dialect.notFoundStatus)) return res;
        throw new PushStreamHttpError(operation, res.status, {
          explain: res.headers['x-nginx-pushstream-explain'],
          channels,
        });
      } catch (error) {
        if (!shouldRetry(error, attempt, retry)) throw error;
        await this.sleep(backoffDelay(attempt, retry));
      }
    }
  }
}

/** push-stream's `by_worker` list (pids are strings there), or undefined when absent or malformed. */
function healthWorkers(raw: unknown): HealthWorker[] | undefined {
  if (!Array.isArray(raw)) return undefined;
  const workers: HealthWorker[] = [];
  for (const entry of raw as unknown[]) {
    if (entry === null || typeof entry !== 'object') return undefined;
    const { pid, subscribers, uptime } = entry as Record<string, unknown>;
    const nums = [pid, subscribers, uptime].map((v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v));
    if (!nums.every((n): n is number => typeof n === 'number' && Number.isFinite(n))) return undefined;
    workers.push({ pid: nums[0], subscribers: nums[1], uptime: nums[2] });
  }
  return workers;
}
