import { createHmac } from 'node:crypto';
import {
  assertValidChannelName,
  ISSUED_PAGES_SESSION_KEY,
  isIssuedPage,
  MAX_ISSUED_PAGES_PER_SESSION,
  PushStreamChannels,
  SESSION_TOKEN_KEY_LABEL,
} from '../../lib/channels/index.js';
import { InvalidChannelNameError, PushStreamError } from '../../lib/errors/index.js';

const SECRET = 'channel-secret-0123456789abcdef';
const channels = new PushStreamChannels({ prefix: 'my-app', secret: SECRET, maxChannelNameLength: 128 });

function invalid(fn: () => unknown): InvalidChannelNameError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidChannelNameError);
    expect(err).toBeInstanceOf(PushStreamError);
    expect((err as PushStreamError).retryable).toBe(false);
    return err as InvalidChannelNameError;
  }
  throw new Error('expected an InvalidChannelNameError, nothing was thrown');
}

describe('PushStreamChannels names', () => {
  it('builds the seed scheme', () => {
    expect(channels.all()).toBe('my-app__all__');
    expect(channels.authorized()).toBe('my-app__authorized__');
    expect(channels.user(42)).toBe('my-app__user__42');
    expect(channels.user('abc-DEF_9')).toBe('my-app__user__abc-DEF_9');
    expect(channels.custom('room', 42)).toBe('my-app__room__42');
    expect(channels.custom('chat-room2', 'x')).toBe('my-app__chat-room2__x');
    expect(channels.withPrefix('__all__')).toBe('my-app__all__');
    expect(channels.withPrefix('__all__')).toBe(channels.all());
    expect(channels.prefix).toBe('my-app');
  });

  it('uses the configured prefix', () => {
    const shop = new PushStreamChannels({ prefix: 'shop', secret: SECRET, maxChannelNameLength: 128 });
    expect(shop.all()).toBe('shop__all__');
    expect(shop.user(1)).toBe('shop__user__1');
  });

  it('every name it builds passes the safe-alphabet check', () => {
    const names = [
      channels.all(),
      channels.authorized(),
      channels.session('s'),
      channels.user(1),
      channels.page('0b7f3c1e-2d4a-4f6b-8c9d-1e2f3a4b5c6d'),
      channels.custom('room', 1),
    ];
    for (const name of names) expect(() => assertValidChannelName(name, 128)).not.toThrow();
  });
});

