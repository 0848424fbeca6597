import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { jest } from '@jest/globals';
import { createBuiltInRules } from '../../../lib/auth/built-in-rules.js';
import { ChannelAuthorizer } from '../../../lib/auth/channel-authorizer.js';
import { ChannelRuleRegistry } from '../../../lib/auth/channel-rule-registry.js';
import type { ChannelRule, ChannelRuleContext } from '../../../lib/auth/channel-rule.interface.js';
import type { SubscriberAuthRequest } from '../../../lib/auth/subscriber-auth-request.js';
import { PushStreamChannels } from '../../../lib/channels/push-stream-channels.js';
import { NchanDialect } from '../../../lib/dialects/nchan.dialect.js';
import { PushStreamModuleDialect } from '../../../lib/dialects/push-stream.dialect.js';
import type { PushStreamDialect } from '../../../lib/dialects/push-stream-dialect.interface.js';
import type { PushStreamAuthOptions } from '../../../lib/options/push-stream-options.interface.js';
import { resolvePushStreamOptions } from '../../../lib/options/resolve-options.js';

const SECRET = 'unit-secret-0123456789';

function setup(auth: PushStreamAuthOptions = {}, dialect: PushStreamDialect = new PushStreamModuleDialect(), extra: ChannelRule[] = []) {
  const options = resolvePushStreamOptions({ publisherUrl: 'http://127.0.0.1:1/pub', secret: SECRET, auth });
  const channels = new PushStreamChannels(options);
  const registry = new ChannelRuleRegistry([
    ...createBuiltInRules(channels, { pageChannels: options.auth.pageChannels }),
    ...options.auth.rules,
    ...extra,
  ]);
  return { channels, authorizer: new ChannelAuthorizer(options, dialect, channels, registry) };
}

/** A request as express-session leaves it: a loaded session carries its id in the signed cookie. */
function request(channelsHeader: string | undefined, who: { sessionId?: string; sessionUser?: unknown; passportUser?: unknown } = {}) {
  const req: SubscriberAuthRequest = { headers: {} };
  if (channelsHeader !== undefined) req.headers['x-push-stream-channels'] = channelsHeader;
  if (who.sessionId) {
    req.sessionID = who.sessionId;
    req.session = who.sessionUser === undefined ? {} : { user: who.sessionUser };
    req.headers.cookie = `other=1; connect.sid=${encodeURIComponent(`s:${who.sessionId}.signature`)}`;
  }
  if (who.passportUser !== undefined) req.user = who.passportUser;
  return req;
}

