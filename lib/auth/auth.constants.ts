/**
 * The static channel rules (ChannelRule[]): the built-in kinds plus `auth.rules` from the options.
 * Override it in `Test.createTestingModule(...).overrideProvider(PUSH_STREAM_CHANNEL_RULES)`
 * (exported from `nestjs-push-stream/testing`).
 * Providers decorated with `@PushStreamChannelRule()` are added to these.
 */
export const PUSH_STREAM_CHANNEL_RULES = Symbol('PUSH_STREAM_CHANNEL_RULES');

/** Route metadata marking the auth_request endpoint, whose request must leave the session alone. */
export const PUSH_STREAM_AUTH_ENDPOINT = 'nestjs-push-stream:auth-endpoint';

/** Header nginx fills from the same variable it gives the module (`$push_channels`). */
export const CHANNELS_HEADER = 'x-push-stream-channels';

/**
 * Header a config may fill with `$request_uri`, only for logs. The shipped configs do not: it
 * doubled the URI in the auth request, towards Node's header limit.
 */
export const ORIGINAL_URI_HEADER = 'x-original-uri';

/** Default route of the auth endpoint; nginx's `/_push_stream_auth` location proxies here. */
export const DEFAULT_AUTH_ROUTE = 'push-stream/auth';