describe('session channels (HMAC token)', () => {
  const sessionId = 's%3AFh7kq2-raw.session.id+sig/==';

  it('never contains the raw session id', () => {
    const name = channels.session(sessionId);
    expect(name).toMatch(/^my-app__session__[0-9a-f]{32}$/);
    expect(name).not.toContain('Fh7kq2');
    expect(name).not.toContain(sessionId);
  });

  it('is HMAC-SHA256 of the session id under a key derived from the secret with a label, 128 bits of hex, deterministic', () => {
    const key = createHmac('sha256', SECRET).update('nestjs-push-stream session channel token v1', 'utf8').digest();
    expect(SESSION_TOKEN_KEY_LABEL).toBe('nestjs-push-stream session channel token v1');
    const expected = createHmac('sha256', key).update(sessionId, 'utf8').digest('hex').slice(0, 32);
    expect(channels.sessionToken(sessionId)).toBe(expected);
    expect(channels.session(sessionId)).toBe(`my-app__session__${expected}`);
    expect(channels.session(sessionId)).toBe(new PushStreamChannels({ prefix: 'my-app', secret: SECRET, maxChannelNameLength: 128 }).session(sessionId));
  });

  // express-session signs its cookie `s:<id>.<sig>` with sig = base64 HMAC-SHA256(secret, id),
  // unpadded. An application that used one value for SESSION_SECRET and `secret` must not get a
  // channel token that is that signature's first 16 bytes, in hex.
  it('is not the cookie signature when the session secret and `secret` are one value', () => {
    const cookieSignature = createHmac('sha256', SECRET).update(sessionId).digest();
    const token = Buffer.from(channels.sessionToken(sessionId), 'hex');
    expect(token).toHaveLength(16);
    expect(token.equals(cookieSignature.subarray(0, 16))).toBe(false);
    // Not any 16-byte window of it either.
    for (let i = 0; i <= 16; i++) expect(token.equals(cookieSignature.subarray(i, i + 16))).toBe(false);
  });

  it('differs per secret and per session', () => {
    const other = new PushStreamChannels({ prefix: 'my-app', secret: 'another-secret-0123456789', maxChannelNameLength: 128 });
    expect(other.sessionToken(sessionId)).not.toBe(channels.sessionToken(sessionId));
    expect(channels.sessionToken('session-a')).not.toBe(channels.sessionToken('session-b'));
  });

  it('checks a token: true only for the exact token of that session', () => {
    const token = channels.sessionToken(sessionId);
    expect(channels.isSessionToken(token, sessionId)).toBe(true);
    expect(channels.isSessionToken(token, 'another-session')).toBe(false);
    expect(channels.isSessionToken(token.slice(0, 31), sessionId)).toBe(false); // truncated
    expect(channels.isSessionToken(token + '0', sessionId)).toBe(false); // extended
    expect(channels.isSessionToken('', sessionId)).toBe(false);
    const forged = (token[0] === 'a' ? 'b' : 'a') + token.slice(1);
    expect(channels.isSessionToken(forged, sessionId)).toBe(false);
    expect(channels.isSessionToken(token.toUpperCase(), sessionId)).toBe(token === token.toUpperCase());
    expect(channels.isSessionToken(sessionId, sessionId)).toBe(false); // the raw id is not a token
  });

  it('compares in constant time (crypto.timingSafeEqual on equal-length buffers)', () => {
    // Equal-length candidates differing at the first or the last character are both refused
    // without short-circuiting; the source uses timingSafeEqual, checked here by behaviour.
    const token = channels.sessionToken(sessionId);
    const flip = (i: number) => token.slice(0, i) + (token[i] === '0' ? '1' : '0') + token.slice(i + 1);
    expect(channels.isSessionToken(flip(0), sessionId)).toBe(false);
    expect(channels.isSessionToken(flip(31), sessionId)).toBe(false);
    expect(PushStreamChannels.prototype.isSessionToken.toString()).toContain('timingSafeEqual');
  });

  // timingSafeEqual needs equal byte lengths: a 32-character token with a non-ASCII character
  // (e.g. from a percent-decoded URL) once made it throw instead of answering false.
  it('returns false (does not throw) for a forged 32-character token with non-ASCII characters', () => {
    const forged = 'é' + channels.sessionToken('x').slice(1);
    expect(forged).toHaveLength(32);
    expect(channels.isSessionToken(forged, 'x')).toBe(false);
    expect(channels.isSessionToken(42, 'x')).toBe(false);
  });

  it('refuses an empty or non-string session id', () => {
    invalid(() => channels.session(''));
    invalid(() => channels.session(undefined as unknown as string));
  });
});

describe('user channels refuse unsafe ids before they reach nginx', () => {
  it.each([
    '1/__all__', // push-stream splits on "/": would also publish to my-app__all__-like ids
    '1%2F__all__', // decoded to "/" by the module (recording 08)
    'a b',
    '"',
    '1"}', // names are not JSON-escaped in templates or answers
    'żółw',
    '1.b5', // backtrack suffix on subscriber URLs
    '*',
    '',
    '1\n2',
  ])('user(%j) throws InvalidChannelNameError', (id) => {
    const err = invalid(() => channels.user(id));
    expect(err.channels).toEqual([err.channel]);
  });

  it('refuses ids that make the name too long', () => {
    const short = new PushStreamChannels({ prefix: 'my-app', secret: SECRET, maxChannelNameLength: 20 });
    expect(short.user('1234')).toBe('my-app__user__1234'); // 18 characters
    const err = invalid(() => short.user('1234567'));
    expect(err.message).toContain('longer than 20');
    invalid(() => channels.user('9'.repeat(200)));
  });

  it('refuses unsafe custom kinds and values', () => {
    invalid(() => channels.custom('Room', 1));
    invalid(() => channels.custom('1room', 1));
    invalid(() => channels.custom('room__x', 1));
    invalid(() => channels.custom('room', 'a__all__'));
    invalid(() => channels.custom('room', 'a/b'));
    invalid(() => channels.custom('room', ''));
  });

  it('withPrefix and validate check the whole name', () => {
    invalid(() => channels.withPrefix('/x'));
    invalid(() => channels.withPrefix('__all__ '));
    invalid(() => channels.validate('ALL')); // reserved by push-stream statistics
    invalid(() => channels.validate('room*'));
    expect(channels.validate('my-app__room__1')).toBe('my-app__room__1');
  });
});

