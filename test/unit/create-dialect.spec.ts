// The one map from server kind to dialect, and the contract every dialect keeps: what it builds,
// it reads back as its server would, and what it answers, its own parse* methods read.
import { createDialect, describeServerKinds, isServerKind, SERVER_KINDS } from '../../lib/dialects/create-dialect.js';
import { NchanDialect } from '../../lib/dialects/nchan.dialect.js';
import { PushStreamDialect } from '../../lib/dialects/push-stream-dialect.interface.js';
import { PushStreamModuleDialect } from '../../lib/dialects/push-stream.dialect.js';
import { PushStreamConfigError } from '../../lib/errors/index.js';

const PUB = 'http://127.0.0.1:9081/pub';
const info = (channel: string, n: number) => ({ channel, subscribers: 0, storedMessages: n, publishedMessages: n });

describe('createDialect', () => {
  it('maps each kind to its dialect', () => {
    expect(SERVER_KINDS).toEqual(['push-stream', 'nchan']);
    expect(createDialect('push-stream')).toBeInstanceOf(PushStreamModuleDialect);
    expect(createDialect('nchan', ',')).toBeInstanceOf(NchanDialect);
    expect(createDialect('nchan', ',').subscriberPath(['a', 'b'])).toBe('a,b');
    expect(describeServerKinds()).toBe('"push-stream" or "nchan"');
  });

  it('refuses an unknown kind, and a delimiter the server cannot use', () => {
    expect(isServerKind('apache')).toBe(false);
    expect(isServerKind('toString')).toBe(false);
    expect(() => createDialect('apache' as never)).toThrow(/server must be "push-stream" or "nchan", got "apache"/);
    expect(() => createDialect('push-stream', ',')).toThrow(PushStreamConfigError);
  });
});

describe.each(SERVER_KINDS)('the %s dialect, server side (for the in-memory recorder)', (kind) => {
  const dialect: PushStreamDialect = createDialect(kind);

  it('is a PushStreamDialect with its own stats path', () => {
    expect(dialect).toBeInstanceOf(PushStreamDialect);
    expect(dialect.kind).toBe(kind);
    expect(dialect.statsPath).toMatch(/^\/[a-z-]+$/);
  });

  it('reads back every request it builds', () => {
    const body = dialect.encodeMessage({ text: 'hi', n: [1, 2] }, ['a', 'b'], { eventType: 'chat' });
    expect(dialect.decodeRequest(dialect.publishRequest(PUB, ['a', 'b'], body, { eventType: 'chat' }))).toEqual({
      op: 'publish',
      channels: ['a', 'b'],
      data: { text: 'hi', n: [1, 2] },
      eventType: 'chat',
    });
    expect(dialect.decodeRequest(dialect.infoRequest(PUB, 'a'))).toEqual({ op: 'info', channel: 'a' });
    expect(dialect.decodeRequest(dialect.deleteRequest(PUB, 'a'))).toEqual({ op: 'delete', channel: 'a' });
    expect(dialect.decodeRequest(dialect.revokeRequest(PUB, 'a'))).toEqual({ op: 'delete', channel: 'a' });
    expect(dialect.decodeRequest(dialect.statsRequest(`http://127.0.0.1:9081${dialect.statsPath}`))).toEqual({ op: 'stats' });
  });

  it('parses every answer it writes', () => {
    const pub = dialect.parsePublish(['a'], dialect.encodeAnswer({ op: 'publish', channels: [info('a', 2)] }));
    expect(pub.subscribers).toBe(0);
    expect(dialect.parseInfo('a', dialect.encodeAnswer({ op: 'info', channel: info('a', 2) }))).toMatchObject({ channel: 'a', storedMessages: 2 });
    expect(dialect.parseInfo('a', dialect.encodeAnswer({ op: 'info', channel: null }))).toBeNull();
    expect(dialect.parseDelete('a', dialect.encodeAnswer({ op: 'delete', existed: true }))).toBe(true);
    expect(dialect.parseDelete('a', dialect.encodeAnswer({ op: 'delete', existed: false }))).toBe(false);
    const stats = { channels: 2, subscribers: 0, publishedMessages: 5, storedMessages: 4 };
    expect(dialect.parseStats(dialect.encodeAnswer({ op: 'stats', stats }))).toMatchObject({ server: kind, ...stats });
  });
});
