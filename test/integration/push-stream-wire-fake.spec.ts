/**
 * The protocol fake must replay the recorded Push Stream Module traffic: every recorded
 * publisher/stats command is sent to a fresh fake in the recorded order, and the answer must equal
 * the recorded file (status line, every header in order, body) once Date, hostname, time, uptime
 * and worker pid are normalised.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import {
  headerValue,
  loadRecording,
  normaliseResponse,
  parseRawResponse,
  PushStreamWireFake,
  rawExchange,
  recordedAnswer,
  recordingFiles,
  unescapeLikeNginx,
  WIRE_FIXTURE_DIR,
} from '../support/push-stream-wire-fake.js';

/** The publisher and statistics recordings, in the order they were made. */
const SEQUENCE = ['01', '02', '03', '04', '05', '06', '07', '08', '09', '10', '11', '12', '13', '14', '15', '16', '18'];

function pathOf(url: string): string {
  return url.replace(/^https?:\/\/[^/]+/, '');
}

describe('wire recordings (fixtures)', () => {
  it('holds every publisher/stats recording with a parseable command and a complete response', () => {
    const withCommand = recordingFiles().filter((f) => readFileSync(join(WIRE_FIXTURE_DIR, f), 'latin1').startsWith('$ curl '));
    expect(withCommand.map((f) => f.slice(0, 2))).toEqual(SEQUENCE);
    for (const id of SEQUENCE) {
      const rec = loadRecording(id);
      expect(rec.request).not.toBeNull();
      // Content-Length counts exactly the bytes after the header block (CRLF kept).
      const length = headerValue(rec.response.headers, 'Content-Length');
      expect(Number(length)).toBe(rec.response.body.length);
      // ...and the file holds nothing after that body but the recorder's final LF.
      const file = readFileSync(join(WIRE_FIXTURE_DIR, rec.file));
      const tail = Buffer.concat([Buffer.from('\r\n\r\n'), rec.response.body, Buffer.from('\n')]);
      expect(file.subarray(file.length - tail.length).equals(tail)).toBe(true);
    }
  });

  it('reads curl lines as the recorder wrote them', () => {
    expect(loadRecording('02').request).toEqual({
      method: 'POST',
      url: 'http://127.0.0.1:19080/pub?id=room1',
      headers: [
        ['Event-ID', 'evt-42'],
        ['Event-Type', 'chat'],
      ],
      body: Buffer.from('{"message":"second"}'),
    });
    expect(loadRecording('01').request?.headers).toEqual([['Content-Type', 'application/json']]);
    expect(loadRecording('07').request?.body?.length).toBe(70000);
    expect(loadRecording('10').request).toMatchObject({ method: 'GET', url: 'http://127.0.0.1:19080/channels-stats' });
  });
});

describe('PushStreamWireFake replays the recordings', () => {
  let fake: PushStreamWireFake;

  beforeAll(async () => {
    fake = await PushStreamWireFake.start();
  });
  afterAll(async () => {
    await fake.close();
  });

  // One fake for the whole sequence: counters must go 01 -> 02 -> 03 -> 09 -> 11 as recorded.
  it.each(SEQUENCE)('answers %s exactly as recorded', async (id) => {
    const rec = loadRecording(id);
    const req = rec.request!;
    const headers = [...req.headers];
    if (req.body && !headerValue(headers, 'Content-Type')) headers.push(['Content-Type', 'application/x-www-form-urlencoded']);
    const raw = await rawExchange(fake.url, { method: req.method, path: pathOf(req.url), headers, body: req.body });

    const got = parseRawResponse(raw);
    expect(got.statusLine).toBe(rec.response.statusLine);
    // The fake's Content-Length is true to its own body, to the byte.
    expect(Number(headerValue(got.headers, 'Content-Length'))).toBe(raw.length - (raw.indexOf('\r\n\r\n') + 4));
    for (const name of ['X-Nginx-PushStream-Explain', 'Content-Type', 'Connection', 'X-Nginx-PushStream-Tag']) {
      expect([name, headerValue(got.headers, name)]).toEqual([name, headerValue(rec.response.headers, name)]);
    }
    expect(normaliseResponse(raw)).toBe(normaliseResponse(rec.raw));
  });

  it('kept the counters of the recorded sequence', () => {
    expect(fake.channelNames()).toEqual(['bad chan', 'x', 'room2', 'room3']); // room1 deleted by 15
    expect(fake.channel('room2')).toEqual({ published_messages: 1, stored_messages: 1, subscribers: 0 });
    expect(fake.requests.map((r) => `${r.method} ${r.url}`)).toEqual(
      SEQUENCE.map((id) => `${loadRecording(id).request!.method} ${pathOf(loadRecording(id).request!.url)}`),
    );
  });
});

