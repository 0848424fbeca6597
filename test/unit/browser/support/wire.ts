import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** test/fixtures/push-stream-wire: recorded push-stream traffic (see its README). */
export const WIRE = join(process.cwd(), 'test/fixtures/push-stream-wire');

/** A recorded HTTP answer: head (status line and headers) and body. */
export function recording(name: string): { head: string; body: string } {
  const text = readFileSync(join(WIRE, name), 'utf8');
  const cut = text.indexOf('\r\n\r\n');
  return { head: text.slice(0, cut), body: text.slice(cut + 4) };
}

/** The headers of a recorded answer, as fetch's Headers. */
export function recordedHeaders(name: string): Headers {
  const headers = new Headers();
  for (const line of recording(name).head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return headers;
}

/** The text frames of the recorded WebSocket subscription (25-sub-websocket.txt). */
export function recordedWebSocketFrames(): string[] {
  return readFileSync(join(WIRE, '25-sub-websocket.txt'), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('FRAME text '))
    .map((l) => l.slice('FRAME text '.length));
}
