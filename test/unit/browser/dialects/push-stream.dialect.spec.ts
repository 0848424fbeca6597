import {
  decodePushStreamMessage,
  PUSH_STREAM_MAX_CHANNEL_ID_LENGTH,
  PushStreamBrowserDialect,
} from '../../../../lib/browser/dialects/push-stream.dialect.js';
import { splitJsonObjects, type DecodedFrame } from '../../../../lib/browser/decode-message.js';
import { parseEventStream } from '../support/parse-event-stream.js';
import { recordedHeaders, recordedWebSocketFrames, recording } from '../support/wire.js';

import type { BrowserServerDialect } from '../../../../lib/browser/dialects/browser-server-dialect.js';

const dialect: BrowserServerDialect = new PushStreamBrowserDialect();
const NO_META = { id: '', eventType: '' };
/** A body of a subscription to the recordings' channels. */
const decode = (raw: string) => dialect.decode(raw, NO_META, ['room2', 'room3', 'room4', 'cap1']);
const messages = (frames: DecodedFrame[]) => frames.filter((f) => f.kind === 'message');

describe('push-stream recorded subscriber traffic', () => {
  it('20 stream mode: concatenated objects incl. the invalid-JSON channel-deleted notice', () => {
    const frames = decode(recording('20-sub-stream-backtrack.txt').body);
    expect(frames).toHaveLength(4);
    expect(frames[0]).toEqual({
      kind: 'message', channel: 'room2', data: { x: 1 }, eventId: '', eventType: '', id: '1',
      time: 'Tue, 24 Nov 2026 19:23:55 GMT', tag: 6,
    });
    expect(frames[1]).toMatchObject({ kind: 'message', data: { message: 'live' }, eventId: 'e-1', eventType: 'chat', id: '2', tag: 2 });
    expect(frames[2]).toEqual({ kind: 'channel-deleted', channel: 'room3' });
    expect(frames[3]).toMatchObject({ kind: 'message', data: { message: 'live2' }, eventId: 'e-2', id: '3', tag: 1 });
  });

  it('21/22 EventSource: shorter template, ids/types on the SSE lines; Last-Event-ID resumes after e-2', () => {
    const ev = parseEventStream(recording('21-sub-eventsource.txt').body).filter((e) => !e.comment);
    expect(ev.map((e) => [e.id, e.event])).toEqual([['', ''], ['e-1', 'chat'], ['e-2', 'chat']]);
    // The SSE id/event lines are the publisher's; the dialect reads the template only.
    const frames = ev.flatMap((e) => dialect.decode(e.data, { id: e.id, eventType: e.event }, ['room2']));
    expect(messages(frames).map((m) => m.data)).toEqual([{ x: 1 }, { message: 'live' }, { message: 'live2' }]);
    expect(frames[2]).toMatchObject({ channel: 'room2', id: '3', eventId: '', eventType: '' });
    expect(frames[2]).not.toHaveProperty('time');
    const resumed = parseEventStream(recording('22-sub-eventsource-last-event-id.txt').body).filter((e) => !e.comment);
    expect(resumed.map((e) => decodePushStreamMessage(e.data))).toEqual([
      { kind: 'message', channel: 'room2', data: { message: 'live2' }, eventId: '', eventType: '', id: '3' },
    ]);
  });

  it('23 long polling: one message; Etag W/<tag> and Last-Modified only repeat the template', () => {
    const { head, body } = recording('23-sub-longpoll-backtrack.txt');
    expect(head).toMatch(/Etag: W\/1/);
    expect(dialect.longPollAnswer(200)).toBe('messages');
    const meta = dialect.longPollMeta(recordedHeaders('23-sub-longpoll-backtrack.txt'));
    expect(meta).toEqual(NO_META);
    expect(dialect.decode(body, meta, ['room2'])).toEqual([
      { kind: 'message', channel: 'room2', data: { message: 'live2' }, eventId: '', eventType: '', id: '3', tag: 1, time: 'Tue, 24 Nov 2026 19:24:07 GMT' },
    ]);
  });

  it('25 WebSocket frames: UTF-8 text, channel-deleted notice; no subprotocol asked or needed', () => {
    expect(dialect.webSocketProtocol).toBeUndefined();
    const frames = recordedWebSocketFrames().flatMap((f) => dialect.decodeWebSocketFrame(f, '', ['room2', 'room4']));
    expect(frames.map((f) => f.kind)).toEqual(['message', 'message', 'message', 'channel-deleted']);
    expect(frames[2]).toMatchObject({ channel: 'room4', data: { message: 'żółć ünïcode' }, eventId: 'e-9', eventType: 'notice' });
    expect(frames[3]).toEqual({ kind: 'channel-deleted', channel: 'room4' });
  });

  it('every recorded subscriber body decodes without an invalid frame', () => {
    for (const name of ['20-sub-stream-backtrack.txt', '23-sub-longpoll-backtrack.txt']) {
      expect(decode(recording(name).body).filter((f) => f.kind === 'invalid')).toEqual([]);
    }
    for (const name of ['21-sub-eventsource.txt', '22-sub-eventsource-last-event-id.txt']) {
      const frames = parseEventStream(recording(name).body).filter((e) => !e.comment).flatMap((e) => decode(e.data));
      expect(frames.filter((f) => f.kind === 'invalid')).toEqual([]);
    }
  });
});

