/** What PushStreamService.revokeSession / revokeUser did. */
export interface RevocationResult {
  /** The channel deleted on every publisher: `<prefix>__session__<token>` or `<prefix>__user__<id>`. */
  channel: string;
  /** False when no publisher knew the channel: nobody was subscribed to it and nothing was stored. */
  existed: boolean;
  /**
   * true (Nchan): every connection that named the channel was closed, in every transport, whatever
   * other channels it held; a client must subscribe again, and the auth endpoint is asked again.
   * false (Push Stream Module): the channel was removed from every subscription and waiting long
   * polls were answered, but a WebSocket, EventSource or stream connection that also holds other
   * channels keeps receiving those until `push_stream_subscriber_connection_ttl` closes it
   * (15 minutes in the shipped config). See the README's Security section.
   */
  connectionsClosed: boolean;
}