describe('page channels take random v4 UUIDs only', () => {
  it('accepts a v4 UUID and lower-cases it', () => {
    expect(channels.page('0B7F3C1E-2D4A-4F6B-8C9D-1E2F3A4B5C6D')).toBe('my-app__uuid__0b7f3c1e-2d4a-4f6b-8c9d-1e2f3a4b5c6d');
    const random = crypto.randomUUID();
    expect(channels.page(random)).toBe(`my-app__uuid__${random}`);
  });

  it.each([
    '0b7f3c1e-2d4a-1f6b-8c9d-1e2f3a4b5c6d', // v1
    '0b7f3c1e-2d4a-4f6b-7c9d-1e2f3a4b5c6d', // bad variant
    '0b7f3c1e2d4a4f6b8c9d1e2f3a4b5c6d', // no dashes
    '0b7f3c1e-2d4a-4f6b-8c9d-1e2f3a4b5c6d/x',
    '',
  ])('refuses %j', (uuid) => {
    invalid(() => channels.page(uuid));
  });
});

describe('issuePage(): page channels handed to one session (auth.pageChannels "issued")', () => {
  it('records the page in the session and returns its channel', () => {
    const session: Record<string, unknown> = { user: { id: 1 } };
    const page = channels.issuePage(session);
    expect(page).toMatch(/^my-app__uuid__[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const uuid = page.slice('my-app__uuid__'.length);
    expect(session[ISSUED_PAGES_SESSION_KEY]).toEqual([uuid]);
    expect(isIssuedPage(session, uuid)).toBe(true);
    expect(session.user).toEqual({ id: 1 });
  });

  it('records a given UUID in lower case, once', () => {
    const session = {};
    expect(channels.issuePage(session, '0B7F3C1E-2D4A-4F6B-8C9D-1E2F3A4B5C6D')).toBe('my-app__uuid__0b7f3c1e-2d4a-4f6b-8c9d-1e2f3a4b5c6d');
    channels.issuePage(session, '0b7f3c1e-2d4a-4f6b-8c9d-1e2f3a4b5c6d');
    expect(session).toEqual({ [ISSUED_PAGES_SESSION_KEY]: ['0b7f3c1e-2d4a-4f6b-8c9d-1e2f3a4b5c6d'] });
    expect(isIssuedPage(session, '0B7F3C1E-2D4A-4F6B-8C9D-1E2F3A4B5C6D')).toBe(false);
  });

  it(`keeps the newest ${MAX_ISSUED_PAGES_PER_SESSION} pages of a session, in a new array each time`, () => {
    const session: Record<string, unknown> = {};
    const pages = Array.from({ length: MAX_ISSUED_PAGES_PER_SESSION + 3 }, () => channels.issuePage(session).slice('my-app__uuid__'.length));
    const before = session[ISSUED_PAGES_SESSION_KEY];
    expect(before).toEqual(pages.slice(3));
    expect(isIssuedPage(session, pages[2])).toBe(false);
    expect(isIssuedPage(session, pages[3])).toBe(true);
    channels.issuePage(session);
    expect(session[ISSUED_PAGES_SESSION_KEY]).not.toBe(before);
  });

  it('replaces a list that is not one, and ignores what is not a string', () => {
    const session: Record<string, unknown> = { [ISSUED_PAGES_SESSION_KEY]: 'not-a-list' };
    expect(isIssuedPage(session, 'not-a-list')).toBe(false);
    const uuid = channels.issuePage(session).slice('my-app__uuid__'.length);
    expect(session[ISSUED_PAGES_SESSION_KEY]).toEqual([uuid]);
    expect(isIssuedPage({ [ISSUED_PAGES_SESSION_KEY]: [42, uuid] }, uuid)).toBe(true);
    expect(isIssuedPage(null, uuid)).toBe(false);
    expect(isIssuedPage(undefined, uuid)).toBe(false);
    // Only the session's own field: not one inherited from its prototype.
    expect(isIssuedPage(Object.create({ [ISSUED_PAGES_SESSION_KEY]: [uuid] }), uuid)).toBe(false);
  });

  it('refuses a missing session and a UUID page() refuses, recording nothing', () => {
    invalid(() => channels.issuePage(undefined as unknown as object));
    invalid(() => channels.issuePage(null as unknown as object));
    const session = {};
    invalid(() => channels.issuePage(session, 'not-a-uuid'));
    expect(session).toEqual({});
  });
});

describe('parse()', () => {
  it.each([
    ['my-app__all__', { kind: 'all', value: '' }],
    ['my-app__authorized__', { kind: 'authorized', value: '' }],
    ['my-app__user__42', { kind: 'user', value: '42' }],
    ['my-app__uuid__0b7f3c1e-2d4a-4f6b-8c9d-1e2f3a4b5c6d', { kind: 'uuid', value: '0b7f3c1e-2d4a-4f6b-8c9d-1e2f3a4b5c6d' }],
    ['my-app__room__a_b', { kind: 'room', value: 'a_b' }],
  ])('splits %s', (name, parts) => {
    expect(channels.parse(name)).toEqual({ name, ...parts });
  });

  it('round-trips every name it builds', () => {
    const token = channels.sessionToken('sid');
    expect(channels.parse(channels.session('sid'))).toEqual({ name: `my-app__session__${token}`, kind: 'session', value: token });
    expect(channels.parse(channels.user(7))).toMatchObject({ kind: 'user', value: '7' });
  });

  it('gives `all` with a non-empty value for my-app__all__evil, so auth must require value === ""', () => {
    // The doc comment of parse() says "my-app__all__evil is not all"; what it returns is kind
    // "all" with value "evil". Auth rules for all/authorized must reject a non-empty value.
    expect(channels.parse('my-app__all__evil')).toEqual({ name: 'my-app__all__evil', kind: 'all', value: 'evil' });
    expect(channels.parse('my-app__authorized__x')).toEqual({ name: 'my-app__authorized__x', kind: 'authorized', value: 'x' });
    expect(channels.parse('my-app__user__1__all__')).toEqual({ name: 'my-app__user__1__all__', kind: 'user', value: '1__all__' });
  });

  it.each([
    'other__all__', // another prefix
    'my-app-x__all__',
    'my-app_all__',
    'my-app____x', // empty kind
    'my-app__all', // no closing marker
    'my-app__Room__1', // kind not lower-case
    'my-app__1room__1',
    'my-app__',
    'my-app',
    '',
  ])('returns null for %j', (name) => {
    expect(channels.parse(name)).toBeNull();
  });
});

describe('assertValidChannelName', () => {
  it.each([
    [42, 'must be a string'],
    ['', 'is empty'],
    ['a'.repeat(11), 'longer than 10'],
    ['a/b', 'may only contain'],
    ['a%2Fb', 'may only contain'],
    ['a.b5', 'may only contain'],
    ['ALL', 'reserved'],
  ])('refuses %j (%s)', (name, reason) => {
    expect(() => assertValidChannelName(name, 10)).toThrow(InvalidChannelNameError);
    expect(() => assertValidChannelName(name, 10)).toThrow(reason);
  });

  it('accepts the safe alphabet up to the limit', () => {
    expect(() => assertValidChannelName('aZ09_-', 6)).not.toThrow();
    expect(() => assertValidChannelName('all', 6)).not.toThrow();
  });
});
