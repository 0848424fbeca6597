import { Logger } from '@nestjs/common';
import { jest } from '@jest/globals';
import fc from 'fast-check';
import { createHmac } from 'node:crypto';
import { createBuiltInRules } from '../../../lib/auth/built-in-rules.js';
import { ChannelAuthorizer } from '../../../lib/auth/channel-authorizer.js';
import { ChannelRuleRegistry } from '../../../lib/auth/channel-rule-registry.js';
import type { ChannelRule } from '../../../lib/auth/channel-rule.interface.js';
import type { SubscriberAuthRequest } from '../../../lib/auth/subscriber-auth-request.js';
import { PushStreamChannels } from '../../../lib/channels/push-stream-channels.js';
import { NchanDialect } from '../../../lib/dialects/nchan.dialect.js';
import { PushStreamModuleDialect } from '../../../lib/dialects/push-stream.dialect.js';
import type { PushStreamDialect } from '../../../lib/dialects/push-stream-dialect.interface.js';
import { resolvePushStreamOptions } from '../../../lib/options/resolve-options.js';

const SECRET = 'property-secret-0123456789';
const OWN_SID = 'own-session-id';
const OTHER_SID = 'other-session-id';

/** HMAC token computed here, independently of PushStreamChannels (key derived from the secret with a label). */
const KEY = createHmac('sha256', SECRET).update('nestjs-push-stream session channel token v1').digest();
const token = (sid: string) => createHmac('sha256', KEY).update(sid).digest('hex').slice(0, 32);

interface World {
  hasSession: boolean;
  loggedIn: boolean;
}

/** The reference: what this visitor may read, written as an allow-list, separately from the rules. */
function mayRead(id: string, w: World): boolean {
  if (id === 'my-app__all__') return true;
  if (/^my-app__uuid__[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id)) return true;
  if (w.hasSession && id === `my-app__session__${token(OWN_SID)}`) return true;
  if (w.loggedIn && ['my-app__authorized__', 'my-app__user__u1', 'my-app__room__lobby'].includes(id)) return true;
  return false;
}

/** How each server reads the value (shared/wire/push-stream README; Nchan's split delimiter). */
const serverReads: Record<'push-stream' | 'nchan', (raw: string) => string[]> = {
  'push-stream': (raw) => decodeURIComponent(raw).split('/').map((id) => id.replace(/\.b\d+$/, '')),
  nchan: (raw) => raw.split('/'),
};

const rooms: ChannelRule = {
  kind: 'room',
  canSubscribe: async ({ user, channel }) => user !== null && String(user.id) === 'u1' && channel.value === 'lobby',
};

function authorizerFor(dialect: PushStreamDialect): ChannelAuthorizer {
  const options = resolvePushStreamOptions({ publisherUrl: 'http://127.0.0.1:1/pub', secret: SECRET, auth: { rules: [rooms] } });
  const channels = new PushStreamChannels(options);
  return new ChannelAuthorizer(options, dialect, channels, new ChannelRuleRegistry([...createBuiltInRules(channels), rooms]));
}

function requestFor(header: string, w: World): SubscriberAuthRequest {
  const req: SubscriberAuthRequest = { headers: { 'x-push-stream-channels': header } };
  if (w.hasSession) {
    req.sessionID = OWN_SID;
    req.session = w.loggedIn ? { user: { id: 'u1' } } : {};
    req.headers.cookie = `connect.sid=${encodeURIComponent(`s:${OWN_SID}.sig`)}`;
  }
  return req;
}

