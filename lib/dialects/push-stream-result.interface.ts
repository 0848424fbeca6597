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

/** Server-wide counters. `raw` keeps every field the server sent. */
export interface ServerStats {
  server: 'push-stream' | 'nchan';
  channels: number;
  subscribers: number;
  publishedMessages: number;
  storedMessages: number;
  raw: Record<string, string | number>;
}