// Frames of the Push Stream Module 0.6.0, recorded from nginx/push-stream.conf.template (JSON ping
// and deleted texts) and, for configs without those two directives, the module's defaults.
const CURRENT = {
  ping: '{"id":-1,"channel":"","text":"","eventid":"","type":"","time":"Thu, 01 Jan 1970 00:00:00 GMT","tag":0}',
  message: '{"id":1,"channel":"cap1","text":{"a":1},"eventid":"e1","type":"chat","time":"Thu, 26 Nov 2026 03:40:59 GMT","tag":1}',
  deleted: '{"id":-2,"channel":"cap1","text":"Channel deleted","eventid":"","type":"","time":"Thu, 01 Jan 1970 00:00:00 GMT","tag":0}',
};
const OLD = {
  ping: '{"id":-1,"channel":"","text":,"eventid":"","type":"","time":"Thu, 01 Jan 1970 00:00:00 GMT","tag":0}',
  deleted: '{"id":-2,"channel":"cap1","text":Channel deleted,"eventid":"","type":"","time":"Thu, 01 Jan 1970 00:00:00 GMT","tag":0}',
};
const MESSAGE = {
  kind: 'message', channel: 'cap1', data: { a: 1 }, eventId: 'e1', eventType: 'chat', id: '1', time: 'Thu, 26 Nov 2026 03:40:59 GMT', tag: 1,
};

describe('push-stream pings and channel-deleted notices, JSON (shipped config) and not (older configs)', () => {
  it('the shipped config sends both as valid JSON', () => {
    expect(() => JSON.parse(CURRENT.ping)).not.toThrow();
    expect(() => JSON.parse(CURRENT.deleted)).not.toThrow();
    expect(() => JSON.parse(OLD.ping)).toThrow();
    expect(() => JSON.parse(OLD.deleted)).toThrow();
  });

  it.each([
    ['shipped config', CURRENT.ping, CURRENT.deleted],
    ['older config', OLD.ping, OLD.deleted],
  ])('%s: a ping, a message and a notice decode alike over WebSocket / EventSource data', (_name, ping, deleted) => {
    expect([ping, CURRENT.message, deleted].map(decodePushStreamMessage)).toEqual([
      { kind: 'ping' },
      MESSAGE,
      { kind: 'channel-deleted', channel: 'cap1' },
    ]);
  });

  it.each([
    ['shipped config', CURRENT.ping, CURRENT.deleted],
    ['older config', OLD.ping, OLD.deleted],
  ])('%s: stream mode (header ping line, message, notice) cut at every byte decodes the same', (_name, ping, deleted) => {
    const body = `${ping}\n${CURRENT.message}\n${deleted}\n`;
    const expected = [{ kind: 'ping' }, MESSAGE, { kind: 'channel-deleted', channel: 'cap1' }];
    for (let cut = 0; cut <= body.length; cut++) {
      const a = splitJsonObjects(body.slice(0, cut));
      const b = splitJsonObjects(a.rest + body.slice(cut));
      expect(b.rest.trim()).toBe('');
      expect([...a.objects, ...b.objects].map(decodePushStreamMessage)).toEqual(expected);
    }
  });

  it('the EventSource ping is an SSE comment (": -1"), never a message', () => {
    const ev = parseEventStream(`: \n\n: -1\n\nid: e1\nevent: chat\ndata: ${CURRENT.message}\n\ndata: ${CURRENT.deleted}\n\n`);
    expect(ev.filter((e) => e.comment)).toHaveLength(2);
    expect(ev.filter((e) => !e.comment).flatMap((e) => decode(e.data))).toEqual([MESSAGE, { kind: 'channel-deleted', channel: 'cap1' }]);
  });

  it('a revocation notice (DELETE with a JSON body: its text replaces "Channel deleted") is a channel-deleted frame', () => {
    const revoked = '{"id":-2,"channel":"cap1","text":"Subscription revoked","eventid":"","type":"","time":"Thu, 01 Jan 1970 00:00:00 GMT","tag":0}';
    expect(decode(revoked)).toEqual([{ kind: 'channel-deleted', channel: 'cap1' }]);
  });
});

