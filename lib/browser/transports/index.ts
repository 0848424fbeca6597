import { eventSourceTransport } from './eventsource.transport.js';
import { longPollingTransport } from './long-polling.transport.js';
import type { PushStreamTransport, Transport } from './transport.js';
import { webSocketTransport } from './websocket.transport.js';

export const TRANSPORTS: Readonly<Record<PushStreamTransport, Transport>> = {
  websocket: webSocketTransport,
  eventsource: eventSourceTransport,
  longpolling: longPollingTransport,
};

export type { PushStreamTransport, Transport, TransportContext, TransportEnding } from './transport.js';
