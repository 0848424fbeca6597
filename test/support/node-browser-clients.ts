// The package's browser client (lib/browser/push-stream-client.ts) run in Node, many at once, for
// the fault suites: `ws` stands in for the browser's WebSocket and undici's fetch for the
// browser's fetch (long polling and the denial probe), each connection from the next of a pool of
// loopback source addresses, because nginx limits subscriptions per address (10/s, burst 30).
// Every request the clients make is counted here too (time, kind), next to what each client saw.
import { Agent, fetch as undiciFetch } from 'undici';
import WebSocket from 'ws';
import { PushStreamClient, type PushStreamClientOptions, type PushStreamClientState, type PushStreamGapDetail } from '../../lib/browser/push-stream-client.js';

export interface BrowserGlobalsOptions {
  /** Source addresses, round robin over requests: `${prefix}.${1..count}` (e.g. prefix `127.9.0`). */
  addressPrefix: string;
  addressCount: number;
  /** Keep every WebSocket text frame (for checking the order the server sent them in). */
  keepFrames?: boolean;
}

/** A request the clients made, as the stand-in globals saw it. */
export interface ClientRequestRecord {
  at: number;
  kind: 'websocket' | 'fetch';
  url: string;
  localAddress: string;
  /** fetch: the answer's status once its head arrived; WebSocket: 101 once open. */
  status?: number;
  /** The request ended without an answer (refused, aborted, reset). */
  failed?: string;
}

/**
 * Installs `WebSocket` and `fetch` on globalThis for PushStreamClient (restore() puts the previous
 * ones back). Each new connection takes the next source address of the pool.
 */
export class NodeBrowserGlobals {
  readonly requests: ClientRequestRecord[] = [];
  /** Text frames of every WebSocket, in arrival order, when `keepFrames` (one list per connection). */
  readonly frames: string[][] = [];
  private readonly saved: { WebSocket: unknown; fetch: unknown };
  private readonly agents = new Map<string, Agent>();
  private next = 0;

  constructor(private readonly options: BrowserGlobalsOptions) {
    const g = globalThis as Record<string, unknown>;
    this.saved = { WebSocket: g.WebSocket, fetch: g.fetch };
    const self = this;
    class PooledWebSocket extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        const localAddress = self.nextAddress();
        const record: ClientRequestRecord = { at: Date.now(), kind: 'websocket', url, localAddress };
        self.requests.push(record);
        super(url, protocols, { localAddress });
        this.on('open', () => (record.status = 101));
        // A failed upgrade emits 'error' (then 'close'), as the browser's onerror + onclose. No
        // 'unexpected-response' listener: with one, ws would leave the handshake to it.
        this.on('error', (err) => {
          const status = /Unexpected server response: (\d+)/.exec(err.message);
          if (status) record.status = Number(status[1]);
          else record.failed ??= err.message;
        });
        if (self.options.keepFrames) {
          const frames: string[] = [];
          self.frames.push(frames);
          this.on('message', (data, isBinary) => {
            if (!isBinary) frames.push(String(data));
          });
        }
      }
    }
    g.WebSocket = PooledWebSocket;
    g.fetch = (input: string | URL, init?: Record<string, unknown>) => {
      const localAddress = this.nextAddress();
      const url = String(input);
      const record: ClientRequestRecord = { at: Date.now(), kind: 'fetch', url, localAddress };
      this.requests.push(record);
      // `cache` and `credentials` mean nothing to undici's fetch in Node; the rest is as given.
      return undiciFetch(url, { ...(init as object), dispatcher: this.agent(localAddress) } as Parameters<typeof undiciFetch>[1]).then(
        (res) => {
          record.status = res.status;
          return res;
        },
        (err: unknown) => {
          record.failed = err instanceof Error ? err.message : String(err);
          throw err;
        },
      );
    };
  }

  private nextAddress(): string {
    const i = this.next++ % this.options.addressCount;
    return `${this.options.addressPrefix}.${i + 1}`;
  }

  private agent(localAddress: string): Agent {
    let agent = this.agents.get(localAddress);
    if (!agent) {
      agent = new Agent({ localAddress, keepAliveTimeout: 4000 });
      this.agents.set(localAddress, agent);
    }
    return agent;
  }

  async restore(): Promise<void> {
    const g = globalThis as Record<string, unknown>;
    g.WebSocket = this.saved.WebSocket;
    g.fetch = this.saved.fetch;
    await Promise.all([...this.agents.values()].map((a) => a.destroy().catch(() => undefined)));
    this.agents.clear();
  }
}

/** One delivered message, as the client's `message` event gave it. */
export interface Delivered {
  at: number;
  channel: string;
  eventId: string;
  id: string;
  data: unknown;
}

/** A PushStreamClient and everything it reported. */
export class RecordedClient {
  readonly client: PushStreamClient;
  readonly messages: Delivered[] = [];
  readonly gaps: PushStreamGapDetail[] = [];
  readonly errors: string[] = [];
  readonly states: Array<{ at: number; state: PushStreamClientState }> = [];
  denied: number | null = null;
  /** When the client last became `open` (ms since the epoch), null before. */
  openedAt: number | null = null;

  constructor(options: PushStreamClientOptions) {
    this.client = new PushStreamClient(options);
    this.client.addEventListener('message', (e) => {
      const { channel, eventId, id, data } = e.detail;
      this.messages.push({ at: Date.now(), channel, eventId, id, data });
    });
    this.client.addEventListener('gap', (e) => this.gaps.push(e.detail));
    this.client.addEventListener('error', (e) => {
      if (this.errors.length < 50) this.errors.push(e.detail.message);
    });
    this.client.addEventListener('denied', (e) => (this.denied = e.detail.status));
    this.client.addEventListener('state', (e) => {
      const at = Date.now();
      this.states.push({ at, state: e.detail.state });
      if (e.detail.state === 'open') this.openedAt = at;
    });
  }

  get state(): PushStreamClientState {
    return this.client.state;
  }

  connect(): void {
    this.client.connect();
  }

  close(): void {
    this.client.close();
  }

  /** How many times each event id was delivered. */
  countsByEventId(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const m of this.messages) counts.set(m.eventId, (counts.get(m.eventId) ?? 0) + 1);
    return counts;
  }
}

/** Lost and doubled among `expected` event ids, over every client. */
export function lostAndDoubled(clients: readonly RecordedClient[], expected: (client: RecordedClient) => readonly string[]): { expected: number; lost: number; doubled: number; lostBy: number[] } {
  let total = 0;
  let lost = 0;
  let doubled = 0;
  const lostBy: number[] = [];
  for (const c of clients) {
    const counts = c.countsByEventId();
    let mine = 0;
    for (const id of expected(c)) {
      total++;
      const n = counts.get(id) ?? 0;
      if (n === 0) mine++;
      if (n > 1) doubled += n - 1;
    }
    lost += mine;
    lostBy.push(mine);
  }
  return { expected: total, lost, doubled, lostBy };
}

/** Every delivery of an event id more than once, over every client and every event id. */
export function doubledAnywhere(clients: readonly RecordedClient[]): number {
  let doubled = 0;
  for (const c of clients) for (const n of c.countsByEventId().values()) if (n > 1) doubled += n - 1;
  return doubled;
}