const names = fc.oneof(
  // Names some visitor may read, often, so that many generated requests are allowed and checked.
  { weight: 6, arbitrary: fc.constantFrom('my-app__all__', 'my-app__authorized__', `my-app__session__${token(OWN_SID)}`, 'my-app__user__u1', 'my-app__room__lobby') },
  { weight: 2, arbitrary: fc.uuid({ version: 4 }).map((u) => `my-app__uuid__${u}`) },
  { weight: 3, arbitrary: fc.constantFrom(
    `my-app__session__${token(OTHER_SID)}`,
    `my-app__session__${token(OWN_SID).slice(0, 31)}`,
    `my-app__session__${OWN_SID}`,
    'my-app__user__u1',
    'my-app__user__u2',
    'my-app__room__lobby',
    'my-app__room__vip',
    'my-app__all__evil',
    'my-app__authorized__x',
    'other__all__',
    '__all__',
    'ALL',
    '*',
    'room*',
    'my-app__secret__x',
    'my-app__uuid__not-a-uuid',
  ) },
  { weight: 1, arbitrary: fc.uuid({ version: 4 }).map((u) => `my-app__uuid__${u.toUpperCase()}`) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom('a', '_', '-', '/', '%', '.', '*', 'b', '1', '2', 'F', 'A', ' ', '\u00e9'), maxLength: 20 }) },
);

/** A channel written the many ways a URI can: backtrack suffix, percent-encoded or double-encoded characters. */
const segment = fc
  .tuple(
    names,
    fc.option(fc.nat({ max: 99 }), { nil: undefined, freq: 2 }),
    fc.oneof({ weight: 3, arbitrary: fc.constant([] as Array<[number, string]>) }, { weight: 1, arbitrary: fc.array(fc.tuple(fc.nat(), fc.constantFrom('%', '%25')), { minLength: 1, maxLength: 3 }) }),
  )
  .map(([name, backtrack, encodings]) => {
    let s = backtrack === undefined ? name : `${name}.b${backtrack}`;
    for (const [at, how] of encodings) {
      if (s.length === 0) break;
      const i = at % s.length;
      const hex = s.charCodeAt(i).toString(16).toUpperCase().padStart(2, '0');
      s = `${s.slice(0, i)}${how}${hex}${s.slice(i + 1)}`;
    }
    return s;
  });

const header = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.array(segment, { minLength: 1, maxLength: 5 }), fc.constantFrom('/', '/', '/', '%2F', '%2f', '%252F', '//')).map(([parts, sep]) => parts.join(sep)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
);

const world = fc.record({ hasSession: fc.boolean(), loggedIn: fc.boolean() }).map((w) => ({ ...w, loggedIn: w.loggedIn && w.hasSession }));

describe.each([
  ['push-stream', new PushStreamModuleDialect()],
  ['nchan', new NchanDialect('/')],
] as const)('property: %s', (server, dialect) => {
  const authorizer = authorizerFor(dialect);
  // Thousands of refusals would each log a debug line.
  beforeAll(() => jest.spyOn(Logger.prototype, 'debug').mockImplementation(() => undefined));
  afterAll(() => jest.restoreAllMocks());

  it('never allows a request that makes the server subscribe to a channel the visitor may not read', async () => {
    let allowed = 0;
    await fc.assert(
      fc.asyncProperty(header, world, async (value, w) => {
        const decision = await authorizer.authorize(requestFor(value, w));
        expect([200, 401, 403]).toContain(decision.allowed ? 200 : decision.status);
        if (!decision.allowed) return;
        allowed += 1;
        const ids = serverReads[server](value);
        for (const id of ids) expect([id, mayRead(id, w)]).toEqual([id, true]);
      }),
      { numRuns: 3000 },
    );
    // The generator must reach the allowed side too, or the property proves nothing.
    expect(allowed).toBeGreaterThan(30);
  });

  it('allows every list made only of channels the visitor may read (no over-refusal)', async () => {
    await fc.assert(
      fc.asyncProperty(world, fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), fc.uuid({ version: 4 }), async (w, picks, uuid) => {
        const readable = [
          'my-app__all__',
          `my-app__uuid__${uuid}`,
          ...(w.hasSession ? [`my-app__session__${token(OWN_SID)}`] : []),
          ...(w.loggedIn ? ['my-app__authorized__', 'my-app__user__u1', 'my-app__room__lobby'] : []),
        ];
        const list = picks.map((p) => readable[p % readable.length]);
        expect((await authorizer.authorize(requestFor(list.join('/'), w))).allowed).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