describe('decodePushStreamMessage edge cases', () => {
  it('pings (id -1), valid or not', () => {
    expect(decodePushStreamMessage('{"id":-1,"channel":"","text":"","eventid":"","type":"","time":"x","tag":0}')).toEqual({ kind: 'ping' });
    expect(decodePushStreamMessage('{"id":-1,"channel":"","text":,"tag":0}')).toEqual({ kind: 'ping' });
  });
  it('invalid JSON that is not a notice is reported, not thrown', () => {
    expect(decodePushStreamMessage('{"id":5,"channel":"c","text":oops}')).toMatchObject({ kind: 'invalid' });
    expect(decodePushStreamMessage('[1]')).toMatchObject({ kind: 'invalid' });
    expect(decodePushStreamMessage('{"foo":1}')).toMatchObject({ kind: 'invalid' });
  });
  it('a body with an incomplete tail reports the tail as invalid', () => {
    expect(decode(`${CURRENT.message}{"id":2,"chan`).map((f) => f.kind)).toEqual(['message', 'invalid']);
  });
});

describe('PushStreamBrowserDialect', () => {
  it('joins channels with "/" and asks history (.bN) only where given, whole numbers, above 0', () => {
    const history: Record<string, number> = { a: 5, b: 2.7, c: 0, d: -1 };
    expect(dialect.subscriberPath(['a', 'b', 'c', 'd', 'e'], (c) => history[c])).toBe('a.b5/b.b2/c/d/e');
  });

  it('resumes with ?tag=&time= of the newest message of any channel, and keeps it across reconnects', () => {
    const positions = dialect.createResumePositions();
    expect(positions.resumeQuery()).toEqual({});
    const m1 = { channel: 'a', id: '1', time: 'Tue, 24 Nov 2026 19:24:06 GMT', tag: 2 };
    const m2 = { channel: 'b', id: '1', time: 'Tue, 24 Nov 2026 19:24:05 GMT', tag: 9 };
    expect(positions.advance(m1, positions.positionOf(m1)!, false)).toBe(true);
    expect(positions.advance(m2, positions.positionOf(m2)!, false)).toBe(true);
    expect(positions.resumeQuery()).toEqual({ tag: '2', time: 'Tue, 24 Nov 2026 19:24:06 GMT' });
    positions.forgetPosition();
    positions.channelsChanged();
    expect(positions.resumeQuery()).toEqual({ tag: '2', time: 'Tue, 24 Nov 2026 19:24:06 GMT' });
  });

  it('numbers messages by ~id~ (sequenceOf); resumeQuery(notAfter) resumes no later than right after that message', () => {
    const positions = dialect.createResumePositions();
    const m = (id: string, tag: number) => ({ channel: 'a', id, time: 'Tue, 24 Nov 2026 19:24:06 GMT', tag });
    expect([m('7', 1), m('0', 1), m('-1', 1), m('', 1), m('x', 1)].map((x) => positions.sequenceOf(x))).toEqual([7, null, null, null, null]);
    for (const x of [m('1', 1), m('3', 3)]) positions.advance(x, positions.positionOf(x)!, false);
    expect(positions.resumeQuery(m('1', 1))).toEqual({ tag: '1', time: 'Tue, 24 Nov 2026 19:24:06 GMT' });
    expect(positions.resumeQuery(m('9', 9))).toEqual({ tag: '3', time: 'Tue, 24 Nov 2026 19:24:06 GMT' }); // not after the newest
    expect(positions.resumeQuery()).toEqual({ tag: '3', time: 'Tue, 24 Nov 2026 19:24:06 GMT' });
  });

  it('drops an older message of a channel unless the connection was resumed (a restarted store)', () => {
    const positions = dialect.createResumePositions();
    const newer = { channel: 'a', id: '2', time: 'Tue, 24 Nov 2026 19:24:06 GMT', tag: 2 };
    const older = { channel: 'a', id: '1', time: 'Tue, 24 Nov 2026 19:24:06 GMT', tag: 1 };
    expect(positions.advance(newer, positions.positionOf(newer)!, false)).toBe(true);
    expect(positions.advance(older, positions.positionOf(older)!, false)).toBe(false);
    expect(positions.advance(older, positions.positionOf(older)!, true)).toBe(true);
    expect(positions.positionOf({ channel: 'a', id: '3' })).toBeNull();
    expect(positions.positionOf({ channel: 'a', id: '3', time: 'not a date', tag: 1 })).toBeNull();
  });

  it('304 (reload, poll timeout) is "no message"; any other status but 200 ends the poll', () => {
    expect([200, 304, 403, 410, 500].map((s) => dialect.longPollAnswer(s))).toEqual(['messages', 'no-message', 'ended', 'ended', 'ended']);
  });

  it('keeps the connection after a deleted channel (the module drops it from the subscription)', () => {
    expect(dialect.resubscribeAfterChannelDeleted).toBe(false);
  });

  it(`refuses an id longer than push_stream_max_channel_id_length (${PUSH_STREAM_MAX_CHANNEL_ID_LENGTH}); the whole path may be longer`, () => {
    const max = 'x'.repeat(PUSH_STREAM_MAX_CHANNEL_ID_LENGTH);
    expect(() => dialect.assertSubscribable(Array.from({ length: 20 }, (_, i) => `${i}`.padEnd(max.length, 'x')))).not.toThrow();
    expect(() => dialect.assertSubscribable(['a', `${max}y`])).toThrow(RangeError);
    expect(() => dialect.assertSubscribable([`${max}y`])).toThrow(/push_stream_max_channel_id_length/);
  });
});

