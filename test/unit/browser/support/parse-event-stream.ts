/**
 * Parses a `text/event-stream` body into events, for recorded SSE traffic. Test-only: the browser
 * client itself reads SSE through the native EventSource.
 */
export interface ParsedServerSentEvent {
  id: string;
  event: string;
  data: string;
  /** The block held only comment lines (pings, Nchan's ":410: 410 Gone"). */
  comment: boolean;
}

export function parseEventStream(body: string): ParsedServerSentEvent[] {
  const events: ParsedServerSentEvent[] = [];
  for (const block of body.replace(/\r\n/g, '\n').split('\n\n')) {
    if (block.trim() === '') continue;
    let id = '';
    let event = '';
    const data: string[] = [];
    let comment = true;
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      comment = false;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') id = value;
      else if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    events.push({ id, event, data: data.join('\n'), comment });
  }
  return events;
}
