import { PushStreamConfigError } from '../errors/push-stream.exception.js';
import type { PushStreamModuleOptions, PushStreamServerKind } from './push-stream-options.interface.js';

type Env = Record<string, string | undefined>;

function intVar(env: Env, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw)) throw new PushStreamConfigError(name, `must be a whole number, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

/** A TCP port: checked here so that 99999 is reported as a port, not as a broken URL. */
function portVar(env: Env, name: string): number | undefined {
  const port = intVar(env, name);
  if (port !== undefined && (port < 1 || port > 65535)) {
    throw new PushStreamConfigError(name, `must be a port number, 1-65535, got ${port}`);
  }
  return port;
}

/**
 * Maps the seed package's NGINX_PUSH_STREAM_* environment variables to module options.
 * The result still goes through the module's validation, so a bad value names its field.
 *
 * NGINX_PUSH_STREAM_PUB_URL (comma-separated for several servers), or PROTOCOL + PUB_HOST + PUB_PORT
 * (+ PUB_ENDPOINT, default /pub); SUB_HOST, SUB_PORT, SUB_PROTOCOL; PUB_PREFIX; SERVER;
 * SECRET; STATS_URL; TIMEOUT_MS; RETRY_ATTEMPTS; MAX_MESSAGE_BYTES; CHANNEL_DELIMITER.
 */
export function pushStreamOptionsFromEnv(env: Env = process.env): PushStreamModuleOptions {
  const v = (name: string): string | undefined => {
    const value = env[`NGINX_PUSH_STREAM_${name}`];
    return value === undefined || value === '' ? undefined : value;
  };
  const protocol = v('PROTOCOL') ?? 'http';
  if (protocol !== 'http' && protocol !== 'https') {
    throw new PushStreamConfigError('NGINX_PUSH_STREAM_PROTOCOL', `must be http or https, got ${JSON.stringify(protocol)}`);
  }
  const pubUrl = v('PUB_URL');
  const publisherUrl = pubUrl
    ? pubUrl.split(',').map((u) => u.trim()).filter(Boolean)
    : `${protocol}://${v('PUB_HOST') ?? '127.0.0.1'}:${portVar(env, 'NGINX_PUSH_STREAM_PUB_PORT') ?? 9081}${v('PUB_ENDPOINT') ?? '/pub'}`;
  const subHost = v('SUB_HOST');
  const subProtocol = v('SUB_PROTOCOL') ?? protocol;
  const retryAttempts = intVar(env, 'NGINX_PUSH_STREAM_RETRY_ATTEMPTS');
  return {
    server: v('SERVER') as PushStreamServerKind | undefined,
    publisherUrl,
    statsUrl: v('STATS_URL'),
    subscriber: subHost
      ? { host: subHost, port: portVar(env, 'NGINX_PUSH_STREAM_SUB_PORT'), protocol: subProtocol as 'http' | 'https' }
      : undefined,
    prefix: v('PUB_PREFIX'),
    secret: v('SECRET') as string,
    publishTimeoutMs: intVar(env, 'NGINX_PUSH_STREAM_TIMEOUT_MS'),
    retry: retryAttempts === undefined ? undefined : { attempts: retryAttempts },
    maxMessageBytes: intVar(env, 'NGINX_PUSH_STREAM_MAX_MESSAGE_BYTES'),
    channelDelimiter: v('CHANNEL_DELIMITER'),
  };
}
