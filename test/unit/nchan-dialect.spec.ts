/**
 * The Nchan dialect: request building and parsing of Nchan 1.3 answers (publisher JSON with
 * `Accept: application/json`, nchan_stub_status text).
 */
import { NCHAN_MAX_CHANNEL_ID_LENGTH, NchanDialect, type NchanEnvelope } from '../../lib/dialects/index.js';
import { ChannelSetTooLargeError, PushStreamProtocolError } from '../../lib/errors/index.js';
import type { PushStreamHttpResponse } from '../../lib/http/index.js';

const PUB = 'http://127.0.0.1:9080/pub';
const dialect = new NchanDialect();

/** Nchan's publisher answer with Accept: application/json (note the space before the brace). */
const publishBody = '{"messages": 1, "requested": -1, "subscribers": 0, "last_message_id": "1795617380:0" }';
const answer = (status: number, body: string, contentType = 'text/json'): PushStreamHttpResponse => ({
  status,
  headers: body ? { 'content-type': contentType } : {},
  body,
});

const STUB_STATUS = [
  'total published messages: 2',
  'stored messages: 2',
  'shared memory used: 24K',
  'shared memory limit: 131072K',
  'channels: 2',
  'subscribers: 0',
  'redis pending commands: 0',
  'redis connected servers: 0',
  'redis unhealthy upstreams: 0',
  'total redis commands sent: 0',
  'total interprocess alerts received: 0',
  'interprocess alerts in transit: 0',
  'interprocess queued alerts: 0',
  'total interprocess send delay: 0',
  'total interprocess receive delay: 0',
  'nchan version: 1.3.6',
  '',
].join('\n');

describe('NchanDialect request building', () => {
  it('publishes with POST <pub>?id=<channel>, JSON in and out', () => {
    const body = dialect.encodeMessage({ a: 1 }, ['room1'], {});
    expect(dialect.publishRequest(PUB, ['room1'], body, {})).toEqual({
      method: 'POST',
      url: `${PUB}?id=room1`,
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body,
    });
  });

  it('joins several channels with the configured delimiter', () => {
    expect(dialect.publishRequest(PUB, ['a', 'b', 'c'], '{}', {}).url).toBe(`${PUB}?id=a/b/c`);
    expect(new NchanDialect(',').publishRequest(PUB, ['a', 'b'], '{}', {}).url).toBe(`${PUB}?id=a,b`);
  });

  it('sends the event type as X-EventSource-Event; the event id travels only in the envelope', () => {
    const req = dialect.publishRequest(PUB, ['room1'], '{}', { eventId: 'e-1', eventType: 'chat' });
    expect(req.headers['x-eventsource-event']).toBe('chat');
    expect(Object.keys(req.headers)).not.toContain('event-id');
  });

  it('wraps the message in the envelope {channel, text, eventid, type}', () => {
    const body = dialect.encodeMessage({ message: 'live' }, ['room2'], { eventId: 'e-1', eventType: 'chat' });
    const envelope: NchanEnvelope = JSON.parse(body);
    expect(envelope).toEqual({ channel: 'room2', text: { message: 'live' }, eventid: 'e-1', type: 'chat' });
    expect(Object.keys(envelope)).toEqual(['channel', 'text', 'eventid', 'type']);
    expect(JSON.parse(dialect.encodeMessage('hi', ['a', 'b'], {}))).toEqual({ channel: 'a/b', text: 'hi', eventid: '', type: '' });
    expect(JSON.parse(new NchanDialect(',').encodeMessage(1, ['a', 'b'], {})).channel).toBe('a,b');
  });

  it('asks info with GET and deletes with DELETE, JSON accepted', () => {
    expect(dialect.infoRequest(PUB, 'room1')).toEqual({ method: 'GET', url: `${PUB}?id=room1`, headers: { accept: 'application/json' } });
    expect(dialect.deleteRequest(PUB, 'room1')).toEqual({ method: 'DELETE', url: `${PUB}?id=room1`, headers: { accept: 'application/json' } });
    expect(dialect.statsRequest('http://127.0.0.1:9080/nchan-stats')).toEqual({
      method: 'GET',
      url: 'http://127.0.0.1:9080/nchan-stats',
      headers: {},
    });
    expect(dialect.kind).toBe('nchan');
    expect(dialect.notFoundStatus).toBe(404);
  });

  it('revokes with a bare DELETE (no in-band notice): every connection naming the channel is closed', () => {
    expect(dialect.revokeRequest(PUB, 'room1')).toEqual(dialect.deleteRequest(PUB, 'room1'));
    expect(dialect.deleteClosesConnections).toBe(true);
  });
});

