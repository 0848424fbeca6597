import { eventSourceTransport } from '../../../../lib/browser/transports/eventsource.transport.js';
import { fakeContext, recordingDialect } from './fake-context.js';

class FakeEventSource extends EventTarget {
  static last: FakeEventSource | null = null;
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  closed = false;
  constructor(
    readonly url: string,
    readonly init?: { withCredentials?: boolean },
  ) {
    super();
    FakeEventSource.last = this;
  }
  emit(type: string, data: string, lastEventId = ''): void {
    this.dispatchEvent(new MessageEvent(type, { data, lastEventId }));
  }
  close(): void {
    this.closed = true;
  }
}

const globals = globalThis as Record<string, unknown>;
const saved = globals.EventSource;
beforeEach(() => {
  globals.EventSource = FakeEventSource;
});
afterEach(() => {
  globals.EventSource = saved;
});

describe('eventSourceTransport (server-neutral)', () => {
  it('hands data with the SSE id and event name to the dialect; listens to the named events asked for', () => {
    const { dialect, calls } = recordingDialect();
    const ctx = fakeContext(dialect, { eventTypes: ['chat', 'message'] });
    eventSourceTransport.open(ctx);
    const es = FakeEventSource.last!;
    expect(es.init).toEqual({ withCredentials: false });
    es.onopen?.();
    es.emit('message', 'a', '1:0');
    es.emit('chat', 'b', '1:1');
    es.emit('other', 'c');
    expect(calls.decode).toEqual([
      ['a', { id: '1:0', eventType: '' }, ['c']],
      ['b', { id: '1:1', eventType: 'chat' }, ['c']],
    ]);
    expect(ctx.onOpen).toHaveBeenCalledTimes(1);
  });

  it('an error ends the attempt (the client reconnects with resume arguments, not the browser)', () => {
    const { dialect } = recordingDialect();
    const ctx = fakeContext(dialect);
    const stop = eventSourceTransport.open(ctx);
    FakeEventSource.last!.onerror?.();
    expect(ctx.onEnd).toHaveBeenCalledWith({ reason: 'EventSource error' });
    stop();
    expect(FakeEventSource.last!.closed).toBe(true);
  });
});
