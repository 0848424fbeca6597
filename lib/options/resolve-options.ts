import { createDialect, describeServerKinds, isServerKind } from '../dialects/create-dialect.js';
import { PushStreamConfigError, redactUrl } from '../errors/push-stream.exception.js';
import {
  CHANNEL_NAME_PATTERN,
  DEFAULT_MAX_CHANNEL_NAME_LENGTH,
  DEFAULT_MAX_CHANNELS_PER_SUBSCRIPTION,
  MAX_CHANNELS_PER_REQUEST,
} from '../shared/push-stream-protocol.js';
import { TICKET_FORMATS } from '../tickets/subscription-ticket.js';
import type {
  PushStreamModuleOptions,
  ResolvedPushStreamOptions,
  RetryPolicy,
} from './push-stream-options.interface.js';

const SAFE_PREFIX = /^[A-Za-z0-9_-]{1,64}$/;
const DEFAULT_RETRY: RetryPolicy = { attempts: 3, baseDelayMs: 100, maxDelayMs: 2000 };
/** Default of auth.ticketTtlSeconds: a minute bounds how long a revoked session can reconnect with a ticket it holds. */
const DEFAULT_TICKET_TTL_SECONDS = 60;

/** The default of auth.maxChannelsPerRequest, under the name the e2e suites import. */
export { DEFAULT_MAX_CHANNELS_PER_SUBSCRIPTION as DEFAULT_MAX_CHANNELS_PER_REQUEST } from '../shared/push-stream-protocol.js';

function positiveInt(field: string, value: unknown, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new PushStreamConfigError(field, `must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function httpUrl(field: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') {
    throw new PushStreamConfigError(field, 'must be an http(s) URL such as http://127.0.0.1:9080/pub');
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    // The URL parser refuses a port over 65535 as a whole: say which part is wrong.
    const port = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/(?:[^/?#]*@)?(?:\[[^\]]*\]|[^/?#:]*):(\d+)(?:[/?#]|$)/.exec(value)?.[1];
    if (port !== undefined && Number(port) > 65535) {
      throw new PushStreamConfigError(field, `port must be 1-65535, got ${port} in ${JSON.stringify(redactUrl(value))}`);
    }
    throw new PushStreamConfigError(field, `${JSON.stringify(redactUrl(value))} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new PushStreamConfigError(field, `protocol must be http or https, got ${url.protocol}`);
  }
  if (url.search || url.hash) {
    throw new PushStreamConfigError(field, 'must not have a query string or fragment; the library adds ?id=');
  }
  return value.replace(/\/+$/, '');
}

/**
 * Checks every option and applies defaults. Runs once when the module starts, so a bad
 * setting fails the application's start-up with the field's name instead of failing a publish later.
 */