describe('NchanDialect response parsing', () => {
  const info = { channel: 'room1', subscribers: 0, storedMessages: 1, publishedMessages: null, lastMessageId: '1795617380:0' };

  it.each([202, 201])('parses a publish answered %i', (status) => {
    expect(dialect.parsePublish(['room1'], answer(status, publishBody))).toEqual({ channels: ['room1'], subscribers: 0, infos: [info] });
  });

  it('Nchan sums a multi-channel publish: no per-channel infos', () => {
    const body = '{"messages": 5, "requested": -1, "subscribers": 3, "last_message_id": "1795617381:0" }';
    expect(dialect.parsePublish(['a', 'b'], answer(202, body))).toEqual({ channels: ['a', 'b'], subscribers: 3, infos: [] });
  });

  it('parses channel info, null when missing', () => {
    const body = '{"messages": 2, "requested": 10, "subscribers": 4, "last_message_id": "1795617390:1" }';
    expect(dialect.parseInfo('room1', answer(200, body))).toEqual({
      channel: 'room1',
      subscribers: 4,
      storedMessages: 2,
      publishedMessages: null,
      lastMessageId: '1795617390:1',
    });
    expect(dialect.parseInfo('room1', answer(404, ''))).toBeNull();
  });

  it('delete: 200 true, 404 false', () => {
    expect(dialect.parseDelete('room1', answer(200, publishBody))).toBe(true);
    expect(dialect.parseDelete('room1', answer(404, ''))).toBe(false);
  });

  it('parses nchan_stub_status', () => {
    const stats = dialect.parseStats(answer(200, STUB_STATUS, 'text/plain'));
    expect(stats).toMatchObject({ server: 'nchan', channels: 2, subscribers: 0, publishedMessages: 2, storedMessages: 2 });
    expect(stats.raw).toMatchObject({ 'shared memory used': '24K', 'nchan version': '1.3.6', 'redis pending commands': 0 });
  });

  it('refuses a stats page that is not nchan_stub_status', () => {
    expect(() => dialect.parseStats(answer(200, '{"hostname": "vm"}'))).toThrow(PushStreamProtocolError);
    expect(() => dialect.parseStats(answer(200, '<html>nginx</html>'))).toThrow(/statsUrl/);
  });

  it('refuses publish answers that are not Nchan JSON (wrong server or location)', () => {
    // push-stream's answer has no "messages" field.
    const pushStream = '{"channel": "room1", "published_messages": 1, "stored_messages": 1, "subscribers": 0}';
    expect(() => dialect.parsePublish(['room1'], answer(200, pushStream))).toThrow(PushStreamProtocolError);
    // Nchan's text/plain summary, when Accept is lost on the way.
    const text = 'queued messages: 1\r\nlast requested: -1 sec. ago\r\nactive subscribers: 0\r\nlast message id: 1795617380:0';
    expect(() => dialect.parsePublish(['room1'], answer(202, text, 'text/plain'))).toThrow(/not JSON/);
  });

  it('parseSubscriberChannels splits on the delimiter and does not decode again', () => {
    expect(dialect.parseSubscriberChannels('a/b')).toEqual(['a', 'b']);
    expect(dialect.parseSubscriberChannels('a%2Fb')).toEqual(['a%2Fb']);
    expect(new NchanDialect(',').parseSubscriberChannels('a,b/c')).toEqual(['a', 'b/c']);
  });

  it('has a channel-deleted notice shaped like push-stream\'s (id -2), which push-stream does not need', () => {
    expect(JSON.parse(dialect.deleteNotice('room1'))).toEqual({ id: -2, channel: 'room1', text: 'Channel deleted', eventid: '', type: '' });
  });
});

