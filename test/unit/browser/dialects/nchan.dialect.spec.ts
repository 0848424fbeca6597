import type { BrowserServerDialect } from '../../../../lib/browser/dialects/browser-server-dialect.js';
import {
  decodeNchanMessage,
  NCHAN_MAX_CHANNEL_ID_LENGTH,
  NCHAN_WS_META_PROTOCOL,
  NchanBrowserDialect,
  nchanIdFromLongPoll,
  parseNchanMessageId,
  parseNchanMetaFrame,
} from '../../../../lib/browser/dialects/nchan.dialect.js';
import { CHANNEL_DELETED_MESSAGE_ID, CHANNEL_DELETED_TEXT } from '../../../../lib/shared/push-stream-protocol.js';
import { parseEventStream } from '../support/parse-event-stream.js';

const dialect: BrowserServerDialect = new NchanBrowserDialect();
const NO_META = { id: '', eventType: '' };

// Frames as recorded from Nchan 1.3.6 with nginx/nchan.conf.template and the library's envelope.
const META_FRAME = 'id: 1795617914:1,[0]\ncontent-type: application/json\n\n{"channel":"b","text":{"n":3},"eventid":"","type":""}';
/** One publishMany to a and b: the envelope names both; the id's bracket says which subscribed channel it came on. */
const PUBLISH_MANY = '{"channel":"a/b","text":{"n":4},"eventid":"e4","type":"chat"}';
/** PushStreamService.deleteChannel() on Nchan publishes this in-band notice before the DELETE. */
const NOTICE = JSON.stringify({ id: CHANNEL_DELETED_MESSAGE_ID, channel: 'a', text: CHANNEL_DELETED_TEXT, eventid: '', type: '' });

describe('Nchan wire format', () => {
  it('ws+meta.nchan frames', () => {
    expect(parseNchanMetaFrame(META_FRAME)).toEqual({
      id: '1795617914:1,[0]', contentType: 'application/json', eventType: '',
      data: '{"channel":"b","text":{"n":3},"eventid":"","type":""}',
    });
    expect(parseNchanMetaFrame('id: 1:0\nevent: chat\n\nx')).toMatchObject({ id: '1:0', eventType: 'chat', data: 'x' });
    expect(parseNchanMetaFrame('{"channel":"b"}')).toBeNull();
    expect(parseNchanMetaFrame('content-type: text/plain\n\nx')).toBeNull();
  });
  it('envelopes decode like the push-stream template; raw bodies pass through', () => {
    expect(decodeNchanMessage('{"channel":"a","text":{"n":2},"eventid":"e2","type":"chat"}', '1:0', 'x')).toEqual({
      kind: 'message', channel: 'a', data: { n: 2 }, eventId: 'e2', eventType: 'chat', id: '1:0',
    });
    expect(decodeNchanMessage('[1,2]', '1:0', 'x')).toMatchObject({ channel: 'x', data: [1, 2] });
    expect(decodeNchanMessage('hello', '1:0', 'x', 'note')).toMatchObject({ channel: 'x', data: 'hello', eventType: 'note' });
    expect(decodeNchanMessage(NOTICE, '1:0', 'x')).toEqual({ kind: 'channel-deleted', channel: 'a' });
  });
  it('message ids: single, multi with active bracket and "-"', () => {
    expect(parseNchanMessageId('1795618594:0')).toEqual({ time: 1795618594, tags: [0], active: 0 });
    expect(parseNchanMessageId('1795618596:-,[0]')).toEqual({ time: 1795618596, tags: [-1, 0], active: 1 });
    expect(parseNchanMessageId('1795617914:[1],0')).toEqual({ time: 1795617914, tags: [1, 0], active: 0 });
    expect(parseNchanMessageId('e-1')).toBeNull();
  });
  it('long-poll id from Last-Modified + Etag', () => {
    expect(nchanIdFromLongPoll('Wed, 25 Nov 2026 14:56:36 GMT', '-,[0]')).toBe(`${Date.parse('Wed, 25 Nov 2026 14:56:36 GMT') / 1000}:-,[0]`);
    expect(nchanIdFromLongPoll('Wed, 25 Nov 2026 14:56:36 GMT', 'W/"0"')).toBe(`${Date.parse('Wed, 25 Nov 2026 14:56:36 GMT') / 1000}:0`);
    expect(nchanIdFromLongPoll(null, '0')).toBe('');
    expect(nchanIdFromLongPoll('not a date', '0')).toBe('');
  });
  it('SSE: Nchan sends ":410: 410 Gone" as a comment, never as data', () => {
    const ev = parseEventStream(': hi\n\nevent: chat\nid: 1:[1],0\ndata: {"a":1}\n\n:410: 410 Gone\n\n');
    expect(ev).toEqual([
      { id: '', event: '', data: '', comment: true },
      { id: '1:[1],0', event: 'chat', data: '{"a":1}', comment: false },
      { id: '', event: '', data: '', comment: true },
    ]);
  });
});

