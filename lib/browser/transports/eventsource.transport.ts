import { errorReason, hasGlobal, type Transport, type TransportContext } from './transport.js';

export const eventSourceTransport: Transport = {
  name: 'eventsource',
  available: () => hasGlobal('EventSource'),
  open(ctx: TransportContext): () => void {
    let es: EventSource;
    try {
      es = new EventSource(ctx.url(), { withCredentials: ctx.withCredentials });
    } catch (err) {
      queueMicrotask(() => ctx.onEnd({ reason: errorReason(err) }));
      return () => undefined;
    }
    const onMessage = (event: Event): void => {
      const e = event as MessageEvent;
      if (typeof e.data !== 'string') return;
      const eventType = e.type === 'message' ? '' : e.type;
      for (const f of ctx.dialect.decode(e.data, { id: e.lastEventId, eventType }, ctx.channels())) ctx.onFrame(f);
    };
    // The browser dispatches a named event (`event:` line) only to listeners of that name.
    const types = ['message', ...ctx.eventTypes].filter((t, i, all) => all.indexOf(t) === i);
    for (const t of types) es.addEventListener(t, onMessage);
    es.onopen = () => ctx.onOpen();
    // The browser would reconnect on its own, with the old URL: take over (resume arguments, probe, backoff).
    es.onerror = () => ctx.onEnd({ reason: 'EventSource error' });
    return () => {
      for (const t of types) es.removeEventListener(t, onMessage);
      es.onopen = es.onerror = null;
      es.close();
    };
  },
};
