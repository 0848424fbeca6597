/** Publish options; the event id and type become headers nginx turns into the EventSource `id:`/`event:` lines. */
export interface PublishOptions {
  /** Event id (push-stream `Event-ID`, `~event-id~`; carried in the message envelope on Nchan). */
  eventId?: string;
  /** Event type (push-stream `Event-Type`; Nchan `X-EventSource-Event`). */
  eventType?: string;
  /**
   * With several `publisherUrl`s: publish only to these nodes (indexes into that list), e.g. the
   * `failed` ones of a PartialNodePublishError, so that a node that has the message never gets it
   * twice. Default: every node.
   */
  nodes?: readonly number[];
}

/** One nginx node's answer to a publish, when several `publisherUrl`s are configured. */
export interface PublisherNodeOutcome {
  /** Index into the `publisherUrl` list (what PublishOptions.nodes takes). */
  index: number;
  /** Its publisher URL, credentials redacted. */
  url: string;
  /** Subscribers it reached. */
  subscribers: number;
}

/** One channel's counters. `publishedMessages` is null where the server does not count it (Nchan). */
export interface ChannelInfo {
  channel: string;
  subscribers: number;
  storedMessages: number;
  publishedMessages: number | null;
  /** Nchan's id of the newest message in the channel. */
  lastMessageId?: string;
}

/** What a publish to one channel returns. */
export interface PublishResult extends ChannelInfo {
  /** With several `publisherUrl`s: every node's answer (`subscribers` above is their sum). */
  nodes?: PublisherNodeOutcome[];
}

/** What a publish to several channels in one request returns. */
export interface PublishManyResult {
  channels: string[];
  /** Subscribers reached, summed over the channels (and over the nodes, with several). */
  subscribers: number;
  /** Per-channel counters where the server reports them (push-stream; the first node's); empty on Nchan, which sums. */
  infos: ChannelInfo[];
  /** With several `publisherUrl`s: every node's answer. */
  nodes?: PublisherNodeOutcome[];
}

/** A value as `JSON.parse` returns it. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Server-wide counters. `raw` keeps every field the server sent. */
export interface ServerStats {
  server: 'push-stream' | 'nchan';
  channels: number;
  subscribers: number;
  publishedMessages: number;
  storedMessages: number;
  /**
   * Every field as the server sent it: push-stream's JSON (nested values such as `by_worker`
   * included), or Nchan's `name: value` lines (numbers where the value is a whole number).
   */
  raw: Record<string, JsonValue>;
}
