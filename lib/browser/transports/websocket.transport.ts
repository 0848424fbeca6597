import { errorReason, hasGlobal, type Transport, type TransportContext } from './transport.js';

export const webSocketTransport: Transport = {
  name: 'websocket',
  available: () => hasGlobal('WebSocket'),
  open(ctx: TransportContext): () => void {
    let ws: WebSocket;
    try {
      ws = new WebSocket(ctx.url(), ctx.dialect.webSocketProtocol);
    } catch (err) {
      queueMicrotask(() => ctx.onEnd({ reason: errorReason(err) }));
      return () => undefined;
    }
    ws.onopen = () => ctx.onOpen();
    ws.onmessage = (event: MessageEvent) => {
      if (typeof event.data !== 'string') return;
      for (const f of ctx.dialect.decodeWebSocketFrame(event.data, ws.protocol, ctx.channels())) ctx.onFrame(f);
    };
    ws.onclose = (event: CloseEvent) => {
      // Every close is a reconnect (Nchan's 1001 "410 Gone" included: see the Nchan dialect).
      ctx.onEnd({ reason: `close ${event.code}${event.reason ? ` ${event.reason}` : ''}` });
    };
    return () => {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) ws.close();
    };
  },
};
