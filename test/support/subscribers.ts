import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import WebSocket from 'ws';

/**
 * Messages arriving on a subscriber connection, consumed in order with `next()`.
 * `next()` waits for at most `timeoutMs` as a safety bound (a missing message fails the test
 * with a clear error instead of hanging it); it is not a timed assertion.
 */
class MessageQueue<T> {
  private readonly items: T[] = [];
  private readonly waiters: Array<{ resolve: (item: T) => void; reject: (err: Error) => void }> = [];
  private ended: Error | undefined;

  push(item: T): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve(item);
    else this.items.push(item);
  }

  end(reason: Error): void {
    this.ended ??= reason;
    for (const waiter of this.waiters.splice(0)) waiter.reject(reason);
  }

  next(what: string, timeoutMs: number): Promise<T> {
    if (this.items.length > 0) return Promise.resolve(this.items.shift() as T);
    if (this.ended) return Promise.reject(this.ended);
    return new Promise<T>((resolve, reject) => {
      const waiter = {
        resolve: (item: T) => {
          clearTimeout(timer);
          resolve(item);
        },
        reject: (err: Error) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Items received and not yet consumed. */
  get pending(): readonly T[] {
    return this.items;
  }
}

export interface WebSocketSubscriber {
  /** Next text frame. */
  next(timeoutMs?: number): Promise<string>;
  readonly pending: readonly string[];
  close(): Promise<void>;
}

/** Opens a WebSocket (e.g. `ws://127.0.0.1:<port>/ws/<channel>`) and resolves once the upgrade succeeded. */
export async function openWebSocket(url: string, headers: Record<string, string> = {}): Promise<WebSocketSubscriber> {
  const socket = new WebSocket(url, { headers });
  const queue = new MessageQueue<string>();
  socket.on('message', (data, isBinary) => {
    if (!isBinary) queue.push(data.toString('utf8'));
  });
  socket.on('close', (code) => queue.end(new Error(`WebSocket ${url} closed (${code})`)));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
    socket.once('unexpected-response', (_req, res) => reject(new Error(`WebSocket ${url}: HTTP ${res.statusCode}`)));
  });
  socket.on('error', (err) => queue.end(err));
  return {
    next: (timeoutMs = 5000) => queue.next('WebSocket message', timeoutMs),
    get pending() {
      return queue.pending;
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (socket.readyState === WebSocket.CLOSED) return resolve();
        socket.once('close', () => resolve());
        socket.terminate();
      }),
  };
}

/** One EventSource frame: `id:`, `event:` and the `data:` lines joined with "\n". `raw` is the frame as sent. */
export interface EventSourceFrame {
  id?: string;
  event?: string;
  data: string;
  raw: string;
}

export interface EventSourceSubscriber {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  /** Next frame that carries data (comment-only frames such as pings are skipped). */
  next(timeoutMs?: number): Promise<EventSourceFrame>;
  close(): Promise<void>;
}

/** Parses one frame (text between blank lines) as the EventSource spec reads it; null for comments only. */
export function parseEventSourceFrame(raw: string): EventSourceFrame | null {
  const frame: EventSourceFrame = { data: '', raw };
  const data: string[] = [];
  for (const line of raw.split(/\r\n|\r|\n/)) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'id') frame.id = value;
    else if (field === 'event') frame.event = value;
  }
  if (data.length === 0 && frame.id === undefined && frame.event === undefined) return null;
  frame.data = data.join('\n');
  return frame;
}

/**
 * An EventSource subscription over plain HTTP (`Accept: text/event-stream`), resolving once
 * nginx answered 200 and so registered the subscriber. Rejects with the status otherwise.
 */
export async function openEventSource(url: string, headers: Record<string, string> = {}): Promise<EventSourceSubscriber> {
  const queue = new MessageQueue<EventSourceFrame>();
  let req: ClientRequest | undefined;
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, resolve);
    req.once('error', reject);
    req.end();
  });
  if (res.statusCode !== 200) {
    res.resume();
    req?.destroy();
    throw new Error(`EventSource ${url}: HTTP ${res.statusCode}`);
  }
  let buffer = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    buffer += chunk;
    for (let end = buffer.search(/\r?\n\r?\n/); end !== -1; end = buffer.search(/\r?\n\r?\n/)) {
      const raw = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
      const frame = parseEventSourceFrame(raw);
      if (frame) queue.push(frame);
    }
  });
  res.on('close', () => queue.end(new Error(`EventSource ${url} closed`)));
  req?.on('error', (err) => queue.end(err));
  return {
    status: res.statusCode,
    headers: res.headers,
    next: (timeoutMs = 5000) => queue.next('EventSource frame', timeoutMs),
    close: async () => {
      req?.destroy();
      res.destroy();
    },
  };
}

export interface StreamSubscriber {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  /** Next line of the body, without its "\n". */
  nextLine(timeoutMs?: number): Promise<string>;
  /** Resolves with the lines left unread once nginx ends the response: the closing marker. */
  ended(timeoutMs?: number): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * A stream-mode subscription (`/sub/<channel>`, one message per line), resolving as soon as the
 * status line and headers arrived: before any message, when nginx sends them at once. `boundMs`
 * turns a server that withholds them into a clear failure; nothing asserts on time.
 */
export async function openStream(url: string, boundMs = 5000): Promise<StreamSubscriber> {
  const lines = new MessageQueue<string>();
  let req: ClientRequest | undefined;
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    req = request(url, resolve);
    req.setTimeout(boundMs, () => req?.destroy(new Error(`stream ${url}: no status line and headers within ${boundMs} ms`)));
    req.once('error', reject);
    req.end();
  });
  req?.setTimeout(0);
  let buffer = '';
  let done!: () => void;
  const end = new Promise<void>((resolve) => (done = resolve));
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    buffer += chunk;
    for (let nl = buffer.indexOf('\n'); nl !== -1; nl = buffer.indexOf('\n')) {
      lines.push(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
    }
  });
  res.on('end', () => {
    if (buffer !== '') lines.push(buffer); // an unterminated last line is still shown
    buffer = '';
    lines.end(new Error(`stream ${url} ended`));
    done();
  });
  res.on('close', () => lines.end(new Error(`stream ${url} closed`)));
  return {
    status: res.statusCode ?? 0,
    headers: res.headers,
    nextLine: (timeoutMs = 5000) => lines.next('stream line', timeoutMs),
    ended: async (timeoutMs = 5000) => {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<never>((_r, reject) => {
        timer = setTimeout(() => reject(new Error(`stream ${url} did not end within ${timeoutMs} ms`)), timeoutMs);
      });
      await Promise.race([end, bound]).finally(() => clearTimeout(timer));
      return lines.pending.slice();
    },
    close: async () => {
      req?.destroy();
      res.destroy();
    },
  };
}
