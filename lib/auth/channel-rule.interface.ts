import type { PushStreamUser } from '../options/push-stream-options.interface.js';

/** A channel name split into its parts: `<prefix>__<kind>__<value>`. */
export interface ParsedChannel {
  /** The full channel id as the server sees it. */
  name: string;
  /** `all`, `authorized`, `session`, `user`, `uuid`, or an application's own kind such as `room`. */
  kind: string;
  /** What follows the kind marker: a token, a user id, a UUID; empty for `all` and `authorized`. */
  value: string;
}

export interface ChannelRuleContext<Req = unknown> {
  /** The auth subrequest as the HTTP adapter gives it (an express Request by default). */
  request: Req;
  /** The logged-in user, or null for an anonymous request. */
  user: PushStreamUser | null;
  /** The session id of the request, when there is a session. */
  sessionId: string | null;
  channel: ParsedChannel;
}

/**
 * Decides who may subscribe to one kind of channel. Deny by default: a channel whose kind has
 * no rule is refused. Rules may be async (a database lookup).
 */
export interface ChannelRule<Req = unknown> {
  /** The kind this rule answers for, e.g. `room` for `my-app__room__42`. */
  readonly kind: string;
  /**
   * True when this kind needs an identity (a session or a logged-in user). A refusal by such a
   * rule for a request with neither answers 401 ("log in first") instead of 403.
   */
  readonly requiresSession?: boolean;
  canSubscribe(context: ChannelRuleContext<Req>): boolean | Promise<boolean>;
}
