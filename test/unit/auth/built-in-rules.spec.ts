import { randomUUID } from 'node:crypto';
import {
  AllChannelRule,
  AuthorizedChannelRule,
  createBuiltInRules,
  SessionChannelRule,
  UserChannelRule,
  UuidChannelRule,
} from '../../../lib/auth/built-in-rules.js';
import type { ChannelRuleContext } from '../../../lib/auth/channel-rule.interface.js';
import { PushStreamChannels } from '../../../lib/channels/push-stream-channels.js';
import type { PushStreamUser } from '../../../lib/options/push-stream-options.interface.js';

const channels = new PushStreamChannels({ prefix: 'my-app', secret: 'unit-secret-0123456789', maxChannelNameLength: 128 });

function ctx(name: string, who: { user?: PushStreamUser | null; sessionId?: string | null } = {}): ChannelRuleContext {
  const channel = channels.parse(name);
  if (!channel) throw new Error(`test channel ${name} does not parse`);
  return { request: {}, user: who.user ?? null, sessionId: who.sessionId ?? null, channel };
}

describe('built-in channel rules', () => {
  it('all: anyone, but only the exact name', () => {
    const rule = new AllChannelRule();
    expect(rule.canSubscribe(ctx('my-app__all__'))).toBe(true);
    expect(rule.canSubscribe(ctx('my-app__all__evil'))).toBe(false);
    expect(rule.canSubscribe(ctx('my-app__all__x', { user: { id: 1 } }))).toBe(false);
  });

  it('authorized: a logged-in user only, exact name', () => {
    const rule = new AuthorizedChannelRule();
    expect(rule.canSubscribe(ctx('my-app__authorized__', { user: { id: 7 } }))).toBe(true);
    expect(rule.canSubscribe(ctx('my-app__authorized__', { sessionId: 'anon-session' }))).toBe(false);
    expect(rule.canSubscribe(ctx('my-app__authorized__x', { user: { id: 7 } }))).toBe(false);
    expect(rule.requiresSession).toBe(true);
  });

  it('session: only the session whose HMAC token it is, anonymous or not', () => {
    const rule = new SessionChannelRule(channels);
    const mine = channels.session('session-a');
    expect(rule.canSubscribe(ctx(mine, { sessionId: 'session-a' }))).toBe(true);
    expect(rule.canSubscribe(ctx(mine, { sessionId: 'session-a', user: { id: 1 } }))).toBe(true);
    expect(rule.canSubscribe(ctx(mine, { sessionId: 'session-b' }))).toBe(false);
    expect(rule.canSubscribe(ctx(mine))).toBe(false);
    expect(rule.canSubscribe(ctx(mine, { sessionId: '' }))).toBe(false);
  });

  it('session: a forged, truncated, extended or raw-session-id token is refused', () => {
    const rule = new SessionChannelRule(channels);
    const token = channels.sessionToken('session-a');
    const forged = `${token.slice(0, -1)}${token.endsWith('0') ? '1' : '0'}`;
    for (const value of [forged, token.slice(0, 31), `${token}0`, token.toUpperCase(), 'session-a', '']) {
      expect(rule.canSubscribe(ctx(`my-app__session__${value}`, { sessionId: 'session-a' }))).toBe(false);
    }
    // A token made with another secret is another token.
    const other = new PushStreamChannels({ prefix: 'my-app', secret: 'another-secret-0123456789', maxChannelNameLength: 128 });
    expect(rule.canSubscribe(ctx(other.session('session-a'), { sessionId: 'session-a' }))).toBe(false);
  });

  it('user: only that user, by string or numeric id', () => {
    const rule = new UserChannelRule();
    expect(rule.canSubscribe(ctx('my-app__user__42', { user: { id: 42 } }))).toBe(true);
    expect(rule.canSubscribe(ctx('my-app__user__42', { user: { id: '42' } }))).toBe(true);
    expect(rule.canSubscribe(ctx('my-app__user__42', { user: { id: 43 } }))).toBe(false);
    expect(rule.canSubscribe(ctx('my-app__user__420', { user: { id: 42 } }))).toBe(false);
    expect(rule.canSubscribe(ctx('my-app__user__42', { sessionId: 's' }))).toBe(false);
    expect(rule.canSubscribe(ctx('my-app__user__', { user: { id: '' } }))).toBe(false);
  });

  it('uuid: a random v4 UUID in canonical form, for anyone who knows it', () => {
    const rule = new UuidChannelRule();
    const uuid = randomUUID();
    expect(rule.canSubscribe(ctx(channels.page(uuid)))).toBe(true);
    expect(rule.canSubscribe(ctx(`my-app__uuid__${uuid.toUpperCase()}`))).toBe(false);
    expect(rule.canSubscribe(ctx(`my-app__uuid__${uuid.slice(0, -1)}`))).toBe(false);
    expect(rule.canSubscribe(ctx('my-app__uuid__00000000-0000-1000-8000-000000000000'))).toBe(false); // v1
    expect(rule.canSubscribe(ctx('my-app__uuid__'))).toBe(false);
    expect(rule.canSubscribe(ctx(`my-app__uuid__${uuid}x`))).toBe(false);
  });

  it('uuid with the "issued" policy: only the session the page was handed to, and it needs a session', () => {
    const rule = new UuidChannelRule('issued');
    expect(rule.requiresSession).toBe(true);
    expect(new UuidChannelRule().requiresSession).toBe(false);
    const session = {};
    const page = channels.issuePage(session);
    const withSession = (name: string, s: unknown, sessionId: string | null = 'sid'): ChannelRuleContext => ({
      ...ctx(name, { sessionId }),
      request: { session: s },
    });
    expect(rule.canSubscribe(withSession(page, session))).toBe(true);
    // Another session, no session, or a session express-session made up (no loaded id): refused.
    expect(rule.canSubscribe(withSession(page, {}))).toBe(false);
    expect(rule.canSubscribe(withSession(page, undefined))).toBe(false);
    expect(rule.canSubscribe(withSession(page, session, null))).toBe(false);
    expect(rule.canSubscribe({ ...ctx(page, { sessionId: 'sid' }), request: null })).toBe(false);
    // A fresh UUID, even in the right form: refused.
    expect(rule.canSubscribe(withSession(channels.page(randomUUID()), session))).toBe(false);
    // The canonical form still matters: the upper-case name of an issued page is another channel.
    const upper = `my-app__uuid__${page.slice('my-app__uuid__'.length).toUpperCase()}`;
    expect(rule.canSubscribe(withSession(upper, session))).toBe(false);
  });

  it('createBuiltInRules gives one rule per built-in kind', () => {
    expect(createBuiltInRules(channels).map((r) => r.kind)).toEqual(['all', 'authorized', 'session', 'user', 'uuid']);
    const uuidRule = (policy?: 'any' | 'issued') => createBuiltInRules(channels, { pageChannels: policy }).find((r) => r.kind === 'uuid');
    expect(uuidRule('issued')?.requiresSession).toBe(true);
    expect(uuidRule('any')?.requiresSession).toBe(false);
    expect(uuidRule()?.requiresSession).toBe(false);
  });
});