describe('PushStreamBrowserDialect gap detection: ~id~ numbers each channel 1, 2, 3..., kept across reloads', () => {
  const at = (channel: string, id: number, second = 6, tag = id) => ({ channel, id: String(id), time: `Tue, 24 Nov 2026 19:24:${String(second).padStart(2, '0')} GMT`, tag });
  /** Feeds messages as ResumeTracker does (gapBefore, then advance) and returns each verdict. */
  function verdicts(messages: ReturnType<typeof at>[], resumed = true) {
    const positions = dialect.createResumePositions();
    return messages.map((m) => {
      const position = positions.positionOf(m)!;
      const gap = positions.gapBefore(m, position);
      positions.advance(m, position, resumed);
      return gap;
    });
  }

  it('the next number of a channel is continuous, live or after a resume; each channel counts on its own', () => {
    expect(verdicts([at('a', 1), at('b', 7), at('a', 2), at('b', 8), at('a', 3)])).toEqual([null, null, null, null, null]);
  });

  it('a number further on: the store no longer had the ones between (overrun), exactly that many', () => {
    // 3 seen, then 25 published while away: the module keeps 20 (9..28) and sends them after ?tag=&time=.
    expect(verdicts([at('a', 3), at('a', 9, 8), at('a', 10, 8)])).toEqual([null, { reason: 'overrun', missed: 5, proven: true }, null]);
  });

  it('a number not further on (a restarted store numbers from 1 again): store-reset, loss possible but not shown', () => {
    expect(verdicts([at('a', 3), at('a', 1, 9), at('a', 2, 9)])).toEqual([null, { reason: 'store-reset', missed: null, proven: false }, null]);
  });

  it('a new store seen from its number 4 on: its 1..3 never came (skipped by the resume, or no longer stored)', () => {
    expect(verdicts([at('a', 30), at('a', 4, 9)])).toEqual([null, { reason: 'store-reset', missed: 3, proven: true }]);
  });

  it('nothing to compare with: the first message of a channel, a message without a number', () => {
    const positions = dialect.createResumePositions();
    const first = at('a', 12);
    expect(positions.gapBefore(first, positions.positionOf(first)!)).toBeNull();
    positions.advance(first, positions.positionOf(first)!, false);
    const unnumbered = { ...at('a', 20), id: '' };
    expect(positions.gapBefore(unnumbered, positions.positionOf(unnumbered)!)).toBeNull();
  });

  it('the numbering survives reconnects and channel changes; a message dropped as older does not move it', () => {
    const positions = dialect.createResumePositions();
    const feed = (m: ReturnType<typeof at>, resumed: boolean) => {
      const position = positions.positionOf(m)!;
      const gap = positions.gapBefore(m, position);
      return { gap, accepted: positions.advance(m, position, resumed) };
    };
    expect(feed(at('a', 5), false)).toEqual({ gap: null, accepted: true });
    // .bN history overlapping what was delivered, on a connection without a resume position: dropped.
    expect(feed(at('a', 4, 6, 4), false).accepted).toBe(false);
    positions.forgetPosition();
    positions.channelsChanged();
    positions.repeated(at('a', 5), positions.positionOf(at('a', 5))!);
    expect(feed(at('a', 6), true)).toEqual({ gap: null, accepted: true });
  });
});
