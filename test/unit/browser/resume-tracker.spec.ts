import { jest } from '@jest/globals';
import fc from 'fast-check';
import { ResumeTracker } from '../../../lib/browser/resume-tracker.js';

describe('ResumeTracker push-stream', () => {
  const msg = (channel: string, time: string, tag: number, id = '1') => ({ channel, id, time, tag });
  it('drops repeats per channel, resumes with the newest tag/time', () => {
    const t = new ResumeTracker('push-stream');
    expect(t.resumeQuery()).toEqual({});
    expect(t.accept(msg('a', 'Tue, 24 Nov 2026 19:23:55 GMT', 6))).toBe(true);
    expect(t.accept(msg('a', 'Tue, 24 Nov 2026 19:24:06 GMT', 2))).toBe(true);
    expect(t.accept(msg('b', 'Tue, 24 Nov 2026 19:24:05 GMT', 9))).toBe(true);
    expect(t.accept(msg('a', 'Tue, 24 Nov 2026 19:23:55 GMT', 6))).toBe(false);
    expect(t.accept(msg('a', 'Tue, 24 Nov 2026 19:24:06 GMT', 2))).toBe(false);
    expect(t.resumeQuery()).toEqual({ tag: '2', time: 'Tue, 24 Nov 2026 19:24:06 GMT' });
    expect(t.has('b')).toBe(true);
    expect(t.has('c')).toBe(false);
  });
  it('messages without time/tag are always delivered', () => {
    const t = new ResumeTracker('push-stream');
    expect(t.accept({ channel: 'a', id: '3' })).toBe(true);
    expect(t.accept({ channel: 'a', id: '3' })).toBe(true);
  });
  it('property: any replay order of a sequence delivers each message exactly once, in order of first sight', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(30), { maxLength: 60 }), (replays) => {
        const t = new ResumeTracker('push-stream');
        const base = Date.parse('Tue, 24 Nov 2026 19:00:00 GMT');
        const seq = Array.from({ length: 31 }, (_, i) => msg('a', new Date(base + Math.floor(i / 3) * 1000).toUTCString(), i % 3));
        // Deliver 0..k, then a reconnect replays from an arbitrary earlier point.
        const delivered: number[] = [];
        let upTo = 0;
        for (const r of replays) {
          const from = Math.min(r, upTo);
          const to = Math.min(30, from + 5);
          for (let i = from; i <= to; i++) if (t.accept(seq[i])) delivered.push(i);
          upTo = Math.max(upTo, to + 1);
        }
        return delivered.every((v, i) => v === i);
      }),
    );
  });
});

describe('ResumeTracker nchan', () => {
  it('tracks each channel by the active tag; resumes with the last id', () => {
    const t = new ResumeTracker('nchan');
    expect(t.accept({ channel: 'a', id: '1795617914:[0],-' })).toBe(true);
    expect(t.accept({ channel: 'b', id: '1795617914:0,[0]' })).toBe(true);
    expect(t.accept({ channel: 'a', id: '1795617914:[1],0' })).toBe(true);
    expect(t.resumeQuery()).toEqual({ last_event_id: '1795617914:[1],0' });
    // replayed buffer after a reconnect
    expect(t.accept({ channel: 'a', id: '1795617914:[0],-' })).toBe(false);
    expect(t.accept({ channel: 'b', id: '1795617914:0,[0]' })).toBe(false);
    expect(t.accept({ channel: 'b', id: '1795617915:-,[0]' })).toBe(true);
    expect(t.resumeQuery()).toEqual({ last_event_id: '1795617915:-,[0]' });
    t.channelsChanged();
    expect(t.resumeQuery()).toEqual({});
    expect(t.accept({ channel: 'b', id: '1795617915:-,[0]' })).toBe(false);
  });

  it('reconnects from the buffer: drops the very messages delivered, delivers a restarted store\'s new ones', () => {
    const t = new ResumeTracker('nchan');
    t.startConnection();
    expect(t.accept({ channel: 'a', id: '1795619235:[1],-', data: { n: 1 } })).toBe(true);
    expect(t.accept({ channel: 'a', id: '1795619235:[2],-', data: { n: 2 } })).toBe(true);
    expect(t.resumeQuery()).toEqual({ last_event_id: '1795619235:[2],-' }); // long-poll chaining
    // A plain reconnect: no id (nginx may have reloaded); the buffer comes again, other tags may differ.
    t.forgetPosition();
    expect(t.resumeQuery()).toEqual({});
    expect(t.accept({ channel: 'a', id: '1795619235:[1],0', data: { n: 1 } })).toBe(false);
    expect(t.accept({ channel: 'a', id: '1795619235:[2],0', data: { n: 2 } })).toBe(false);
    // After a reload the new store numbers from tag 0 in the same second: new messages, delivered.
    expect(t.accept({ channel: 'a', id: '1795619235:[0],-', data: { n: 3 } })).toBe(true);
    expect(t.accept({ channel: 'a', id: '1795619235:[1],-', data: { n: 4 } })).toBe(true);
    expect(t.accept({ channel: 'a', id: '1795619235:[1],-', data: { n: 4 } })).toBe(false);
  });

  it('drops a repeated event id on a channel (a publish retried after a timeout), but moves past it', () => {
    const t = new ResumeTracker('nchan');
    expect(t.accept({ channel: 'a', id: '1795619300:0', eventId: 'e-1', data: 1 })).toBe(true);
    expect(t.accept({ channel: 'a', id: '1795619300:1', eventId: 'e-1', data: 1 })).toBe(false);
    expect(t.resumeQuery()).toEqual({ last_event_id: '1795619300:1' });
    expect(t.accept({ channel: 'b', id: '1795619300:2', eventId: 'e-1', data: 1 })).toBe(true); // another channel
    expect(t.accept({ channel: 'a', id: '1795619300:3', eventId: 'e-2', data: 1 })).toBe(true);
    expect(t.accept({ channel: 'a', id: '1795619300:4', eventId: '', data: 1 })).toBe(true);
    expect(t.accept({ channel: 'a', id: '1795619300:5', eventId: '', data: 1 })).toBe(true);
  });
});

