import { NchanDialect } from '../../../lib/dialects/nchan.dialect.js';
import { PushStreamModuleDialect } from '../../../lib/dialects/push-stream.dialect.js';
import {
  MAX_SUBSCRIBER_CHANNELS,
  parseSubscriberChannelIds,
  type SubscriberChannelPolicy,
} from '../../../lib/auth/subscriber-channels.js';

const policy: SubscriberChannelPolicy = { maxChannelNameLength: 128, wildcardPrefixes: [], hasRule: () => false };
const pushStream = new PushStreamModuleDialect();
const nchan = new NchanDialect('/');

type Dialect = Pick<PushStreamModuleDialect, 'parseSubscriberChannels'>;

function ids(raw: unknown, dialect: Dialect = pushStream, p: SubscriberChannelPolicy = policy): string[] | string {
  const result = parseSubscriberChannelIds(raw, dialect, p);
  return result.ok ? result.ids : `denied: ${result.reason}`;
}

describe('parseSubscriberChannelIds with the push-stream dialect (decode once, split on "/", strip .bN)', () => {
  it('reads several channels and strips the backtrack suffix, as the module does', () => {
    expect(ids('my-app__all__/my-app__authorized__.b10')).toEqual(['my-app__all__', 'my-app__authorized__']);
  });

  it('decodes %2F once into a separator, so the hidden channel is checked too', () => {
    expect(ids('my-app__all__%2Fmy-app__session__x')).toEqual(['my-app__all__', 'my-app__session__x']);
  });

  it('refuses a double-encoded separator: after one decoding a "%" is left', () => {
    expect(ids('my-app__all__%252Fmy-app__session__x')).toMatch(/denied: .*percent-encoded/);
  });

  it('refuses empty ids from stray separators', () => {
    for (const raw of ['/my-app__all__', 'my-app__all__/', 'my-app__all__//', 'my-app__all__//my-app__all__', '/', '.b1']) {
      expect(ids(raw)).toMatch(/^denied: /);
    }
  });

  it('refuses ALL, "*" and wildcard-looking ids', () => {
    expect(ids('ALL')).toMatch(/reserved/);
    expect(ids('*')).toMatch(/wildcard/);
    expect(ids('room*')).toMatch(/wildcard/);
    expect(ids('my-app__all__/room%2A')).toMatch(/wildcard/);
    expect(ids('ALL.b3')).toMatch(/reserved/);
  });

  it('strips exactly one suffix; what is left must still be a plain name', () => {
    expect(ids('my-app__authorized__.b10.b2')).toMatch(/outside/);
    expect(ids('my-app__all__.bx')).toMatch(/outside/);
  });

  it('refuses broken escapes and non-UTF-8 bytes instead of throwing', () => {
    expect(ids('my-app__all__%')).toMatch(/malformed/);
    expect(ids('my-app__all__%E0%A4%A')).toMatch(/malformed/);
    expect(ids('my-app__all__%FF')).toMatch(/malformed/);
    // nginx passes raw bytes above 0x7f through; Node reads them as latin1.
    expect(ids('my-app__all__\u00ff')).toMatch(/outside/);
    expect(ids('my-app__all__%C3%A9')).toMatch(/outside/);
  });

  it('refuses control characters and spaces however they are written', () => {
    for (const raw of ['a%0D%0Ab', 'a%00', 'a b', 'a%20b', 'a\tb', 'a%0Ab']) expect(ids(raw)).toMatch(/^denied: /);
  });

  it('refuses a missing, empty or repeated header', () => {
    expect(ids(undefined)).toMatch(/missing/);
    expect(ids('')).toMatch(/no channel/);
    expect(ids(['my-app__all__', 'my-app__all__'])).toMatch(/missing or repeated/);
    expect(ids(42)).toMatch(/missing/);
  });

  it(`accepts ${MAX_SUBSCRIBER_CHANNELS} channels and refuses 500`, () => {
    const list = (n: number) => Array.from({ length: n }, (_, i) => `my-app__user__${i}`).join('/');
    expect(ids(list(MAX_SUBSCRIBER_CHANNELS))).toHaveLength(MAX_SUBSCRIBER_CHANNELS);
    expect(ids(list(500))).toMatch(/more than 255|too long/);
  });

  it('refuses an 8 KB value and ids over the length limit', () => {
    expect(ids('a'.repeat(8 * 1024))).toMatch(/too long/);
    expect(ids('a'.repeat(128))).toEqual(['a'.repeat(128)]);
    expect(ids('a'.repeat(129))).toMatch(/too long/);
    // Bounded before decoding: a huge header is not even split.
    expect(ids('a/'.repeat(100_000))).toMatch(/too long/);
  });

  it('refuses ids under a wildcard prefix unless a rule answers for them', () => {
    const wild: SubscriberChannelPolicy = { ...policy, wildcardPrefixes: ['broad_', 'my-app__broad__'] };
    expect(ids('broad_news', pushStream, wild)).toMatch(/wildcard prefix/);
    expect(ids('my-app__broad__x', pushStream, wild)).toMatch(/wildcard prefix/);
    expect(ids('my-app__broad__x', pushStream, { ...wild, hasRule: (id) => id.startsWith('my-app__broad__') })).toEqual([
      'my-app__broad__x',
    ]);
  });

  it('turns a dialect that throws into a refusal', () => {
    const broken = { parseSubscriberChannels: (): string[] => { throw new Error('boom'); } };
    expect(ids('my-app__all__', broken)).toMatch(/malformed/);
  });
});

describe('parseSubscriberChannelIds with the Nchan dialect (split on the configured delimiter, no decoding)', () => {
  it('splits on "/" by default', () => {
    expect(ids('my-app__all__/my-app__authorized__', nchan)).toEqual(['my-app__all__', 'my-app__authorized__']);
  });

  it('splits on the configured delimiter only', () => {
    const comma = new NchanDialect(',');
    expect(ids('my-app__all__,my-app__authorized__', comma)).toEqual(['my-app__all__', 'my-app__authorized__']);
    expect(ids('my-app__all__/my-app__authorized__', comma)).toMatch(/outside/);
    expect(ids('my-app__all__,,my-app__all__', comma)).toMatch(/empty/);
  });

  it('refuses any "%": Nchan keeps it, so it is another channel or a double encoding', () => {
    expect(ids('my-app__all__%2Fmy-app__session__x', nchan)).toMatch(/percent-encoded/);
    expect(ids('my-app__all__%252Fmy-app__session__x', nchan)).toMatch(/percent-encoded/);
  });

  it('has no backtrack suffix: ".b10" is part of the name and outside the alphabet', () => {
    expect(ids('my-app__authorized__.b10', nchan)).toMatch(/outside/);
  });

  it('refuses empty segments, ALL and wildcards like push-stream', () => {
    for (const raw of ['/my-app__all__', 'my-app__all__/', 'my-app__all__//', 'ALL', '*', 'room*']) {
      expect(ids(raw, nchan)).toMatch(/^denied: /);
    }
  });
});
