import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  decodeNchanMessage,
  decodePushStreamMessage,
  nchanIdFromLongPoll,
  parseEventStream,
  parseNchanMessageId,
  parseNchanMetaFrame,
  splitJsonObjects,
  type DecodedFrame,
} from '../../../lib/browser/decode-message.js';

const WIRE = join(process.cwd(), 'test/fixtures/push-stream-wire');
const recording = (name: string): { head: string; body: string } => {
  const text = readFileSync(join(WIRE, name), 'utf8');
  const cut = text.indexOf('\r\n\r\n');
  return { head: text.slice(0, cut), body: text.slice(cut + 4) };
};
const messages = (frames: DecodedFrame[]) => frames.filter((f) => f.kind === 'message');

describe('push-stream recorded subscriber traffic', () => {
  it('20 stream mode: concatenated objects incl. the invalid-JSON channel-deleted notice', () => {
    const { body } = recording('20-sub-stream-backtrack.txt');
    const { objects, rest } = splitJsonObjects(body);
    expect(rest).toBe('');
    expect(objects).toHaveLength(4);
    const frames = objects.map(decodePushStreamMessage);
    expect(frames[0]).toEqual({
      kind: 'message', channel: 'room2', data: { x: 1 }, eventId: '', eventType: '', id: '1',
      time: 'Tue, 24 Nov 2026 19:23:55 GMT', tag: 6,
    });
    expect(frames[1]).toMatchObject({ kind: 'message', data: { message: 'live' }, eventId: 'e-1', eventType: 'chat', id: '2', tag: 2 });
    expect(frames[2]).toEqual({ kind: 'channel-deleted', channel: 'room3' });
    expect(frames[3]).toMatchObject({ kind: 'message', data: { message: 'live2' }, eventId: 'e-2', id: '3', tag: 1 });
  });

  it('20 stream mode cut at every byte boundary decodes the same', () => {
    const { body } = recording('20-sub-stream-backtrack.txt');
    const whole = splitJsonObjects(body).objects;
    for (let cut = 0; cut <= body.length; cut += 7) {
      const a = splitJsonObjects(body.slice(0, cut));
      const b = splitJsonObjects(a.rest + body.slice(cut));
      expect([...a.objects, ...b.objects]).toEqual(whole);
    }
  });

  it('21/22 EventSource: shorter template, ids/types on the SSE lines; Last-Event-ID resumes after e-2', () => {
    const ev = parseEventStream(recording('21-sub-eventsource.txt').body).filter((e) => !e.comment);
    expect(ev.map((e) => [e.id, e.event])).toEqual([['', ''], ['e-1', 'chat'], ['e-2', 'chat']]);
    const frames = ev.map((e) => decodePushStreamMessage(e.data));
    expect(messages(frames).map((m) => m.data)).toEqual([{ x: 1 }, { message: 'live' }, { message: 'live2' }]);
    expect(frames[2]).toMatchObject({ channel: 'room2', id: '3', eventId: '', eventType: '' });
    expect(frames[2]).not.toHaveProperty('time');
    const resumed = parseEventStream(recording('22-sub-eventsource-last-event-id.txt').body).filter((e) => !e.comment);
    expect(resumed.map((e) => decodePushStreamMessage(e.data))).toEqual([
      { kind: 'message', channel: 'room2', data: { message: 'live2' }, eventId: '', eventType: '', id: '3' },
    ]);
  });

  it('23 long polling: one message, Etag W/<tag> and Last-Modified', () => {
    const { head, body } = recording('23-sub-longpoll-backtrack.txt');
    expect(head).toMatch(/Etag: W\/1/);
    expect(splitJsonObjects(body).objects.map(decodePushStreamMessage)).toEqual([
      { kind: 'message', channel: 'room2', data: { message: 'live2' }, eventId: '', eventType: '', id: '3', tag: 1, time: 'Tue, 24 Nov 2026 19:24:07 GMT' },
    ]);
  });

  it('25 WebSocket frames: UTF-8 text, channel-deleted notice, no crash', () => {
    const text = readFileSync(join(WIRE, '25-sub-websocket.txt'), 'utf8');
    const frames = text
      .split('\n')
      .filter((l) => l.startsWith('FRAME text '))
      .map((l) => decodePushStreamMessage(l.slice('FRAME text '.length)));
    expect(frames.map((f) => f.kind)).toEqual(['message', 'message', 'message', 'channel-deleted']);
    expect(frames[2]).toMatchObject({ channel: 'room4', data: { message: 'żółć ünïcode' }, eventId: 'e-9', eventType: 'notice' });
    expect(frames[3]).toEqual({ kind: 'channel-deleted', channel: 'room4' });
  });

  it('every recorded subscriber body decodes without an invalid frame', () => {
    for (const name of ['20-sub-stream-backtrack.txt', '23-sub-longpoll-backtrack.txt']) {
      const frames = splitJsonObjects(recording(name).body).objects.map(decodePushStreamMessage);
      expect(frames.filter((f) => f.kind === 'invalid')).toEqual([]);
    }
    for (const name of ['21-sub-eventsource.txt', '22-sub-eventsource-last-event-id.txt']) {
      const frames = parseEventStream(recording(name).body).filter((e) => !e.comment).map((e) => decodePushStreamMessage(e.data));
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
    expect(ev.filter((e) => !e.comment).map((e) => decodePushStreamMessage(e.data))).toEqual([MESSAGE, { kind: 'channel-deleted', channel: 'cap1' }]);
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
  it('strings with braces and escaped quotes split correctly', () => {
    const a = JSON.stringify({ id: 1, channel: 'c', text: { s: '}{"\\' }, tag: 0 });
    const { objects } = splitJsonObjects(`${a}\n${a}{"id"`);
    expect(objects).toEqual([a, a]);
    expect(splitJsonObjects(`${a}{"id"`).rest).toBe('{"id"');
  });
});

describe('Nchan', () => {
  it('ws+meta.nchan frames (as recorded from Nchan 1.3.6)', () => {
    const frame = 'id: 1795617914:1,[0]\ncontent-type: application/json\n\n{"channel":"b","text":{"n":3},"eventid":"","type":""}';
    expect(parseNchanMetaFrame(frame)).toEqual({
      id: '1795617914:1,[0]', contentType: 'application/json', eventType: '',
      data: '{"channel":"b","text":{"n":3},"eventid":"","type":""}',
    });
    expect(parseNchanMetaFrame('{"channel":"b"}')).toBeNull();
  });
  it('envelopes decode like the push-stream template; raw bodies pass through', () => {
    expect(decodeNchanMessage('{"channel":"a","text":{"n":2},"eventid":"e2","type":"chat"}', '1:0', 'x')).toEqual({
      kind: 'message', channel: 'a', data: { n: 2 }, eventId: 'e2', eventType: 'chat', id: '1:0',
    });
    expect(decodeNchanMessage('[1,2]', '1:0', 'x')).toMatchObject({ channel: 'x', data: [1, 2] });
    expect(decodeNchanMessage('hello', '1:0', 'x', 'note')).toMatchObject({ channel: 'x', data: 'hello', eventType: 'note' });
    expect(decodeNchanMessage('{"id":-2,"channel":"a","text":"Channel deleted"}', '1:0', 'x')).toEqual({ kind: 'channel-deleted', channel: 'a' });
  });
  it('message ids: single, multi with active bracket and "-"', () => {
    expect(parseNchanMessageId('1795618594:0')).toEqual({ time: 1795618594, tags: [0], active: 0 });
    expect(parseNchanMessageId('1795618596:-,[0]')).toEqual({ time: 1795618596, tags: [-1, 0], active: 1 });
    expect(parseNchanMessageId('1795617914:[1],0')).toEqual({ time: 1795617914, tags: [1, 0], active: 0 });
    expect(parseNchanMessageId('e-1')).toBeNull();
  });
  it('long-poll id from Last-Modified + Etag', () => {
    expect(nchanIdFromLongPoll('Wed, 25 Nov 2026 14:56:36 GMT', '-,[0]')).toBe(`${Date.parse('Wed, 25 Nov 2026 14:56:36 GMT') / 1000}:-,[0]`);
    expect(nchanIdFromLongPoll(null, '0')).toBe('');
  });
  it('SSE parsing keeps comments apart (Nchan sends ":410: 410 Gone" as a comment)', () => {
    const ev = parseEventStream(': hi\n\nevent: chat\nid: 1:[1],0\ndata: {"a":1}\n\n:410: 410 Gone\n\n');
    expect(ev).toEqual([
      { id: '', event: '', data: '', comment: true },
      { id: '1:[1],0', event: 'chat', data: '{"a":1}', comment: false },
      { id: '', event: '', data: '', comment: true },
    ]);
  });
});