describe('ResumeTracker, server-neutral part', () => {
  it('push-stream: after a resumed connection an older-looking message is delivered unless it is exactly one seen', () => {
    const t = new ResumeTracker('push-stream');
    const m = (tag: number, data: unknown) => ({ channel: 'a', id: String(tag), time: 'Tue, 24 Nov 2026 19:24:06 GMT', tag, data });
    t.startConnection();
    expect(t.accept(m(5, 'five'))).toBe(true);
    expect(t.accept(m(1, 'old'))).toBe(false); // not resumed: older than the channel's last
    t.startConnection(); // carries ?tag=5&time=...
    expect(t.accept(m(1, 'restarted store'))).toBe(true);
    expect(t.accept(m(5, 'five'))).toBe(false);
  });

  it('has(): a channel counts as joined once a message with a position or an event id came', () => {
    const t = new ResumeTracker('nchan');
    expect(t.accept({ channel: 'a', id: '' })).toBe(true);
    expect(t.has('a')).toBe(false);
    expect(t.accept({ channel: 'a', id: '', eventId: 'e1' })).toBe(true);
    expect(t.has('a')).toBe(true);
  });

  it('refuses an unknown server', () => {
    expect(() => new ResumeTracker('redis' as never)).toThrow(TypeError);
  });
});

describe('ResumeTracker gaps', () => {
  const ps = (id: number, eventId = '') => ({ channel: 'a', id: String(id), time: 'Tue, 24 Nov 2026 19:24:06 GMT', tag: id, data: id, eventId });

  it('reports a gap to onGap before accept() returns, naming the messages on either side; the message is still delivered', () => {
    const order: string[] = [];
    const t = new ResumeTracker('push-stream', (gap) => order.push(`gap ${JSON.stringify(gap)}`));
    const accept = (m: ReturnType<typeof ps>) => order.push(`${m.id}: ${t.accept(m)}`);
    accept(ps(1, 'e-1'));
    accept(ps(2));
    t.startConnection(); // resumed after a reconnect
    accept(ps(9, 'e-9'));
    expect(order).toEqual([
      '1: true',
      '2: true',
      `gap ${JSON.stringify({ reason: 'overrun', missed: 6, proven: true, channel: 'a', last: { id: '2', eventId: '' }, next: { id: '9', eventId: 'e-9' } })}`,
      '9: true',
    ]);
  });

  it('a message dropped as a repeated event id still counts: no gap for it, none for the next one, none when replayed', () => {
    const gaps = jest.fn();
    const t = new ResumeTracker('nchan', gaps);
    expect(t.accept({ channel: 'a', id: '1795619300:0', eventId: 'e-1', data: 1 })).toBe(true);
    expect(t.accept({ channel: 'a', id: '1795619300:1', eventId: 'e-1', data: 1 })).toBe(false); // publish retried
    expect(t.accept({ channel: 'a', id: '1795619300:2', eventId: 'e-2', data: 2 })).toBe(true);
    t.forgetPosition(); // a reconnect: the buffer comes again, the retried publish included
    expect(t.accept({ channel: 'a', id: '1795619300:1', eventId: 'e-1', data: 1 })).toBe(false);
    expect(t.accept({ channel: 'a', id: '1795619300:2', eventId: 'e-2', data: 2 })).toBe(false);
    expect(t.accept({ channel: 'a', id: '1795619300:3', eventId: 'e-3', data: 3 })).toBe(true);
    expect(gaps).not.toHaveBeenCalled();
  });

  it('Nchan: a replay that no longer reaches back to the last message delivered is reported once', () => {
    const gaps = jest.fn();
    const t = new ResumeTracker('nchan', gaps);
    t.accept({ channel: 'a', id: '1795619300:0', data: 1 });
    t.forgetPosition();
    expect(t.accept({ channel: 'a', id: '1795619302:4', data: 9 })).toBe(true);
    expect(t.accept({ channel: 'a', id: '1795619302:5', data: 10 })).toBe(true);
    expect(gaps.mock.calls).toEqual([[{
      reason: 'overrun', missed: 4, proven: true, channel: 'a', last: { id: '1795619300:0', eventId: '' }, next: { id: '1795619302:4', eventId: '' },
    }]]);
  });
});