export function resolvePushStreamOptions(options: PushStreamModuleOptions): ResolvedPushStreamOptions {
  if (options === null || typeof options !== 'object') {
    throw new PushStreamConfigError('options', 'PushStreamModule needs an options object');
  }
  const server = options.server ?? 'push-stream';
  if (!isServerKind(server)) {
    throw new PushStreamConfigError('server', `must be ${describeServerKinds()}, got ${JSON.stringify(server)}`);
  }
  const rawUrls = Array.isArray(options.publisherUrl) ? options.publisherUrl : [options.publisherUrl];
  if (rawUrls.length === 0) throw new PushStreamConfigError('publisherUrl', 'needs at least one URL');
  const publisherUrls = rawUrls.map((u, i) => httpUrl(rawUrls.length > 1 ? `publisherUrl[${i}]` : 'publisherUrl', u));

  const givenStatsUrl = options.statsUrl === undefined ? undefined : httpUrl('statsUrl', options.statsUrl);

  const prefix = options.prefix ?? 'my-app';
  if (typeof prefix !== 'string' || !SAFE_PREFIX.test(prefix) || prefix.includes('__')) {
    throw new PushStreamConfigError('prefix', 'must be 1-64 letters, digits, "_" or "-", without "__"');
  }
  if (typeof options.secret !== 'string' || options.secret.length < 16) {
    throw new PushStreamConfigError('secret', 'must be a string of at least 16 characters (it keys the session channel HMAC)');
  }

  const subscriber = options.subscriber;
  if (subscriber !== undefined) {
    if (typeof subscriber.host !== 'string' || !/^[A-Za-z0-9.:[\]-]+$/.test(subscriber.host)) {
      throw new PushStreamConfigError('subscriber.host', `must be a host name, got ${JSON.stringify(subscriber.host)}`);
    }
    if (subscriber.protocol !== 'http' && subscriber.protocol !== 'https') {
      throw new PushStreamConfigError('subscriber.protocol', 'must be "http" or "https"');
    }
    if (subscriber.port !== undefined) positiveInt('subscriber.port', subscriber.port, 0);
    if (subscriber.port !== undefined && subscriber.port > 65535) {
      throw new PushStreamConfigError('subscriber.port', 'must be at most 65535');
    }
  }

  const retryIn = options.retry ?? {};
  const retry: RetryPolicy = {
    attempts: positiveInt('retry.attempts', retryIn.attempts, DEFAULT_RETRY.attempts),
    baseDelayMs: positiveInt('retry.baseDelayMs', retryIn.baseDelayMs, DEFAULT_RETRY.baseDelayMs, 0),
    maxDelayMs: positiveInt('retry.maxDelayMs', retryIn.maxDelayMs, DEFAULT_RETRY.maxDelayMs, 0),
  };

  const channelDelimiter = options.channelDelimiter ?? '/';
  if (typeof channelDelimiter !== 'string' || channelDelimiter.length !== 1 || CHANNEL_NAME_PATTERN.test(channelDelimiter)) {
    throw new PushStreamConfigError('channelDelimiter', 'must be one character outside the channel alphabet, such as "/" or ","');
  }
  // The server's own rules (the Push Stream Module has a fixed delimiter) and its stats location.
  const dialect = createDialect(server, channelDelimiter);
  const statsUrl = givenStatsUrl ?? new URL(dialect.statsPath, publisherUrls[0]).toString();

  const auth = options.auth ?? {};
  if (auth.resolveUser !== undefined && typeof auth.resolveUser !== 'function') {
    throw new PushStreamConfigError('auth.resolveUser', 'must be a function (req) => user | null');
  }
  const wildcardPrefixes = auth.wildcardPrefixes ?? [];
  if (!Array.isArray(wildcardPrefixes) || wildcardPrefixes.some((p) => typeof p !== 'string' || p === '')) {
    throw new PushStreamConfigError('auth.wildcardPrefixes', 'must be an array of non-empty strings');
  }
  const rules = auth.rules ?? [];
  if (!Array.isArray(rules) || rules.some((r) => !r || typeof r.kind !== 'string' || typeof r.canSubscribe !== 'function')) {
    throw new PushStreamConfigError('auth.rules', 'must be an array of { kind, canSubscribe(context) }');
  }

  const maxChannelsPerRequest = positiveInt('auth.maxChannelsPerRequest', auth.maxChannelsPerRequest, DEFAULT_MAX_CHANNELS_PER_SUBSCRIPTION);
  if (maxChannelsPerRequest > MAX_CHANNELS_PER_REQUEST) {
    throw new PushStreamConfigError(
      'auth.maxChannelsPerRequest',
      `must be at most ${MAX_CHANNELS_PER_REQUEST} (Nchan multiplexes no more), got ${maxChannelsPerRequest}`,
    );
  }
  const undici = options.undici ?? {};
  if (undici === null || typeof undici !== 'object' || Array.isArray(undici)) {
    throw new PushStreamConfigError('undici', 'must be an object of undici Agent options, such as { connections: 64 }');
  }
  const ticketFormat = auth.ticketFormat ?? TICKET_FORMATS[0];
  if (!TICKET_FORMATS.includes(ticketFormat)) {
    throw new PushStreamConfigError('auth.ticketFormat', `must be ${TICKET_FORMATS.map((f) => JSON.stringify(f)).join(' or ')}, got ${JSON.stringify(ticketFormat)}`);
  }
  const pageChannels = auth.pageChannels ?? 'any';
  if (pageChannels !== 'any' && pageChannels !== 'issued') {
    throw new PushStreamConfigError('auth.pageChannels', `must be "any" or "issued", got ${JSON.stringify(pageChannels)}`);
  }

  return {
    server,
    publisherUrls,
    statsUrl: statsUrl.replace(/\/+$/, ''),
    subscriber,
    prefix,
    secret: options.secret,
    publishTimeoutMs: positiveInt('publishTimeoutMs', options.publishTimeoutMs, 5000),
    retry,
    maxMessageBytes: positiveInt('maxMessageBytes', options.maxMessageBytes, 64 * 1024),
    maxChannelNameLength: positiveInt('maxChannelNameLength', options.maxChannelNameLength, DEFAULT_MAX_CHANNEL_NAME_LENGTH),
    channelDelimiter,
    auth: {
      sessionUserKey: auth.sessionUserKey ?? 'user',
      resolveUser: auth.resolveUser,
      wildcardPrefixes,
      rules,
      maxChannelsPerRequest,
      pageChannels,
      ticketTtlSeconds: positiveInt('auth.ticketTtlSeconds', auth.ticketTtlSeconds, DEFAULT_TICKET_TTL_SECONDS),
      ticketFormat,
    },
    undici,
  };
}