describe('ChannelAuthorizer', () => {
  beforeEach(() => jest.spyOn(Logger.prototype, 'debug').mockImplementation(() => undefined));
  afterEach(() => jest.restoreAllMocks());

  it('allows an anonymous session its own session channel and __all__, in one request', async () => {
    const { authorizer, channels } = setup();
    const decision = await authorizer.authorize(request(`my-app__all__/${channels.session('sid-1')}`, { sessionId: 'sid-1' }));
    expect(decision).toMatchObject({ allowed: true, sessionId: 'sid-1', user: null });
  });

  it('push-stream: judges a channel by its name without the .bN backtrack suffix', async () => {
    const { authorizer } = setup();
    const anon = { sessionId: 'anon' };
    expect(await authorizer.authorize(request('my-app__all__.b10', anon))).toMatchObject({ allowed: true });
    expect(await authorizer.authorize(request('my-app__authorized__.b10', anon))).toMatchObject({ allowed: false, status: 403 });
    expect(await authorizer.authorize(request('my-app__all__.b10/my-app__user__2.b5', { sessionId: 's', sessionUser: { id: 1 } }))).toMatchObject({
      allowed: false,
      status: 403,
    });
    expect(await authorizer.authorize(request('my-app__user__1.b5', { sessionId: 's', sessionUser: { id: 1 } }))).toMatchObject({ allowed: true });
  });

  it('refuses more channels than auth.maxChannelsPerRequest (default 16) with 403, before any rule is consulted', async () => {
    const canSubscribe = jest.fn(() => true);
    const room: ChannelRule = { kind: 'room', canSubscribe };
    const rooms = (n: number) => Array.from({ length: n }, (_v, i) => `my-app__room__${i}`).join('/');
    const { authorizer } = setup({}, new PushStreamModuleDialect(), [room]);
    expect(await authorizer.authorize(request(rooms(16)))).toMatchObject({ allowed: true });
    canSubscribe.mockClear();
    expect(await authorizer.authorize(request(rooms(17)))).toEqual({ allowed: false, status: 403, reason: 'more than 16 channels' });
    // The push-stream backtrack suffix does not hide a channel from the count.
    expect(await authorizer.authorize(request(`${rooms(16)}/my-app__all__.b5`))).toMatchObject({ allowed: false, status: 403 });
    expect(canSubscribe).not.toHaveBeenCalled();

    const raised = setup({ maxChannelsPerRequest: 40 }, new NchanDialect('/'), [room]).authorizer;
    expect(await raised.authorize(request(rooms(40)))).toMatchObject({ allowed: true });
    expect(await raised.authorize(request(rooms(41)))).toMatchObject({ allowed: false, status: 403, reason: 'more than 40 channels' });
  });

  it('pageChannels "issued": a page channel only for the session it was handed to; 401 without a session', async () => {
    const { authorizer, channels } = setup({ pageChannels: 'issued' });
    const owner = request('', { sessionId: 'owner' });
    const page = channels.issuePage(owner.session as object);
    owner.headers['x-push-stream-channels'] = `my-app__all__/${page}`;
    expect(await authorizer.authorize(owner)).toMatchObject({ allowed: true, sessionId: 'owner' });
    expect(await authorizer.authorize(request(page, { sessionId: 'other' }))).toMatchObject({ allowed: false, status: 403 });
    expect(await authorizer.authorize(request(page))).toMatchObject({ allowed: false, status: 401 });
    const fresh = request(channels.page(randomUUID()), { sessionId: 'owner' });
    fresh.session = owner.session;
    expect(await authorizer.authorize(fresh)).toMatchObject({ allowed: false, status: 403 });
    // A session express-session made up for an unknown cookie is nobody's, whatever it holds.
    const madeUp = request(page, { sessionId: 'owner' });
    madeUp.session = owner.session;
    madeUp.headers.cookie = 'connect.sid=s%3Asomeone-else.signature';
    expect(await authorizer.authorize(madeUp)).toMatchObject({ allowed: false, status: 401 });
    // The default policy lets whoever knows the UUID in.
    expect(await setup().authorizer.authorize(request(page))).toMatchObject({ allowed: true });
  });

  it('refuses the whole request when one channel fails', async () => {
    const { authorizer, channels } = setup();
    const decision = await authorizer.authorize(
      request(`my-app__all__/${channels.session('sid-1')}/my-app__authorized__`, { sessionId: 'sid-1' }),
    );
    expect(decision).toMatchObject({ allowed: false, status: 403 });
  });

  it('answers 401 when no session exists and the channel needs one, 403 otherwise', async () => {
    const { authorizer, channels } = setup();
    expect(await authorizer.authorize(request(channels.session('sid-1')))).toMatchObject({ allowed: false, status: 401 });
    expect(await authorizer.authorize(request('my-app__authorized__'))).toMatchObject({ status: 401 });
    expect(await authorizer.authorize(request('my-app__authorized__', { sessionId: 'anon' }))).toMatchObject({ status: 403 });
    expect(await authorizer.authorize(request('my-app__all__evil'))).toMatchObject({ status: 403 });
    expect(await authorizer.authorize(request(undefined))).toMatchObject({ status: 403 });
  });

  it('does not take express-session’s freshly generated id for a session', async () => {
    const { authorizer, channels } = setup();
    // No cookie: express-session still sets req.sessionID to a new random id.
    const req: SubscriberAuthRequest = { headers: { 'x-push-stream-channels': channels.session('fresh') }, sessionID: 'fresh', session: {} };
    expect(await authorizer.authorize(req)).toMatchObject({ allowed: false, status: 401 });
    // A cookie naming another (unknown, so replaced) session does not vouch for the fresh id either.
    req.headers.cookie = `connect.sid=${encodeURIComponent('s:gone.sig')}`;
    expect(await authorizer.authorize(req)).toMatchObject({ allowed: false });
  });

  it('reads the user from req.user (Passport) or the session key, and only that user gets __user__', async () => {
    const { authorizer } = setup();
    expect(await authorizer.authorize(request('my-app__user__7/my-app__authorized__', { passportUser: { id: 7 } }))).toMatchObject({
      allowed: true,
    });
    expect(await authorizer.authorize(request('my-app__user__7', { sessionId: 's', sessionUser: { id: '7' } }))).toMatchObject({
      allowed: true,
    });
    expect(await authorizer.authorize(request('my-app__user__8', { sessionId: 's', sessionUser: { id: 7 } }))).toMatchObject({
      allowed: false,
      status: 403,
    });
    // Something without an id is no user.
    expect(await authorizer.authorize(request('my-app__authorized__', { sessionId: 's', sessionUser: { name: 'x' } }))).toMatchObject({
      allowed: false,
    });
  });

  it('uses a configured session key and the resolveUser override', async () => {
    const keyed = setup({ sessionUserKey: 'account' }).authorizer;
    const req = request('my-app__authorized__', { sessionId: 's' });
    req.session = { account: { id: 3 } };
    expect(await keyed.authorize(req)).toMatchObject({ allowed: true });

    const resolveUser = jest.fn(async (r: unknown) => ((r as SubscriberAuthRequest).headers['x-test-user'] ? { id: 'jwt-user' } : null));
    const custom = setup({ resolveUser }).authorizer;
    const jwtReq = request('my-app__user__jwt-user');
    jwtReq.headers['x-test-user'] = '1';
    expect(await custom.authorize(jwtReq)).toMatchObject({ allowed: true });
    // The override wins over Passport's req.user.
    expect(await custom.authorize(request('my-app__user__7', { passportUser: { id: 7 } }))).toMatchObject({ allowed: false });
  });

  it('turns a throwing resolveUser or rule into 403 with a warning', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const failing = setup({ resolveUser: () => { throw new Error('db down'); } }).authorizer;
    expect(await failing.authorize(request('my-app__all__'))).toMatchObject({ allowed: false, status: 403 });
    const throwing: ChannelRule = { kind: 'room', canSubscribe: async () => { throw new Error('lookup failed'); } };
    const withRule = setup({ rules: [throwing] }).authorizer;
    expect(await withRule.authorize(request('my-app__room__1'))).toMatchObject({ allowed: false, status: 403 });
    expect(warn.mock.calls.map((c) => String(c[0]))).toEqual([
      expect.stringContaining('db down'),
      expect.stringContaining('lookup failed'),
    ]);
  });

  it('names a refused subscription in the log by X-Original-URI when a config sends it, else by its channels', async () => {
    const debug = jest.spyOn(Logger.prototype, 'debug').mockImplementation(() => undefined);
    const { authorizer } = setup();
    await authorizer.authorize(request('my-app__authorized__'));
    const withUri = request('my-app__authorized__');
    withUri.headers['x-original-uri'] = '/sub/my-app__authorized__?x=1';
    await authorizer.authorize(withUri);
    await authorizer.authorize(request(undefined));
    expect(debug.mock.calls.map((c) => String(c[0]))).toEqual([
      expect.stringMatching(/^Refused channels "my-app__authorized__" with 401/),
      expect.stringMatching(/^Refused "\/sub\/my-app__authorized__\?x=1" with 401/),
      expect.stringMatching(/^Refused \(no channels header\) with 403/),
    ]);
  });

  it('runs custom async rules with the request, user and parsed channel; only `true` allows', async () => {
    const seen: ChannelRuleContext[] = [];
    const rooms: ChannelRule = {
      kind: 'room',
      canSubscribe: async (c) => {
        seen.push(c);
        return c.user !== null && c.channel.value === 'lobby';
      },
    };
    const truthy = { kind: 'truthy', canSubscribe: () => 'yes' as unknown as boolean };
    const { authorizer } = setup({ rules: [rooms, truthy] });
    const req = request('my-app__room__lobby', { passportUser: { id: 1 } });
    expect(await authorizer.authorize(req)).toMatchObject({ allowed: true });
    expect(seen[0]).toMatchObject({ request: req, user: { id: 1 }, channel: { name: 'my-app__room__lobby', kind: 'room', value: 'lobby' } });
    expect(await authorizer.authorize(request('my-app__room__vip', { passportUser: { id: 1 } }))).toMatchObject({ allowed: false });
    expect(await authorizer.authorize(request('my-app__truthy__x'))).toMatchObject({ allowed: false });
  });

  it('does not consult any rule when the request is malformed or names an unknown kind', async () => {
    const canSubscribe = jest.fn(async () => true);
    const { authorizer } = setup({ rules: [{ kind: 'room', canSubscribe }] });
    for (const header of ['my-app__room__1/my-app__nope__x', 'my-app__room__1/other__room__1', 'my-app__room__1/', 'my-app__room__1/ALL']) {
      expect(await authorizer.authorize(request(header))).toMatchObject({ allowed: false, status: 403 });
    }
    expect(canSubscribe).not.toHaveBeenCalled();
  });

  it('refuses a wrong prefix, no prefix and unknown kinds', async () => {
    const { authorizer } = setup();
    for (const header of ['other__all__', 'all', '__all__', 'my-app_all__', 'my-app__secret__x', 'my-app__ALL__', 'my-app____']) {
      expect(await authorizer.authorize(request(header, { passportUser: { id: 1 } }))).toMatchObject({ allowed: false, status: 403 });
    }
  });

  it('refuses a wildcard prefix with no rule but allows one a rule answers for', async () => {
    const broad: ChannelRule = { kind: 'broad', canSubscribe: () => true };
    const withRule = setup({ wildcardPrefixes: ['my-app__broad__'], rules: [broad] }).authorizer;
    expect(await withRule.authorize(request('my-app__broad__x'))).toMatchObject({ allowed: true });
    const without = setup({ wildcardPrefixes: ['my-app__all__'] }).authorizer;
    // `all` has a rule, so the prefix is covered; a prefix outside the naming scheme never is.
    expect(await without.authorize(request('my-app__all__'))).toMatchObject({ allowed: true });
    const foreign = setup({ wildcardPrefixes: ['my-app'] }).authorizer;
    expect(await foreign.authorize(request('my-app-x'))).toMatchObject({ allowed: false });
  });

  it('reads channels with the Nchan dialect’s delimiter', async () => {
    const { authorizer } = setup({}, new NchanDialect(','));
    expect(await authorizer.authorize(request('my-app__all__,my-app__authorized__', { passportUser: { id: 1 } }))).toMatchObject({
      allowed: true,
    });
    expect(await authorizer.authorize(request('my-app__all__/my-app__authorized__', { passportUser: { id: 1 } }))).toMatchObject({
      allowed: false,
    });
  });
});

