import { PushStreamConfigError, redactUrl } from '../errors/push-stream.exception.js';
import type {
  PushStreamModuleOptions,
  ResolvedPushStreamOptions,
  RetryPolicy,
} from './push-stream-options.interface.js';

const SAFE_PREFIX = /^[A-Za-z0-9_-]{1,64}$/;
const DEFAULT_RETRY: RetryPolicy = { attempts: 3, baseDelayMs: 100, maxDelayMs: 2000 };
/** A page subscribes to a handful of channels; 16 leaves room for an app's own kinds. */
export const DEFAULT_MAX_CHANNELS_PER_REQUEST = 16;
/** Nchan refuses to multiplex more channels than this in one subscriber. */
const MAX_CHANNELS_PER_REQUEST_LIMIT = 255;

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
  if (server !== 'push-stream' && server !== 'nchan') {
    throw new PushStreamConfigError('server', `must be "push-stream" or "nchan", got ${JSON.stringify(server)}`);
  }
  const rawUrls = Array.isArray(options.publisherUrl) ? options.publisherUrl : [options.publisherUrl];
  if (rawUrls.length === 0) throw new PushStreamConfigError('publisherUrl', 'needs at least one URL');
  const publisherUrls = rawUrls.map((u, i) => httpUrl(rawUrls.length > 1 ? `publisherUrl[${i}]` : 'publisherUrl', u));

  const statsUrl =
    options.statsUrl === undefined
      ? new URL(server === 'nchan' ? '/nchan-stats' : '/channels-stats', publisherUrls[0]).toString()
      : httpUrl('statsUrl', options.statsUrl);

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
  if (typeof channelDelimiter !== 'string' || channelDelimiter.length !== 1 || /[A-Za-z0-9_-]/.test(channelDelimiter)) {
    throw new PushStreamConfigError('channelDelimiter', 'must be one character outside the channel alphabet, such as "/" or ","');
  }
  if (server === 'push-stream' && channelDelimiter !== '/') {
    throw new PushStreamConfigError('channelDelimiter', 'the Push Stream Module always separates channels with "/"');
  }

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

  const maxChannelsPerRequest = positiveInt('auth.maxChannelsPerRequest', auth.maxChannelsPerRequest, DEFAULT_MAX_CHANNELS_PER_REQUEST);
  if (maxChannelsPerRequest > MAX_CHANNELS_PER_REQUEST_LIMIT) {
    throw new PushStreamConfigError(
      'auth.maxChannelsPerRequest',
      `must be at most ${MAX_CHANNELS_PER_REQUEST_LIMIT} (Nchan multiplexes no more), got ${maxChannelsPerRequest}`,
    );
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
    maxChannelNameLength: positiveInt('maxChannelNameLength', options.maxChannelNameLength, 128),
    channelDelimiter,
    auth: {
      sessionUserKey: auth.sessionUserKey ?? 'user',
      resolveUser: auth.resolveUser,
      wildcardPrefixes,
      rules,
      maxChannelsPerRequest,
      pageChannels,
    },
  };
}
