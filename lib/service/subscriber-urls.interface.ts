/** Where a page connects to receive the given channels, one URL per transport. */
export interface SubscriberUrls {
  /** Raw stream (`/sub/`), for curl and server-side consumers. */
  stream: string;
  /** WebSocket (`/ws/`). */
  websocket: string;
  /** EventSource (`/ev/`). */
  eventsource: string;
  /** Long polling (`/lp/`). */
  longpolling: string;
}

export interface SubscriberUrlOptions {
  /**
   * Replay the last N stored messages of a channel on join (push-stream only). Not with
   * `auth.ticketFormat: 'secure-link-md5'` (a PushStreamConfigError): nginx refuses such paths then.
   */
  backtrack?: Readonly<Record<string, number>>;
}
