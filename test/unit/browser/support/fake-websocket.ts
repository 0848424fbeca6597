/**
 * The least the browser client sees of a WebSocket, for tests without sockets: each instance is
 * kept in `instances`, and the test plays the server (open, receive, serverClose).
 */
export class FakeWebSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly instances: FakeWebSocket[] = [];
  readyState = FakeWebSocket.CONNECTING;
  /** What the server agreed to (set by open()). */
  protocol = '';
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onclose: ((e: { code: number; reason: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(
    readonly url: string,
    readonly protocols?: string | string[],
  ) {
    FakeWebSocket.instances.push(this);
  }
  open(protocol = ''): void {
    this.protocol = protocol;
    this.readyState = FakeWebSocket.OPEN;
    this.onopen?.();
  }
  receive(data: string): void {
    this.onmessage?.({ data });
  }
  /**
   * The server ends it: 1005 as the Push Stream Module closes its subscribers on a reload; 1006
   * (abnormal) for a connection dropped, or an upgrade that failed before it opened.
   */
  serverClose(code = 1005): void {
    this.readyState = 3;
    this.onclose?.({ code, reason: '' });
  }
  close(): void {
    this.readyState = 3;
  }
}
