// One subscription request on a raw socket, bytes as given, from a chosen loopback address: the
// fuzzer's cheap client. It learns the status from the first line and keeps everything nginx sends
// afterwards, so that a canary reaching a refused or forbidden subscription is seen.
import { connect, type Socket } from 'node:net';

/** Most bytes kept per connection; a subscription legitimately receives far less in one batch. */
const MAX_KEPT = 1 << 20;

export interface RawRequest {
  /** Request target as sent: a latin1 string, so raw bytes above 0x7f reach nginx untouched. */
  path: string;
  /** Header lines in order; repeated names are sent repeatedly. */
  headers: Array<[string, string]>;
  /** Source address (127.0.0.x): nginx limits subscriptions per client address. */
  localAddress: string;
  /** Close the socket as soon as the request is written, without waiting for any answer. */
  abandon?: boolean;
}

export class RawSubscription {
  /** The status from the status line, once it arrived. */
  status: number | null = null;
  /** Why the socket ended before a status line, if it did. */
  failure: Error | null = null;
  closed = false;
  private text = '';
  private overflow = false;
  private readonly socket: Socket;
  private readonly waiters = new Set<() => void>();
  /** Resolves with the status, or with null when the socket ended without one (see `failure`). */
  readonly statusKnown: Promise<number | null>;

  constructor(port: number, request: RawRequest) {
    let resolveStatus!: (status: number | null) => void;
    this.statusKnown = new Promise((resolve) => (resolveStatus = resolve));
    this.socket = connect({ port, host: '127.0.0.1', localAddress: request.localAddress });
    this.socket.setNoDelay(true);
    this.socket.setEncoding('latin1');
    this.socket.on('data', (chunk: string) => {
      if (this.text.length + chunk.length > MAX_KEPT) this.overflow = true;
      else this.text += chunk;
      if (this.status === null) {
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(this.text);
        if (m) {
          this.status = Number(m[1]);
          resolveStatus(this.status);
        } else if (this.text.length > 12 && !this.text.startsWith('HTTP/1.')) {
          this.failure = new Error(`not an HTTP answer: ${JSON.stringify(this.text.slice(0, 80))}`);
          resolveStatus(null);
        }
      }
      this.wake();
    });
    this.socket.on('error', (err) => {
      this.failure ??= err;
    });
    this.socket.on('close', () => {
      this.closed = true;
      if (this.status === null) {
        this.failure ??= new Error('closed before a status line');
        resolveStatus(null);
      }
      this.wake();
    });
    const head = request.headers.map(([k, v]) => `${k}: ${v}\r\n`).join('');
    this.socket.write(Buffer.from(`GET ${request.path} HTTP/1.1\r\n${head}\r\n`, 'latin1'), () => {
      if (request.abandon) this.socket.destroy();
    });
  }

  /** Everything received so far, as latin1 text (status line and headers included). */
  received(): string {
    return this.text;
  }

  /** True if more than MAX_KEPT bytes arrived (the rest was dropped). */
  get truncated(): boolean {
    return this.overflow;
  }

  /**
   * Resolves once `done()` holds or the socket closed; `false` if `boundMs` passed first. The
   * bound only turns a hang into a report, nothing asserts on time.
   */
  async until(done: () => boolean, boundMs: number): Promise<boolean> {
    if (done() || this.closed) return true;
    return new Promise((resolve) => {
      const check = () => {
        if (done() || this.closed) finish(true);
      };
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(ok);
      };
      const timer = setTimeout(() => finish(false), boundMs);
      this.waiters.add(check);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}
