import type { PublisherNodeOutcome } from '../dialects/push-stream-result.interface.js';
/**
 * `text` with the credentials of every URL in it replaced by `***`:
 * `http://admin:secret@nginx:9081/pub` becomes `http://***@nginx:9081/pub`. Error messages name
 * URLs, and messages end up in logs and HTTP answers; a publisher URL may carry a password for a
 * proxy in front of nginx. Works on text that is not a valid URL too (config errors echo it).
 */
export function redactUrl(text: string): string {
  // userinfo is everything up to the last "@" before the path, query, fragment or whitespace.
  return String(text).replace(/([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^\s/?#]*@/g, '$1***@');
}

/**
 * A transport error as the cause of ours, without credentials: an HTTP client's error may carry
 * the request URL or its whole config (axios keeps `config.url` and `config.auth`), and a cause is
 * printed with the error by loggers. Keeps the name, code and (redacted) message and stack.
 */
function redactedCause(cause: unknown): Error {
  if (!(cause instanceof Error)) return new Error(redactUrl(String(cause)));
  const copy = new Error(redactUrl(cause.message)) as NodeJS.ErrnoException;
  copy.name = cause.name;
  const code = (cause as NodeJS.ErrnoException).code;
  if (code !== undefined) copy.code = code;
  if (cause.stack !== undefined) copy.stack = redactUrl(cause.stack);
  return copy;
}

/** Base class of every error the library throws: catch this one to catch them all. */
export class PushStreamError extends Error {
  /** True when the same request may succeed if sent again (connection refused, timeout, 5xx). */
  readonly retryable: boolean;
  /** HTTP status from nginx, when nginx answered. */
  readonly status?: number;
  /** nginx's reason, from the X-Nginx-PushStream-Explain header, when present. */
  readonly explain?: string;
  /** The channel(s) the failed operation was about. */
  readonly channels?: readonly string[];

  constructor(
    message: string,
    init: { retryable?: boolean; status?: number; explain?: string; channels?: readonly string[]; cause?: unknown } = {},
  ) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.retryable = init.retryable ?? false;
    this.status = init.status;
    this.explain = init.explain;
    this.channels = init.channels;
  }
}

/** Bad module options; thrown at start-up, naming the field. */
export class PushStreamConfigError extends PushStreamError {
  /** `moduleName`: whose option it is (PushStreamAuthListenerModule's, PushStreamMetricsModule's, ...). */
  constructor(readonly field: string, problem: string, moduleName = 'PushStreamModule') {
    super(`Invalid ${moduleName} option "${field}": ${problem}`);
  }
}

/** A channel name outside the safe alphabet or too long. Thrown before any request is made. */
export class InvalidChannelNameError extends PushStreamError {
  constructor(readonly channel: string, reason: string) {
    super(`Invalid channel name ${JSON.stringify(channel.length > 80 ? channel.slice(0, 80) + '…' : channel)}: ${reason}`, {
      channels: [channel],
    });
  }
}

/** The encoded message is larger than maxMessageBytes (nginx's client_max_body_size). Nothing was sent. */
export class MessageTooLargeError extends PushStreamError {
  constructor(readonly size: number, readonly limit: number, channels: readonly string[]) {
    super(`Message of ${size} bytes exceeds the limit of ${limit} bytes (maxMessageBytes)`, { channels });
  }
}

/** nginx answered with an unexpected status. */
export class PushStreamHttpError extends PushStreamError {
  constructor(
    operation: string,
    status: number,
    init: { explain?: string; channels?: readonly string[] } = {},
  ) {
    const reason = init.explain ? `: ${init.explain}` : '';
    // 5xx: nginx is overloaded or its shared memory is full (answers 500); both pass with time.
    super(`${operation} failed with HTTP ${status}${reason}`, {
      status,
      explain: init.explain,
      channels: init.channels,
      retryable: status >= 500,
    });
  }
}

/** nginx could not be reached (connection refused, reset, DNS). Retryable. */
export class PushStreamConnectionError extends PushStreamError {
  constructor(url: string, cause: unknown) {
    const detail = cause instanceof Error ? ((cause as NodeJS.ErrnoException).code ?? cause.message) : String(cause);
    super(`Cannot reach nginx at ${redactUrl(url)}: ${redactUrl(detail)}`, { retryable: true, cause: redactedCause(cause) });
  }
}

/** nginx did not answer within publishTimeoutMs. Retryable. */
export class PushStreamTimeoutError extends PushStreamError {
  constructor(url: string, timeoutMs: number) {
    super(`nginx at ${redactUrl(url)} did not answer within ${timeoutMs} ms`, { retryable: true });
  }
}

/** nginx answered, but not in the shape the configured dialect expects (wrong server or location). */
export class PushStreamProtocolError extends PushStreamError {
  constructor(operation: string, detail: string) {
    super(`${operation}: unexpected answer from nginx (${detail}); check the "server" option and the nginx location`);
  }
}

/** The message or its publish options cannot be sent (not JSON-encodable, unsafe event id or type). Nothing was sent. */
export class InvalidMessageError extends PushStreamError {
  constructor(reason: string, channels: readonly string[]) {
    super(`Cannot publish: ${reason}`, { channels });
  }
}

/**
 * A set of channels nginx or the auth endpoint would refuse as one subscription: more than
 * `auth.maxChannelsPerRequest`, or longer than the server's own limit (Nchan's channel id length).
 * Thrown by subscriberUrls() before any URL is built.
 */
export class ChannelSetTooLargeError extends PushStreamError {
  constructor(
    /** What was over: `channels` (how many) or `characters` (of the joined channel id). */
    readonly measure: 'channels' | 'characters',
    readonly size: number,
    readonly limit: number,
    reason: string,
    channels: readonly string[],
  ) {
    super(`Cannot subscribe to these channels: ${size} ${measure}, more than ${limit} (${reason})`, { channels });
  }
}

/** A node that failed a publish: its place in the `publisherUrl` list, its URL (redacted) and why. */
export interface FailedPublisherNode {
  index: number;
  url: string;
  error: PushStreamError;
}

/**
 * A publish to several nginx nodes that some answered and some did not (after their own retries).
 * `published` have the message; publish again with `{ nodes: failed.map((n) => n.index) }` to
 * reach the others without sending it twice to any. Retryable when every failure is.
 */
export class PartialNodePublishError extends PushStreamError {
  constructor(
    readonly published: readonly PublisherNodeOutcome[],
    readonly failed: readonly FailedPublisherNode[],
    channels: readonly string[],
  ) {
    const failures = failed.map((n) => `${n.url} (node ${n.index}): ${n.error.message}`).join('; ');
    super(`Published to ${published.length} of ${published.length + failed.length} nginx nodes; not to ${failures}`, {
      retryable: failed.every((n) => n.error.retryable),
      status: failed[0]?.error.status,
      explain: failed[0]?.error.explain,
      channels,
      cause: failed[0]?.error,
    });
  }
}

/**
 * A publishMany split into several requests (more channels than one request may carry) failed
 * part way: `published` got the message, `failed` did not. Retry with `failed` only; `cause` is
 * the error of the request that failed, whose `retryable`, `status` and `explain` this one carries.
 */
export class PartialPublishError extends PushStreamError {
  constructor(
    readonly published: readonly string[],
    readonly failed: readonly string[],
    cause: PushStreamError,
  ) {
    super(`Published to ${published.length} of ${published.length + failed.length} channels, then: ${cause.message}`, {
      retryable: cause.retryable,
      status: cause.status,
      explain: cause.explain,
      channels: failed,
      cause,
    });
  }
}
