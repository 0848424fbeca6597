/**
 * The push-stream dialect against the wire recordings in test/fixtures/push-stream-wire:
 * the requests it builds must be the recorded curl requests, and it must parse every recorded answer.
 */
import { PushStreamModuleDialect, REVOKED_NOTICE_TEXT } from '../../lib/dialects/index.js';
import { PushStreamConfigError, PushStreamProtocolError } from '../../lib/errors/index.js';
import type { PushStreamHttpResponse } from '../../lib/http/index.js';
import { loadRecording, type RecordedRequest } from '../support/push-stream-wire-fake.js';

const dialect = new PushStreamModuleDialect();
/** The publisher and stats locations the recordings were made against. */
const PUB = 'http://127.0.0.1:19080/pub';
const STATS = 'http://127.0.0.1:19080/channels-stats';

/** A recorded answer as the HTTP client hands it to the dialect. */
function response(id: string): PushStreamHttpResponse {
  const { status, headers, body } = loadRecording(id).response;
  return { status, headers: Object.fromEntries(headers.map(([k, v]) => [k.toLowerCase(), v])), body: body.toString('utf8') };
}

function recordedRequest(id: string): RecordedRequest {
  const req = loadRecording(id).request;
  if (!req) throw new Error(`recording ${id} has no request`);
  return req;
}

/** Every header the recorded command sent is in `built` (names case-insensitive, values exact). */
function expectRecordedHeaders(built: Record<string, string>, id: string): void {
  const lower = Object.fromEntries(Object.entries(built).map(([k, v]) => [k.toLowerCase(), v]));
  for (const [name, value] of recordedRequest(id).headers) expect([name, lower[name.toLowerCase()]]).toEqual([name, value]);
}

describe('PushStreamModuleDialect request building (recorded curl lines)', () => {
  it('01: publish is POST <pub>?id=room1 with the JSON body', () => {
    const rec = recordedRequest('01');
    const body = dialect.encodeMessage({ message: 'hello' });
    const req = dialect.publishRequest(PUB, ['room1'], body, {});
    expect(req.method).toBe(rec.method);
    expect(req.url).toBe(rec.url);
    expect(req.body).toBe(rec.body!.toString('utf8'));
    expectRecordedHeaders(req.headers, '01');
    expect(Object.keys(req.headers).map((k) => k.toLowerCase())).not.toContain('event-id');
  });

  it('02: event id and type travel as Event-ID and Event-Type headers', () => {
    const rec = recordedRequest('02');
    const req = dialect.publishRequest(PUB, ['room1'], dialect.encodeMessage({ message: 'second' }), {
      eventId: 'evt-42',
      eventType: 'chat',
    });
    expect([req.method, req.url, req.body]).toEqual([rec.method, rec.url, rec.body!.toString('utf8')]);
    expectRecordedHeaders(req.headers, '02');
  });

  it('09: several channels go in one request as ?id=room1/room2', () => {
    const rec = recordedRequest('09');
    const req = dialect.publishRequest(PUB, ['room1', 'room2'], dialect.encodeMessage({ x: 1 }), {});
    expect([req.method, req.url, req.body]).toEqual([rec.method, rec.url, rec.body!.toString('utf8')]);
  });

  it('15: the module notifies subscribers of a deletion itself, so no notice is published first', () => {
    expect('deleteNotice' in dialect).toBe(false);
  });

  it('03/04: channel info is GET <pub>?id=', () => {
    for (const [id, channel] of [
      ['03', 'room1'],
      ['04', 'nosuchchannel'],
    ]) {
      const rec = recordedRequest(id);
      const req = dialect.infoRequest(PUB, channel);
      expect([req.method, req.url, req.body]).toEqual([rec.method, rec.url, undefined]);
    }
  });

  it('15/16: delete is DELETE <pub>?id=', () => {
    for (const [id, channel] of [
      ['15', 'room1'],
      ['16', 'nosuchchannel'],
    ]) {
      const rec = recordedRequest(id);
      const req = dialect.deleteRequest(PUB, channel);
      expect([req.method, req.url, req.body]).toEqual([rec.method, rec.url, undefined]);
    }
  });

  it('a revocation is a DELETE whose body, JSON, becomes the text of the deleted notice; connections holding other channels stay open', () => {
    expect(dialect.revokeRequest(PUB, 'room1')).toEqual({
      method: 'DELETE',
      url: `${PUB}?id=room1`,
      headers: { 'content-type': 'application/json' },
      body: '"Subscription revoked"',
    });
    expect(REVOKED_NOTICE_TEXT).toBe('Subscription revoked');
    expect(dialect.deleteClosesConnections).toBe(false);
  });

  it('10: stats is GET on the statistics location, no id', () => {
    const rec = recordedRequest('10');
    const req = dialect.statsRequest(STATS);
    expect([req.method, req.url]).toEqual([rec.method, rec.url]);
  });

  it('encodes messages as JSON, so ~text~ stays valid JSON in the templates', () => {
    expect(dialect.encodeMessage({ message: 'hello' })).toBe('{"message":"hello"}');
    expect(dialect.encodeMessage('Channel deleted')).toBe('"Channel deleted"');
    expect(dialect.encodeMessage({ t: 'żółw "q"' })).toBe('{"t":"żółw \\"q\\""}');
    expect(dialect.kind).toBe('push-stream');
    expect(dialect.notFoundStatus).toBe(404);
  });
});

