/** Options after validation and defaults (ResolvedPushStreamOptions). */
export const PUSH_STREAM_RESOLVED_OPTIONS = Symbol('PUSH_STREAM_RESOLVED_OPTIONS');
/** The transport (PushStreamHttpClient). Override it to use your own client or a fake in tests. */
export const PUSH_STREAM_HTTP_CLIENT = Symbol('PUSH_STREAM_HTTP_CLIENT');
/** The server dialect (PushStreamDialect), chosen from the `server` option. */
export const PUSH_STREAM_DIALECT = Symbol('PUSH_STREAM_DIALECT');
/** Sleep used between retries; override with an instant one in tests. */
export const PUSH_STREAM_SLEEP = Symbol('PUSH_STREAM_SLEEP');
