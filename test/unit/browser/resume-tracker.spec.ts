import { jest } from '@jest/globals';
import fc from 'fast-check';
import { REORDER_WAIT_MS, REORDER_WINDOW, ResumeTracker, type TrackedGap } from '../../../lib/browser/resume-tracker.js';

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
  it('push-stream: an older message is delivered when never seen (out of order), or after a resumed connection unless exactly one seen', () => {
    const t = new ResumeTracker('push-stream');
    const m = (tag: number, data: unknown) => ({ channel: 'a', id: String(tag), time: 'Tue, 24 Nov 2026 19:24:06 GMT', tag, data });
    t.startConnection();
    expect(t.accept(m(5, 'five'))).toBe(true);
    expect(t.accept(m(1, 'late'))).toBe(true); // never seen, numbered and positioned before 5: out of order
    expect(t.accept(m(1, 'other'))).toBe(false); // number 1 came already: not resumed, older than the channel's last
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
    // A jump beyond the reorder window: reported at once (a smaller one is waited for, see below).
    accept(ps(99, 'e-99'));
    expect(order).toEqual([
      '1: true',
      '2: true',
      `gap ${JSON.stringify({ reason: 'overrun', missed: 96, proven: true, channel: 'a', last: { id: '2', eventId: '' }, next: { id: '99', eventId: 'e-99' } })}`,
      '99: true',
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

describe('ResumeTracker, push-stream messages out of order (several workers)', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  const base = Date.parse('Thu, 26 Nov 2026 07:00:00 GMT');
  /** Message number n of channel `channel`: the module gives ids and (time, tag) positions in the same order. */
  const ps = (n: number, { channel = 'a', eventId = `e-${n}`, data = n as unknown, second = 0 } = {}) => ({
    channel, id: String(n), time: new Date(base + second * 1000).toUTCString(), tag: n, data, eventId,
  });
  function tracker() {
    const gaps: TrackedGap[] = [];
    const late: TrackedGap[] = [];
    const t = new ResumeTracker('push-stream', (g) => gaps.push(g), (g) => late.push(g));
    return { t, gaps, late };
  }
  const deliver = (t: ResumeTracker, ns: number[], opts: Parameters<typeof ps>[1] = {}) => ns.filter((n) => t.accept(ps(n, opts)));

  it.each([false, true])('within the window, resumed connection %s: every message delivered once, no gap, then or after the wait', (resumed) => {
    const { t, gaps, late } = tracker();
    t.startConnection();
    expect(deliver(t, [1])).toEqual([1]);
    if (resumed) t.startConnection(); // ?tag=&time= of 1
    expect(deliver(t, [2, 4, 3, 5, 8, 7, 6, 9])).toEqual([2, 4, 3, 5, 8, 7, 6, 9]);
    jest.advanceTimersByTime(10 * REORDER_WAIT_MS);
    expect([...gaps, ...late]).toEqual([]);
    expect(t.resumeQuery()).toEqual({ tag: '9', time: ps(9).time });
  });

  it('on a resumed connection, the false store-reset of the fault suite (1601 before 1600) is gone', () => {
    const { t, gaps, late } = tracker();
    t.startConnection();
    expect(deliver(t, [1598, 1599])).toEqual([1598, 1599]);
    t.startConnection();
    expect(deliver(t, [1601, 1600, 1602])).toEqual([1601, 1600, 1602]);
    jest.advanceTimersByTime(REORDER_WAIT_MS);
    expect([...gaps, ...late]).toEqual([]);
  });

  it('a missing number that comes within the wait is no gap; one still missing after it is reported, once', () => {
    const { t, gaps, late } = tracker();
    expect(deliver(t, [1, 3, 4])).toEqual([1, 3, 4]);
    jest.advanceTimersByTime(REORDER_WAIT_MS - 1);
    expect(deliver(t, [2])).toEqual([2]);
    expect(deliver(t, [7, 5])).toEqual([7, 5]);
    expect(late).toEqual([]);
    jest.advanceTimersByTime(REORDER_WAIT_MS);
    expect(gaps).toEqual([]);
    expect(late).toEqual([
      { reason: 'overrun', missed: 1, proven: true, channel: 'a', last: { id: '4', eventId: 'e-4' }, next: { id: '7', eventId: 'e-7' } },
    ]);
    // Later still: delivered (it never came), and no second report.
    expect(deliver(t, [6])).toEqual([6]);
    jest.advanceTimersByTime(10 * REORDER_WAIT_MS);
    expect(late).toHaveLength(1);
  });

  it('each channel waits on its own', () => {
    const { t, late } = tracker();
    expect(deliver(t, [1, 3], { channel: 'a' })).toEqual([1, 3]);
    expect(deliver(t, [10, 12], { channel: 'b' })).toEqual([10, 12]);
    expect(deliver(t, [11], { channel: 'b' })).toEqual([11]);
    jest.advanceTimersByTime(REORDER_WAIT_MS);
    expect(late.map((g) => [g.channel, g.missed])).toEqual([['a', 1]]);
  });

  it('repeats are still dropped: the same message again, a late one again, a repeated event id', () => {
    const { t, gaps, late } = tracker();
    expect(deliver(t, [1, 3, 2, 2, 3, 1])).toEqual([1, 3, 2]);
    // A publish retried after a timeout: a new number, the same event id.
    expect(t.accept(ps(4, { eventId: 'e-3' }))).toBe(false);
    // A late message with a repeated event id: not delivered, but it fills its number.
    expect(deliver(t, [6])).toEqual([6]);
    expect(t.accept(ps(5, { eventId: 'e-6' }))).toBe(false);
    jest.advanceTimersByTime(REORDER_WAIT_MS);
    expect([...gaps, ...late]).toEqual([]);
  });

  it('beyond the window: a jump wider than it is reported at once; a number that falls out of it is reported then, and no longer taken late', () => {
    const { t, gaps, late } = tracker();
    expect(deliver(t, [1, 1 + REORDER_WINDOW + 1])).toHaveLength(2);
    expect(gaps.map((g) => g.missed)).toEqual([REORDER_WINDOW]);
    const from = 1 + REORDER_WINDOW + 1;
    // Number from+1 missing; the channel goes on past the window before the wait ends.
    const next = Array.from({ length: REORDER_WINDOW }, (_, i) => from + 2 + i);
    expect(deliver(t, next)).toEqual(next);
    expect(late).toEqual([
      { reason: 'overrun', missed: 1, proven: true, channel: 'a', last: { id: String(from), eventId: `e-${from}` }, next: { id: String(from + 2), eventId: `e-${from + 2}` } },
    ]);
    // Too old to tell from a repeat: dropped as older than the channel's last (not resumed), no store-reset gap.
    expect(deliver(t, [from + 1])).toEqual([]);
    jest.advanceTimersByTime(10 * REORDER_WAIT_MS);
    expect(gaps).toHaveLength(1);
    expect(late).toHaveLength(1);
  });

  it('a store numbering anew (positioned after the last message) is not taken for a late message', () => {
    const { t, gaps, late } = tracker();
    t.startConnection();
    expect(deliver(t, [40, 41, 42])).toEqual([40, 41, 42]);
    t.startConnection();
    // nginx restarted: the new store's number 3, a minute later; its 1 and 2 never came.
    expect(deliver(t, [3], { second: 60 })).toEqual([3]);
    expect(gaps.map((g) => [g.reason, g.missed, g.proven])).toEqual([['store-reset', 2, true]]);
    expect(deliver(t, [4, 5], { second: 60 })).toEqual([4, 5]);
    jest.advanceTimersByTime(REORDER_WAIT_MS);
    expect(late).toEqual([]);
  });

  it('resume after a reorder: from the newest message, the replayed ones dropped, no gap', () => {
    const { t, gaps, late } = tracker();
    t.startConnection();
    expect(deliver(t, [1, 3, 2])).toEqual([1, 3, 2]);
    t.forgetPosition(); // the connection ended
    t.startConnection();
    expect(t.resumeQuery()).toEqual({ tag: '3', time: ps(3).time });
    expect(deliver(t, [3, 4, 6, 5])).toEqual([4, 6, 5]);
    jest.advanceTimersByTime(REORDER_WAIT_MS);
    expect([...gaps, ...late]).toEqual([]);
  });

  it('resume while a number is missing: from the message before it; the server sends it again with what followed, each once', () => {
    const { t, gaps, late } = tracker();
    t.startConnection();
    expect(deliver(t, [1, 3])).toEqual([1, 3]);
    expect(deliver(t, [7, 8], { channel: 'b' })).toEqual([7, 8]);
    expect(t.resumeQuery()).toEqual({ tag: '1', time: ps(1).time }); // not 8 (the newest)
    t.forgetPosition();
    t.startConnection();
    // What the module sends after (time, tag 1): a's 2 and 3, b's 7 and 8 (tags are per server here).
    expect(deliver(t, [2, 3])).toEqual([2]);
    expect(deliver(t, [7, 8], { channel: 'b' })).toEqual([]);
    expect(t.resumeQuery()).toEqual({ tag: '8', time: ps(8).time });
    jest.advanceTimersByTime(REORDER_WAIT_MS);
    expect([...gaps, ...late]).toEqual([]);
  });

  it('resumed from before a missing number, a message sent again that its key no longer names is dropped as older, not delivered twice', () => {
    const { t, gaps } = tracker();
    t.startConnection();
    // 40 messages with event ids on b push their first keys out of the recent window.
    const many = Array.from({ length: 40 }, (_, i) => i + 1);
    expect(deliver(t, [1, 3])).toEqual([1, 3]);
    expect(deliver(t, many, { channel: 'b' })).toEqual(many);
    t.startConnection(); // the next long poll: from a's 1
    expect(deliver(t, many, { channel: 'b' })).toEqual([]);
    expect(deliver(t, [2])).toEqual([2]);
    expect(gaps).toEqual([]);
  });

  it('the wait runs only while connected: paused by forgetPosition()/pause(), started again with the next connection', () => {
    const { t, late } = tracker();
    t.startConnection();
    expect(deliver(t, [1, 3])).toEqual([1, 3]);
    jest.advanceTimersByTime(REORDER_WAIT_MS / 2);
    t.forgetPosition(); // reconnecting
    jest.advanceTimersByTime(60_000);
    expect(late).toEqual([]);
    t.startConnection();
    expect(deliver(t, [2])).toEqual([2]); // it did come after all (a replay, or out of order)
    jest.advanceTimersByTime(REORDER_WAIT_MS);
    expect(late).toEqual([]);
    expect(deliver(t, [5])).toEqual([5]);
    t.pause(); // closed
    jest.advanceTimersByTime(60_000);
    expect(late).toEqual([]);
    expect(jest.getTimerCount()).toBe(0);
    t.startConnection();
    jest.advanceTimersByTime(REORDER_WAIT_MS);
    expect(late.map((g) => g.missed)).toEqual([1]);
  });

  it('Nchan is unchanged: no numbers, its jumps are reported before accept() returns', () => {
    const gaps: TrackedGap[] = [];
    const t = new ResumeTracker('nchan', (g) => gaps.push(g));
    expect(t.accept({ channel: 'a', id: '1795619300:0', data: 1 })).toBe(true);
    expect(t.accept({ channel: 'a', id: '1795619300:2', data: 3 })).toBe(true);
    expect(gaps.map((g) => [g.reason, g.missed])).toEqual([['overrun', 1]]);
    expect(jest.getTimerCount()).toBe(0);
  });
});

describe('ResumeTracker, push-stream out of order: property', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('any arrival order displacing each message by less than the window, with repeats: each delivered once, no gap', () => {
    const base = Date.parse('Thu, 26 Nov 2026 07:00:00 GMT');
    const ps = (n: number) => ({ channel: 'a', id: String(n), time: new Date(base + Math.floor(n / 7) * 1000).toUTCString(), tag: n % 7, data: n, eventId: `e-${n}` });
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 8, noNaN: true }), { minLength: 1, maxLength: 80 }),
        fc.array(fc.nat(79), { maxLength: 10 }),
        fc.boolean(),
        (jitter, repeats, resumed) => {
          const gaps: TrackedGap[] = [];
          const t = new ResumeTracker('push-stream', (g) => gaps.push(g));
          // Message n arrives at n + jitter: concurrent publishes on several workers.
          const arrival = jitter.map((j, i) => ({ n: i + 1, at: i + 1 + j })).sort((x, y) => x.at - y.at).map((x) => x.n);
          for (const r of repeats) if (r < arrival.length) arrival.splice(r + 1, 0, arrival[r]);
          t.startConnection();
          const delivered: number[] = [];
          for (const [i, n] of arrival.entries()) {
            if (t.accept(ps(n))) delivered.push(n);
            if (resumed && i === 0) t.startConnection();
          }
          jest.advanceTimersByTime(REORDER_WAIT_MS);
          return gaps.length === 0 && delivered.length === jitter.length && new Set(delivered).size === jitter.length;
        },
      ),
    );
  });
});