describe('PushStreamModuleDialect response parsing (recorded answers)', () => {
  const room1 = (published: number, stored: number) => ({
    channel: 'room1',
    subscribers: 0,
    storedMessages: stored,
    publishedMessages: published,
  });

  it('01/02: a one-channel publish answers a flat object', () => {
    expect(dialect.parsePublish(['room1'], response('01'))).toEqual({ channels: ['room1'], subscribers: 0, infos: [room1(1, 1)] });
    expect(dialect.parsePublish(['room1'], response('02'))).toEqual({ channels: ['room1'], subscribers: 0, infos: [room1(2, 2)] });
  });

  it('09: a multi-channel publish answers a group with infos', () => {
    expect(dialect.parsePublish(['room1', 'room2'], response('09'))).toEqual({
      channels: ['room1', 'room2'],
      subscribers: 0,
      infos: [room1(3, 3), { channel: 'room2', subscribers: 0, storedMessages: 1, publishedMessages: 1 }],
    });
  });

  it('08: the module decoded bad%20chan%2Fx into two channels; the group answer says so', () => {
    const parsed = dialect.parsePublish(['x'], response('08'));
    expect(parsed.infos.map((i) => i.channel)).toEqual(['bad chan', 'x']);
  });

  it('sums subscribers over the group', () => {
    const body = response('09').body.replace('"subscribers": 0}', '"subscribers": 2}').replace(/("room2".*)"subscribers": 0/, '$1"subscribers": 3');
    expect(dialect.parsePublish(['room1', 'room2'], { ...response('09'), body }).subscribers).toBe(5);
  });

  it('03/11: channel info (publisher GET and stats ?id=) answers the flat object', () => {
    expect(dialect.parseInfo('room1', response('03'))).toEqual(room1(2, 2));
    expect(dialect.parseInfo('room1', response('11'))).toEqual(room1(3, 3));
  });

  it('04: channel info of a missing channel is null', () => {
    expect(response('04').status).toBe(404);
    expect(dialect.parseInfo('nosuchchannel', response('04'))).toBeNull();
  });

  it('15/16: delete is true when deleted, false when missing', () => {
    expect(dialect.parseDelete('room1', response('15'))).toBe(true);
    expect(dialect.parseDelete('nosuchchannel', response('16'))).toBe(false);
  });

  it('10: the stats summary; raw keeps every field, the by_worker list included', () => {
    expect(dialect.parseStats(response('10'))).toEqual({
      server: 'push-stream',
      channels: 4,
      subscribers: 0,
      publishedMessages: 6,
      storedMessages: 6,
      raw: {
        hostname: 'vm',
        time: '2026-11-24T19:23:55',
        channels: 4,
        wildcard_channels: 0,
        published_messages: 6,
        stored_messages: 6,
        messages_in_trash: 0,
        channels_in_delete: 0,
        channels_in_trash: 0,
        subscribers: 0,
        uptime: 6,
        by_worker: [{ pid: '6465', subscribers: 0, uptime: 6 }],
      },
    });
  });

  it('12/13: ?id=ALL and ?id=room* are channel lists, not the summary: parseStats says so', () => {
    // statsUrl cannot carry a query (options validation), so these only reach parseStats if the
    // location itself is misconfigured; the error must then point at the configuration.
    for (const id of ['12', '13']) {
      expect(() => dialect.parseStats(response(id))).toThrow(PushStreamProtocolError);
      expect(() => dialect.parseStats(response(id))).toThrow(/stats: unexpected answer/);
    }
  });

  it('a 2xx that is not the expected JSON is a PushStreamProtocolError', () => {
    const html = { status: 200, headers: {}, body: loadRecording('07').response.body.toString() };
    expect(() => dialect.parsePublish(['room1'], html)).toThrow(PushStreamProtocolError);
    expect(() => dialect.parseInfo('room1', { status: 200, headers: {}, body: '[]' })).toThrow(PushStreamProtocolError);
    expect(() => dialect.parseInfo('room1', { status: 200, headers: {}, body: '{"channel": "room1"}' })).toThrow(/subscribers/);
    // The module does not JSON-escape names: a '"' in a name breaks its answer.
    const broken = response('01').body.replace('"room1"', '"ro"om1"');
    expect(() => dialect.parsePublish(['room1'], { ...response('01'), body: broken })).toThrow(PushStreamProtocolError);
  });

  it('accepts counters sent as numeric strings by older builds', () => {
    const body = '{"channel": "c", "published_messages": "4", "stored_messages": "3", "subscribers": "1"}';
    expect(dialect.parseInfo('c', { status: 200, headers: {}, body })).toEqual({
      channel: 'c',
      publishedMessages: 4,
      storedMessages: 3,
      subscribers: 1,
    });
  });
});