describe('NchanBrowserDialect decoding', () => {
  it('a publishMany envelope arrives under the subscribed channel the id points at', () => {
    expect(dialect.decode(PUBLISH_MANY, { id: '1795617914:0,[2]', eventType: 'chat' }, ['a', 'b'])).toEqual([
      { kind: 'message', channel: 'b', data: { n: 4 }, eventId: 'e4', eventType: 'chat', id: '1795617914:0,[2]' },
    ]);
    // Without an id (a bare WebSocket), the first channel.
    expect(dialect.decode(PUBLISH_MANY, NO_META, ['b', 'a'])).toMatchObject([{ channel: 'b' }]);
  });

  it('a body that is no envelope is delivered as is, with the SSE / ws+meta event type', () => {
    expect(dialect.decode('plain text', { id: '1:-,[0]', eventType: 'note' }, ['a', 'b'])).toEqual([
      { kind: 'message', channel: 'b', data: 'plain text', eventId: '', eventType: 'note', id: '1:-,[0]' },
    ]);
  });

  it('the in-band notice is a channel-deleted frame; the subscription must be opened again without it', () => {
    expect(dialect.decode(NOTICE, { id: '1:[3],0', eventType: '' }, ['a', 'b'])).toEqual([{ kind: 'channel-deleted', channel: 'a' }]);
    expect(dialect.resubscribeAfterChannelDeleted).toBe(true);
  });

  it('WebSocket: asks ws+meta.nchan and reads the id from each frame; bare frames when the server declined it', () => {
    expect(dialect.webSocketProtocol).toBe(NCHAN_WS_META_PROTOCOL);
    expect(dialect.decodeWebSocketFrame(META_FRAME, NCHAN_WS_META_PROTOCOL, ['a', 'b'])).toEqual([
      { kind: 'message', channel: 'b', data: { n: 3 }, eventId: '', eventType: '', id: '1795617914:1,[0]' },
    ]);
    expect(dialect.decodeWebSocketFrame('no header', NCHAN_WS_META_PROTOCOL, ['a'])).toEqual([
      { kind: 'invalid', raw: 'no header', reason: 'not a ws+meta.nchan frame' },
    ]);
    expect(dialect.decodeWebSocketFrame('{"channel":"a","text":1}', '', ['a'])).toEqual([
      { kind: 'message', channel: 'a', data: 1, eventId: '', eventType: '', id: '' },
    ]);
  });

  it('long polling: the id comes from Last-Modified + Etag; 408 (nchan_subscriber_timeout) is "no message"; 410 (deletion or reload alike) ends the poll', () => {
    const headers = new Headers({ 'last-modified': 'Wed, 25 Nov 2026 14:56:36 GMT', etag: '0,[1]' });
    const id = `${Date.parse('Wed, 25 Nov 2026 14:56:36 GMT') / 1000}:0,[1]`;
    expect(dialect.longPollMeta(headers)).toEqual({ id, eventType: '' });
    expect(dialect.longPollMeta(new Headers())).toEqual(NO_META);
    expect([200, 304, 403, 408, 410, 500].map((s) => dialect.longPollAnswer(s))).toEqual(['messages', 'no-message', 'ended', 'no-message', 'ended', 'ended']);
  });
});

