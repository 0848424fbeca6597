import type { PushStreamChannels } from '../channels/push-stream-channels.js';
import type { PushStreamDialect } from '../dialects/push-stream-dialect.interface.js';
import { ChannelSetTooLargeError } from '../errors/push-stream.exception.js';
import type { ResolvedPushStreamOptions, SubscriberEndpoint } from '../options/push-stream-options.interface.js';
import { SUBSCRIBER_LOCATIONS } from '../shared/push-stream-protocol.js';
import type { SubscriberUrls } from './subscriber-urls.interface.js';

/**
 * The channel path of one subscription as the server's subscriber URL writes it, after the checks
 * nginx and the auth endpoint would otherwise fail it with 403: each name valid, no more than
 * auth.maxChannelsPerRequest (counted as given, repeats included, as the endpoint counts them),
 * and within the server's own limits. Throws before anything is built or signed.
 */
export function subscriberChannelPath(
  channels: readonly string[],
  deps: { options: ResolvedPushStreamOptions; channels: PushStreamChannels; dialect: PushStreamDialect },
  backtrack?: Readonly<Record<string, number>>,
): { names: string[]; path: string } {
  const maxChannels = deps.options.auth.maxChannelsPerRequest;
  if (channels.length > maxChannels) {
    throw new ChannelSetTooLargeError(
      'channels',
      channels.length,
      maxChannels,
      'auth.maxChannelsPerRequest; the auth endpoint refuses more in one subscription with 403',
      channels,
    );
  }
  const names = channels.map((c) => deps.channels.validate(c));
  deps.dialect.assertSubscribable(names);
  return { names, path: deps.dialect.subscriberPath(names, backtrack) };
}

/** The URL of each transport's location for `path` on the `subscriber` endpoint, `query` (e.g. `?ticket=...`) appended. */
export function subscriberUrlsOf(endpoint: SubscriberEndpoint, path: string, query = ''): SubscriberUrls {
  const port = endpoint.port === undefined ? '' : `:${endpoint.port}`;
  const http = `${endpoint.protocol}://${endpoint.host}${port}`;
  const ws = `${endpoint.protocol === 'https' ? 'wss' : 'ws'}://${endpoint.host}${port}`;
  return {
    stream: `${http}${SUBSCRIBER_LOCATIONS.stream}${path}${query}`,
    websocket: `${ws}${SUBSCRIBER_LOCATIONS.websocket}${path}${query}`,
    eventsource: `${http}${SUBSCRIBER_LOCATIONS.eventsource}${path}${query}`,
    longpolling: `${http}${SUBSCRIBER_LOCATIONS.longpolling}${path}${query}`,
  };
}
