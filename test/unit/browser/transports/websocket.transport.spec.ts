import { webSocketTransport } from '../../../../lib/browser/transports/websocket.transport.js';
import { fakeContext, recordingDialect } from './fake-context.js';

class FakeWebSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static last: FakeWebSocket | null = null;
  readyState = FakeWebSocket.CONNECTING;
  protocol = '';
  closed = false;
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onclose: ((e: { code: number; reason: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(
    readonly url: string,
    readonly protocols?: string,
  ) {
    FakeWebSocket.last = this;
  }
  close(): void {
    this.closed = true;
  }
}

const globals = globalThis as Record<string, unknown>;
const saved = globals.WebSocket;
beforeEach(() => {
  globals.WebSocket = FakeWebSocket;
});
afterEach(() => {
  globals.WebSocket = saved;
});

describe('webSocketTransport (server-neutral: subprotocol and frames go through the dialect)', () => {
  it('asks the dialect subprotocol and hands text frames with the agreed protocol to it', () => {
    const { dialect, calls } = recordingDialect();
    const ctx = fakeContext(dialect);
    webSocketTransport.open(ctx);
    const ws = FakeWebSocket.last!;
    expect([ws.url, ws.protocols]).toEqual(['http://nginx.test/sub/c', 'test-protocol']);
    ws.protocol = 'test-protocol';
    ws.readyState = FakeWebSocket.OPEN;
    ws.onopen?.();
    ws.onmessage?.({ data: 'frame' });
    ws.onmessage?.({ data: new ArrayBuffer(1) });
    expect(calls.ws).toEqual([['frame', 'test-protocol']]);
    expect(ctx.onOpen).toHaveBeenCalledTimes(1);
    expect(ctx.onFrame).toHaveBeenCalledTimes(1);
  });

  it('a close (Nchan\'s 1001 "410 Gone" too) ends the attempt with its code and reason', () => {
    const { dialect } = recordingDialect();
    const ctx = fakeContext(dialect);
    webSocketTransport.open(ctx);
    FakeWebSocket.last!.onclose?.({ code: 1001, reason: '410 Gone' });
    expect(ctx.onEnd).toHaveBeenCalledWith({ reason: 'close 1001 410 Gone' });
  });

  it('stop() detaches and closes', () => {
    const { dialect } = recordingDialect();
    const stop = webSocketTransport.open(fakeContext(dialect));
    const ws = FakeWebSocket.last!;
    stop();
    expect(ws.closed).toBe(true);
    expect([ws.onopen, ws.onmessage, ws.onclose]).toEqual([null, null, null]);
  });
});