describe('NchanBrowserDialect URLs and resume', () => {
  it('joins channels with "/" and never asks history (Nchan replays its buffer on every join)', () => {
    expect(dialect.subscriberPath(['a', 'b'], () => 10)).toBe('a/b');
  });

  it('tracks the active tag; last_event_id only within a live chain, forgotten on reconnect and channel changes', () => {
    const positions = dialect.createResumePositions();
    const m = { channel: 'b', id: '1795617914:0,[3]' };
    expect(positions.positionOf(m)).toEqual({ time: 1795617914, tag: 3 });
    expect(positions.positionOf({ channel: 'b', id: '' })).toBeNull();
    expect(positions.advance(m, { time: 1795617914, tag: 3 }, false)).toBe(true);
    expect(positions.resumeQuery()).toEqual({ last_event_id: '1795617914:0,[3]' });
    // Never dropped by order: a restarted store numbers from tag 0 in the same second.
    const restarted = { channel: 'b', id: '1795617914:-,[0]' };
    expect(positions.advance(restarted, positions.positionOf(restarted)!, false)).toBe(true);
    positions.forgetPosition();
    expect(positions.resumeQuery()).toEqual({});
    positions.advance(m, { time: 1795617914, tag: 3 }, false);
    positions.channelsChanged();
    expect(positions.resumeQuery()).toEqual({});
  });

  it(`refuses a joined id longer than nchan_max_channel_id_length (${NCHAN_MAX_CHANNEL_ID_LENGTH}): 16 names of 128 fit exactly`, () => {
    const names = (n: number, length: number) => Array.from({ length: n }, (_, i) => `${i}`.padEnd(length, 'x'));
    expect(names(16, 128).join('/')).toHaveLength(NCHAN_MAX_CHANNEL_ID_LENGTH);
    expect(() => dialect.assertSubscribable(names(16, 128))).not.toThrow();
    expect(() => dialect.assertSubscribable([...names(16, 128), 'y'])).toThrow(RangeError);
    expect(() => dialect.assertSubscribable(names(17, 128))).toThrow(/2063 \(nchan_max_channel_id_length/);
    // Nchan checks the whole id only: one long name alone is not its concern.
    expect(() => dialect.assertSubscribable(['x'.repeat(1000)])).not.toThrow();
  });
});

describe('NchanBrowserDialect gap detection: ids (second, n) with n = 0, 1, 2... per channel within a second', () => {
  const T = 1795668410;
  type Step = ['new' | 'repeat' | 'reconnect', string?, string?];
  /** Feeds steps as ResumeTracker and the client do (repeats, reconnects, new messages) and returns the verdicts of new messages. */
  function verdicts(steps: Step[]) {
    const positions = dialect.createResumePositions();
    const out: unknown[] = [];
    for (const [kind, id, channel = 'a'] of steps) {
      if (kind === 'reconnect') {
        positions.forgetPosition();
        continue;
      }
      const m = { channel, id: id! };
      const position = positions.positionOf(m)!;
      if (kind === 'repeat') {
        positions.repeated(m, position);
        continue;
      }
      out.push(positions.gapBefore(m, position));
      positions.advance(m, position, false);
    }
    return out;
  }
  const overrun = (missed: number) => ({ reason: 'overrun', missed, proven: true });

  it('on one subscription: (same second, n + 1) and (a later second, 0) follow; anything else skipped messages', () => {
    expect(verdicts([['new', `${T}:0`], ['new', `${T}:1`], ['new', `${T + 1}:0`], ['new', `${T + 5}:0`]])).toEqual([null, null, null, null]);
    expect(verdicts([['new', `${T}:1`], ['new', `${T}:4`]])).toEqual([null, overrun(2)]);
    // (s, 2) had (s, 0) and (s, 1) before it, never received: at least 2 missing.
    expect(verdicts([['new', `${T}:1`], ['new', `${T + 1}:2`]])).toEqual([null, overrun(2)]);
    // Numbered lower on one subscription: a long poll chained into a new store (a reload between two
    // polls); (s, 0) may be its first message, (s, 2) proves its (s, 0) and (s, 1) were skipped.
    expect(verdicts([['new', `${T}:5`], ['new', `${T}:0`]])).toEqual([null, { reason: 'store-reset', missed: null, proven: false }]);
    expect(verdicts([['new', `${T}:5`], ['new', `${T}:2`]])).toEqual([null, { reason: 'store-reset', missed: 2, proven: true }]);
  });

  it('multi-channel ids: the bracketed tag is the channel\'s own number', () => {
    expect(verdicts([['new', `${T}:[0],-`, 'a'], ['new', `${T}:0,[0]`, 'b'], ['new', `${T}:[1],0`, 'a'], ['new', `${T}:1,[2]`, 'b']])).toEqual([
      null, null, null, overrun(1),
    ]);
  });

  it('after a reconnect the buffer is replayed: a repeat first means it still holds what was delivered', () => {
    expect(verdicts([['new', `${T}:0`], ['new', `${T}:1`], ['reconnect'], ['repeat', `${T}:0`], ['repeat', `${T}:1`], ['new', `${T + 1}:0`]])).toEqual([
      null, null, null,
    ]);
  });

  it('after a reconnect a new message first: the buffer no longer holds the last one delivered', () => {
    // Its oldest is the very next one (exactly a buffer's worth published): nothing missing.
    expect(verdicts([['new', `${T}:1`], ['reconnect'], ['new', `${T}:2`]])).toEqual([null, null]);
    // Numbered past what follows: messages missing, at least the numbers skipped.
    expect(verdicts([['new', `${T}:1`], ['reconnect'], ['new', `${T}:5`]])).toEqual([null, overrun(3)]);
    expect(verdicts([['new', `${T}:1`], ['reconnect'], ['new', `${T + 1}:5`]])).toEqual([null, overrun(5)]);
    // Numbered lower: a new store (a reload or restart within the same second); past its (s, 0), its
    // first messages never came.
    expect(verdicts([['new', `${T}:3`], ['reconnect'], ['new', `${T}:0`], ['new', `${T}:1`]])).toEqual([
      null, { reason: 'store-reset', missed: null, proven: false }, null,
    ]);
    expect(verdicts([['new', `${T}:3`], ['reconnect'], ['new', `${T}:1`]])).toEqual([null, { reason: 'store-reset', missed: 1, proven: true }]);
    expect(verdicts([['new', `${T}:3`], ['reconnect'], ['new', `${T - 1}:4`]])).toEqual([null, { reason: 'store-reset', missed: 4, proven: true }]);
    // Opening a later second: right after it, or not: Nchan does not say.
    expect(verdicts([['new', `${T}:3`], ['reconnect'], ['new', `${T + 2}:0`], ['new', `${T + 2}:1`]])).toEqual([
      null, { reason: 'unknown', missed: null, proven: false }, null,
    ]);
  });

  it('a channel change replays the buffers too; no earlier message, nothing to compare with', () => {
    const positions = dialect.createResumePositions();
    const m = (id: string) => ({ channel: 'a', id });
    expect(positions.gapBefore(m(`${T}:4`), { time: T, tag: 4 })).toBeNull();
    positions.advance(m(`${T}:0`), { time: T, tag: 0 }, false);
    positions.channelsChanged();
    expect(positions.gapBefore(m(`${T + 1}:0`), { time: T + 1, tag: 0 })).toEqual({ reason: 'unknown', missed: null, proven: false });
  });
});