describe('NchanDialect, what only Nchan has', () => {
  it('keeps its stats location and takes the configured delimiter', () => {
    expect(dialect.statsPath).toBe('/nchan-stats');
    expect(new NchanDialect(',').publishRequest(PUB, ['a', 'b'], '{}', {}).url).toBe(`${PUB}?id=a,b`);
  });

  it(`refuses a subscription whose joined id is over nchan_max_channel_id_length (${NCHAN_MAX_CHANNEL_ID_LENGTH}) before any request`, () => {
    const name = (i: number) => `c${String(i).padStart(3, '0')}`.padEnd(128, 'x');
    // 16 names of 128 characters and 15 delimiters: exactly the shipped limit.
    const sixteen = Array.from({ length: 16 }, (_, i) => name(i));
    expect(sixteen.join('/')).toHaveLength(NCHAN_MAX_CHANNEL_ID_LENGTH);
    expect(() => dialect.assertSubscribable(sixteen)).not.toThrow();
    const over = [...sixteen.slice(0, 15), `${name(15)}`.slice(0, 127) + 'yz'];
    const err = (() => {
      try {
        dialect.assertSubscribable(over);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ChannelSetTooLargeError);
    expect(err).toMatchObject({ measure: 'characters', size: NCHAN_MAX_CHANNEL_ID_LENGTH + 1, limit: NCHAN_MAX_CHANNEL_ID_LENGTH, channels: over });
    expect((err as Error).message).toMatch(/2064 characters, more than 2063 .*nchan_max_channel_id_length.*403/);
  });

  it('reads a publish back from the envelope, event fields included, and tells the deleted notice apart', () => {
    const body = dialect.encodeMessage({ text: 'hi' }, ['a', 'b'], { eventId: 'e1', eventType: 'chat' });
    expect(dialect.decodeRequest(dialect.publishRequest(PUB, ['a', 'b'], body, { eventId: 'e1', eventType: 'chat' }))).toEqual({
      op: 'publish',
      channels: ['a', 'b'],
      data: { text: 'hi' },
      eventId: 'e1',
      eventType: 'chat',
    });
    expect(dialect.decodeRequest(dialect.publishRequest(PUB, ['a'], dialect.encodeMessage('x', ['a'], {}), {}))).toEqual({ op: 'publish', channels: ['a'], data: 'x' });
    expect(dialect.decodeRequest(dialect.publishRequest(PUB, ['a'], dialect.deleteNotice('a'), {}))).toEqual({ op: 'notice', channel: 'a' });
    const comma = new NchanDialect(',');
    expect(comma.decodeRequest(comma.publishRequest(PUB, ['a', 'b'], comma.encodeMessage(1, ['a', 'b'], {}), {}))).toMatchObject({ channels: ['a', 'b'] });
    expect(() => dialect.decodeRequest({ method: 'POST', url: `${PUB}?id=a`, headers: {}, body: '{"x":1}' })).toThrow(PushStreamProtocolError);
  });

  it('answers a multi-channel publish summed, as Nchan does', () => {
    const res = dialect.encodeAnswer({
      op: 'publish',
      channels: [
        { channel: 'a', subscribers: 1, storedMessages: 2, publishedMessages: 2 },
        { channel: 'b', subscribers: 3, storedMessages: 1, publishedMessages: 1 },
      ],
    });
    expect(dialect.parsePublish(['a', 'b'], res)).toEqual({ channels: ['a', 'b'], subscribers: 4, infos: [] });
  });
});
