/** Publish options; both become headers nginx turns into the EventSource `id:`/`event:` lines. */
export interface PublishOptions {
  /** Event id (push-stream `Event-ID`, `~event-id~`; carried in the message envelope on Nchan). */
  eventId?: string;
  /** Event type (push-stream `Event-Type`; Nchan `X-EventSource-Event`). */
  eventType?: string;
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
export type PublishResult = ChannelInfo;

/** What a publish to several channels in one request returns. */
export interface PublishManyResult {
  channels: string[];
  /** Subscribers reached, summed over the channels. */
  subscribers: number;
  /** Per-channel counters where the server reports them (push-stream); empty on Nchan, which sums. */
  infos: ChannelInfo[];
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