describe('PushStreamModuleDialect.parseSubscriberChannels', () => {
  it.each([
    ['room1', ['room1']],
    ['room1/room2', ['room1', 'room2']],
    ['room2.b5', ['room2']], // backtrack (20, 23, 25)
    ['room1.b1/room2.b10', ['room1', 'room2']],
    ['room.b5.b3', ['room.b5']], // only the last suffix
    ['room.b', ['room.b']], // not a backtrack suffix: kept, the alphabet check refuses it
    ['room.bx', ['room.bx']],
    ['bad%20chan%2Fx', ['bad chan', 'x']], // decoded once, then split, as the module did (08)
    ['a%252Fb', ['a%2Fb']], // decoded once only
    ['a%2fb.b2', ['a', 'b']],
    ['a//b', ['a', '', 'b']],
    ['%C5%BC', ['ż']],
  ])('%j -> %j', (raw, ids) => {
    expect(dialect.parseSubscriberChannels(raw)).toEqual(ids);
  });

  it.each(['%', '%zz', 'room%2', 'a%E0%A4%A', '%FF'])('broken escape %j -> null (denied)', (raw) => {
    expect(dialect.parseSubscriberChannels(raw)).toBeNull();
  });
});

describe('PushStreamModuleDialect, what only the module has', () => {
  it('keeps its stats location and refuses any delimiter but "/"', () => {
    expect(dialect.statsPath).toBe('/channels-stats');
    expect(new URL(STATS).pathname).toBe(dialect.statsPath);
    expect(() => new PushStreamModuleDialect(',')).toThrow(PushStreamConfigError);
    expect(() => new PushStreamModuleDialect(',')).toThrow(/always separates channels with "\/"/);
  });

  it('has no joined-path limit of its own', () => {
    expect(() => dialect.assertSubscribable(Array.from({ length: 255 }, (_, i) => `c${i}`.padEnd(128, 'x')))).not.toThrow();
  });

  it('reads a publish back from the body and the Event-ID / Event-Type headers', () => {
    const body = dialect.encodeMessage({ message: ['Foobar'] });
    expect(dialect.decodeRequest(dialect.publishRequest(PUB, ['room1', 'room2'], body, { eventId: 'evt-42', eventType: 'chat' }))).toEqual({
      op: 'publish',
      channels: ['room1', 'room2'],
      data: { message: ['Foobar'] },
      eventId: 'evt-42',
      eventType: 'chat',
    });
    expect(dialect.decodeRequest(dialect.revokeRequest(PUB, 'room1'))).toEqual({ op: 'delete', channel: 'room1' });
    expect(() => dialect.decodeRequest({ method: 'POST', url: `${PUB}?id=a`, headers: {}, body: 'not json' })).toThrow(PushStreamProtocolError);
  });

  it('answers one channel flat and several with infos, as recordings 01 and 09', () => {
    const one = { channel: 'room1', subscribers: 0, storedMessages: 3, publishedMessages: 3 };
    const two = { channel: 'room2', subscribers: 0, storedMessages: 1, publishedMessages: 1 };
    expect(JSON.parse(dialect.encodeAnswer({ op: 'publish', channels: [one] }).body)).toEqual(
      JSON.parse('{"channel": "room1", "published_messages": 3, "stored_messages": 3, "subscribers": 0}'),
    );
    expect(dialect.parsePublish(['room1', 'room2'], dialect.encodeAnswer({ op: 'publish', channels: [one, two] }))).toEqual(
      dialect.parsePublish(['room1', 'room2'], response('09')),
    );
    expect(dialect.encodeAnswer({ op: 'delete', existed: false }).status).toBe(response('16').status);
  });
});