describe('ChannelAuthorizer.authorizeWithSession (the auth listener: the session comes from a reader)', () => {
  beforeEach(() => {
    jest.spyOn(Logger.prototype, 'debug').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  const headers = (channels: string) => ({ headers: { 'x-push-stream-channels': channels } as SubscriberAuthRequest['headers'] });

  it('decides with the session the reader read: its own channel, its user’s, nobody else’s', async () => {
    const { authorizer, channels } = setup();
    const read = async () => ({ id: 'sid-9', data: { user: { id: 4 } } });
    const own = `${channels.session('sid-9')}/my-app__user__4/my-app__authorized__`;
    expect(await authorizer.authorizeWithSession(headers(own), read)).toMatchObject({ allowed: true, sessionId: 'sid-9', user: { id: 4 } });
    expect(await authorizer.authorizeWithSession(headers(channels.session('sid-8')), read)).toMatchObject({ allowed: false, status: 403 });
    expect(await authorizer.authorizeWithSession(headers('my-app__user__5'), read)).toMatchObject({ allowed: false, status: 403 });
  });

  it('gives the rules the read session as request.session and request.sessionID', async () => {
    const seen: unknown[] = [];
    const spy: ChannelRule<SubscriberAuthRequest> = { kind: 'spy', canSubscribe: ({ request }) => (seen.push([request.session, request.sessionID]), true) };
    const { authorizer } = setup({ rules: [spy] });
    await authorizer.authorizeWithSession(headers('my-app__spy__1'), async () => ({ id: 's', data: { room: 3 } }));
    expect(seen).toEqual([[{ room: 3 }, 's']]);
  });

  it('no session: 401 for a channel that needs one, __all__ still allowed', async () => {
    const { authorizer, channels } = setup();
    const none = async () => null;
    expect(await authorizer.authorizeWithSession(headers('my-app__authorized__'), none)).toMatchObject({ allowed: false, status: 401 });
    expect(await authorizer.authorizeWithSession(headers(channels.session('x')), none)).toMatchObject({ allowed: false, status: 401 });
    expect(await authorizer.authorizeWithSession(headers('my-app__all__'), none)).toMatchObject({ allowed: true, sessionId: null });
  });

  it('a failing read is a retryable refusal, and a request refused on its channels never reads the session', async () => {
    const { authorizer } = setup();
    let reads = 0;
    const failing = async () => {
      reads++;
      throw new Error('store down');
    };
    expect(await authorizer.authorizeWithSession(headers('my-app__all__'), failing)).toMatchObject({ allowed: false, status: 403, reason: 'reading the session failed', retryable: true });
    expect(reads).toBe(1);
    for (const bad of ['', 'other__all__', 'my-app__nokind__x', '../my-app__all__']) {
      const decision = await authorizer.authorizeWithSession(headers(bad), failing);
      expect(decision).toMatchObject({ allowed: false, status: 403 });
      expect(decision).not.toHaveProperty('retryable');
    }
    expect(await authorizer.authorizeWithSession({ headers: {} }, failing)).toMatchObject({ allowed: false, status: 403 });
    expect(reads).toBe(1);
  });
});
