// Internal injection tokens. The public ones are classes (PushStreamHttpClient, PushStreamDialect,
// PushStreamService); these stay private so they can change without a major version.

/** Options after validation and defaults (ResolvedPushStreamOptions). */
export const PUSH_STREAM_RESOLVED_OPTIONS = Symbol('PUSH_STREAM_RESOLVED_OPTIONS');
/** Sleep used between retries; the testing module and the unit tests put an instant one here. */
export const PUSH_STREAM_SLEEP = Symbol('PUSH_STREAM_SLEEP');
/** undici pool options (the `undici` module option) for UndiciHttpClient. */
export const PUSH_STREAM_UNDICI_OPTIONS = Symbol('PUSH_STREAM_UNDICI_OPTIONS');