describe('PushStreamWireFake switches and bookkeeping', () => {
  let fake: PushStreamWireFake;

  beforeEach(async () => {
    fake = await PushStreamWireFake.start({ maxStoredMessages: 2 });
  });
  afterEach(async () => {
    await fake.close();
  });

  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    request(fake.url + path, { method: 'POST', body, headers });

  it('records method, url, headers and body of each request', async () => {
    const res = await post('/pub?id=a/b', '{"n":1}', { 'event-id': 'e1', 'content-type': 'application/json' });
    await res.body.text();
    expect(fake.requests).toEqual([
      expect.objectContaining({
        method: 'POST',
        url: '/pub?id=a/b',
        body: '{"n":1}',
        bodyBytes: 7,
        headers: expect.objectContaining({ 'event-id': 'e1', 'content-type': 'application/json' }),
      }),
    ]);
  });

  it('caps stored_messages at push_stream_max_messages_stored_per_channel', async () => {
    for (let i = 0; i < 3; i++) await (await post('/pub?id=c', 'x')).body.text();
    expect(fake.channel('c')).toEqual({ published_messages: 3, stored_messages: 2, subscribers: 0 });
  });

  it('answers 500 without explain N times when the shared memory is full, then recovers', async () => {
    fake.failNext(2);
    const statuses: number[] = [];
    const explains: Array<string | string[] | undefined> = [];
    for (let i = 0; i < 3; i++) {
      const res = await post('/pub?id=c', 'x');
      await res.body.text();
      statuses.push(res.statusCode);
      explains.push(res.headers['x-nginx-pushstream-explain']);
    }
    expect(statuses).toEqual([500, 500, 200]);
    expect(explains).toEqual([undefined, undefined, undefined]);
    expect(fake.channel('c')?.published_messages).toBe(1); // failed publishes stored nothing
    expect(fake.requests).toHaveLength(3);
  });

  it('replays any recorded answer on demand', async () => {
    fake.failNext(1, recordedAnswer('18'));
    const res = await post('/pub?id=c', 'x');
    await res.body.text();
    expect(res.statusCode).toBe(403);
    expect(res.headers['x-nginx-pushstream-explain']).toBe('Channel id not authorized for this method.');
  });

  it('can hang: the request arrives and nothing is answered', async () => {
    fake.hangNext(1);
    const outcome = await request(fake.url + '/pub?id=c', { method: 'GET', signal: AbortSignal.timeout(150) }).then(
      () => 'answered',
      (err: Error) => err.name,
    );
    expect(outcome).not.toBe('answered');
    expect(fake.requests).toHaveLength(1);
  });

  it('refuses ALL and wildcards on the publisher, for every method', async () => {
    for (const method of ['POST', 'GET', 'DELETE'] as const) {
      const res = await request(`${fake.url}/pub?id=ALL`, { method, body: method === 'POST' ? 'x' : undefined });
      await res.body.text();
      expect([method, res.statusCode]).toEqual([method, 403]);
    }
  });

  it('decodes ids like nginx: once, %2F splits, broken escapes stay literal', () => {
    expect(unescapeLikeNginx('bad%20chan%2Fx')).toBe('bad chan/x');
    expect(unescapeLikeNginx('a%252Fb')).toBe('a%2Fb');
    expect(unescapeLikeNginx('a%zzb%')).toBe('a%zzb%');
    expect(unescapeLikeNginx('%C5%BC')).toBe('ż');
  });
});
