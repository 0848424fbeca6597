import { Controller, Get, HttpCode, Injectable, Module, Req, Scope, UseGuards, type INestApplication } from '@nestjs/common';
import { Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { jest } from '@jest/globals';
import session from 'express-session';
import type { Request } from 'express';
import type { AddressInfo } from 'node:net';
import { PushStreamModule } from '../../../lib/push-stream.module.js';
import { PushStreamChannels } from '../../../lib/channels/push-stream-channels.js';
import {
  ChannelAuthGuard,
  ChannelRuleRegistry,
  PUSH_STREAM_CHANNEL_RULES,
  PushStreamAuthEndpoint,
  PushStreamChannelRule,
  type ChannelRule,
  type ChannelRuleContext,
} from '../../../lib/auth/index.js';
import { PushStreamConfigError } from '../../../lib/errors/push-stream.exception.js';
import { SessionTestController } from '../../support/session-test.controller.js';

const SECRET = 'unit-secret-0123456789';
const CHANNELS = 'x-push-stream-channels';

@Injectable()
class Rooms {
  readonly members = new Map<string, Set<string>>([['lobby', new Set(['1'])]]);
  async isMember(room: string, userId: string): Promise<boolean> {
    await new Promise((r) => setImmediate(r)); // a database would answer later
    return this.members.get(room)?.has(userId) ?? false;
  }
}

@PushStreamChannelRule()
class RoomRule implements ChannelRule<Request> {
  readonly kind = 'room';
  constructor(private readonly rooms: Rooms) {}
  canSubscribe({ user, channel }: ChannelRuleContext<Request>): Promise<boolean> | boolean {
    return user !== null && this.rooms.isMember(channel.value, String(user.id));
  }
}

/** The exported guard on the application's own route. */
@Controller('test')
class OwnRouteController {
  @Get('own-auth')
  @UseGuards(ChannelAuthGuard)
  ownAuth(@Req() req: Request): string {
    (req.session as unknown as Record<string, unknown>).touchedByOwnRoute = true;
    return 'ok';
  }

  /** The application's own auth_request endpoint, marked like the module's. */
  @Get('own-endpoint')
  @PushStreamAuthEndpoint()
  @UseGuards(ChannelAuthGuard)
  @HttpCode(204)
  ownEndpoint(@Req() req: Request): void {
    (req.session as unknown as Record<string, unknown>).touchedByOwnRoute = true;
  }
}

interface TestApp {
  app: INestApplication;
  base: string;
  store: session.MemoryStore;
}

async function startApp(extras: Parameters<typeof PushStreamModule.forRoot>[0] = { publisherUrl: 'http://127.0.0.1:1/pub', secret: SECRET }) {
  const moduleRef = await Test.createTestingModule({
    imports: [PushStreamModule.forRoot(extras)],
    controllers: [SessionTestController, OwnRouteController],
    providers: [Rooms, RoomRule],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  const store = new session.MemoryStore();
  app.use(session({ store, secret: 'cookie-secret', resave: false, saveUninitialized: false, rolling: false, cookie: { maxAge: 3_600_000 } }));
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return { app, base: `http://127.0.0.1:${port}`, store } satisfies TestApp;
}

async function newSession(t: TestApp, path: string): Promise<{ cookie: string; channel: string; sid: string }> {
  const res = await fetch(`${t.base}${path}`, { method: 'POST' });
  const setCookie = res.headers.get('set-cookie');
  if (!setCookie) throw new Error(`${path} set no cookie`);
  const cookie = setCookie.split(';')[0];
  const sid = decodeURIComponent(cookie.split('=')[1]).slice(2).split('.')[0];
  return { cookie, channel: ((await res.json()) as { session: string }).session, sid };
}

function auth(t: TestApp, channels: string | undefined, cookie?: string, path = '/push-stream/auth') {
  const headers: Record<string, string> = { 'x-original-uri': `/sub/${channels ?? ''}` };
  if (channels !== undefined) headers[CHANNELS] = channels;
  if (cookie) headers.cookie = cookie;
  return fetch(`${t.base}${path}`, { headers });
}

function storedExpiry(store: session.MemoryStore, sid: string): Promise<string | undefined> {
  return new Promise((resolve, reject) =>
    store.get(sid, (err, sess) => (err ? reject(err) : resolve(sess?.cookie.expires ? new Date(sess.cookie.expires).toISOString() : undefined))),
  );
}

describe('PushStreamAuthController (registered by PushStreamModule)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(async () => {
    await t.app.close();
  });

  it('answers 204 for allowed channels, with no body', async () => {
    const res = await auth(t, 'my-app__all__');
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
  });

  it('answers 401 for a session channel without a session and 403 for other refusals', async () => {
    const s = await newSession(t, '/test/anon');
    expect((await auth(t, s.channel)).status).toBe(401);
    expect((await auth(t, 'my-app__authorized__')).status).toBe(401);
    expect((await auth(t, 'my-app__authorized__', s.cookie)).status).toBe(403);
    expect((await auth(t, 'my-app__all__evil')).status).toBe(403);
  });

  it('answers 403, never 5xx, for malformed input', async () => {
    const bad = [undefined, '', '/', 'my-app__all__//', '%', '%E0%A4%A', 'ALL', '*', 'my-app__all__%252Fx', 'a'.repeat(8000)];
    for (const value of bad) expect([value, (await auth(t, value)).status]).toEqual([value, 403]);
    const many = Array.from({ length: 500 }, () => 'my-app__all__').join('/');
    expect((await auth(t, many)).status).toBe(403);
  });

  it('gives an anonymous session its channel, a logged-in user theirs, and nobody another’s', async () => {
    const anon = await newSession(t, '/test/anon');
    const alice = await newSession(t, '/test/login/1');
    expect((await auth(t, `my-app__all__/${anon.channel}`, anon.cookie)).status).toBe(204);
    expect((await auth(t, `my-app__authorized__/my-app__user__1/${alice.channel}`, alice.cookie)).status).toBe(204);
    expect((await auth(t, alice.channel, anon.cookie)).status).toBe(403);
    expect((await auth(t, anon.channel, alice.cookie)).status).toBe(403);
    expect((await auth(t, 'my-app__user__2', alice.cookie)).status).toBe(403);
  });

  it('runs a @PushStreamChannelRule() provider with its injected dependencies', async () => {
    const alice = await newSession(t, '/test/login/1');
    const bob = await newSession(t, '/test/login/2');
    expect((await auth(t, 'my-app__room__lobby', alice.cookie)).status).toBe(204);
    expect((await auth(t, 'my-app__room__lobby', bob.cookie)).status).toBe(403);
    expect((await auth(t, 'my-app__room__lobby')).status).toBe(403);
  });

  it('does not create, save, touch or extend the session', async () => {
    const alice = await newSession(t, '/test/login/1');
    const before = await storedExpiry(t.store, alice.sid);
    const sessionsBefore = Object.keys((t.store as unknown as { sessions: object }).sessions).length;
    await new Promise((r) => setTimeout(r, 20)); // a touch would move the expiry forward by at least this
    for (const channels of ['my-app__authorized__', 'my-app__user__2', '%']) {
      const res = await auth(t, channels, alice.cookie);
      expect(res.headers.get('set-cookie')).toBeNull();
    }
    // Anonymous subrequests without a cookie create no session either.
    for (let i = 0; i < 3; i++) expect((await auth(t, 'my-app__all__')).headers.get('set-cookie')).toBeNull();
    expect(await storedExpiry(t.store, alice.sid)).toBe(before);
    expect(Object.keys((t.store as unknown as { sessions: object }).sessions)).toHaveLength(sessionsBefore);
  });

  it('lets applications put ChannelAuthGuard on their own routes, where the session works as usual', async () => {
    const alice = await newSession(t, '/test/login/1');
    expect((await auth(t, 'my-app__authorized__', alice.cookie, '/test/own-auth')).status).toBe(200);
    // Only the module's own endpoint detaches the session; here the handler's change is saved.
    const saved = await new Promise((resolve) => t.store.get(alice.sid, (_e, sess) => resolve(sess)));
    expect(saved).toMatchObject({ touchedByOwnRoute: true });
    expect((await auth(t, 'my-app__user__2', alice.cookie, '/test/own-auth')).status).toBe(403);
    expect((await auth(t, 'my-app__authorized__', undefined, '/test/own-auth')).status).toBe(401);
  });

  it('leaves the session alone on an own route marked @PushStreamAuthEndpoint()', async () => {
    const alice = await newSession(t, '/test/login/1');
    const before = await storedExpiry(t.store, alice.sid);
    await new Promise((r) => setTimeout(r, 20));
    const res = await auth(t, 'my-app__authorized__', alice.cookie, '/test/own-endpoint');
    expect(res.status).toBe(204);
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(await storedExpiry(t.store, alice.sid)).toBe(before);
    const saved = await new Promise((resolve) => t.store.get(alice.sid, (_e, sess) => resolve(sess)));
    expect(saved).not.toHaveProperty('touchedByOwnRoute');
    expect((await auth(t, 'my-app__user__2', alice.cookie, '/test/own-endpoint')).status).toBe(403);
  });

  it('keeps other routes unaffected', async () => {
    expect((await fetch(`${t.base}/push-stream/nope`)).status).toBe(404);
  });
});

describe('PushStreamModule auth options', () => {
  afterEach(() => jest.restoreAllMocks());

  it('serves the endpoint at a configured route, and none with authRoute: false', async () => {
    const custom = await startApp({ publisherUrl: 'http://127.0.0.1:1/pub', secret: SECRET, authRoute: '/internal/nginx-auth' });
    try {
      expect((await auth(custom, 'my-app__all__', undefined, '/internal/nginx-auth')).status).toBe(204);
      expect((await auth(custom, 'my-app__all__')).status).toBe(404);
    } finally {
      await custom.app.close();
    }
    const none = await startApp({ publisherUrl: 'http://127.0.0.1:1/pub', secret: SECRET, authRoute: false });
    try {
      expect((await auth(none, 'my-app__all__')).status).toBe(404);
      // The guard is still there for the application's own route.
      expect((await auth(none, 'my-app__all__', undefined, '/test/own-auth')).status).toBe(200);
    } finally {
      await none.app.close();
    }
  });

  it('takes inline rules from options, with the rest of the request context', async () => {
    const seen: ChannelRuleContext[] = [];
    const tenant: ChannelRule = {
      kind: 'tenant',
      canSubscribe: async (c) => {
        seen.push(c);
        return (c.request as Request).headers['x-tenant'] === c.channel.value;
      },
    };
    const t = await startApp({ publisherUrl: 'http://127.0.0.1:1/pub', secret: SECRET, auth: { rules: [tenant] } });
    try {
      const res = await fetch(`${t.base}/push-stream/auth`, { headers: { [CHANNELS]: 'my-app__tenant__acme', 'x-tenant': 'acme' } });
      expect(res.status).toBe(204);
      expect((await auth(t, 'my-app__tenant__acme')).status).toBe(403);
      expect(seen[0].channel).toEqual({ name: 'my-app__tenant__acme', kind: 'tenant', value: 'acme' });
    } finally {
      await t.app.close();
    }
  });

  it('answers 403 and logs a warning when a rule throws', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const broken: ChannelRule = { kind: 'broken', canSubscribe: () => { throw new TypeError('cannot read id'); } };
    const t = await startApp({ publisherUrl: 'http://127.0.0.1:1/pub', secret: SECRET, auth: { rules: [broken] } });
    try {
      expect((await auth(t, 'my-app__broken__1')).status).toBe(403);
      expect(warn).toHaveBeenCalledWith(expect.stringContaining('cannot read id'));
    } finally {
      await t.app.close();
    }
  });

  it('lets tests override PUSH_STREAM_CHANNEL_RULES', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [PushStreamModule.forRoot({ publisherUrl: 'http://127.0.0.1:1/pub', secret: SECRET })],
    })
      .overrideProvider(PUSH_STREAM_CHANNEL_RULES)
      .useValue([{ kind: 'all', canSubscribe: () => false }])
      .compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    try {
      const { port } = app.getHttpServer().address() as AddressInfo;
      const base = `http://127.0.0.1:${port}`;
      expect((await fetch(`${base}/push-stream/auth`, { headers: { [CHANNELS]: 'my-app__all__' } })).status).toBe(403);
      expect(app.get(ChannelRuleRegistry).kinds()).toEqual(['all']);
    } finally {
      await app.close();
    }
  });

  it('refuses to start with two rules for one kind, or a request-scoped rule', async () => {
    const dup: ChannelRule = { kind: 'user', canSubscribe: () => true };
    await expect(
      Test.createTestingModule({
        imports: [PushStreamModule.forRoot({ publisherUrl: 'http://127.0.0.1:1/pub', secret: SECRET, auth: { rules: [dup] } })],
      }).compile(),
    ).rejects.toThrow(PushStreamConfigError);

    @PushStreamChannelRule()
    class PerRequestRule implements ChannelRule {
      readonly kind = 'per-request';
      canSubscribe(): boolean {
        return true;
      }
    }
    @Module({ providers: [{ provide: PerRequestRule, useClass: PerRequestRule, scope: Scope.REQUEST }] })
    class RulesModule {}
    const moduleRef = await Test.createTestingModule({
      imports: [PushStreamModule.forRoot({ publisherUrl: 'http://127.0.0.1:1/pub', secret: SECRET }), RulesModule],
    }).compile();
    await expect(moduleRef.createNestApplication({ logger: false }).init()).rejects.toThrow(/singletons/);
  });

  it('refuses a malformed authRoute at definition time', () => {
    expect(() => PushStreamModule.forRoot({ publisherUrl: 'http://127.0.0.1:1/pub', secret: SECRET, authRoute: '/' })).toThrow(
      PushStreamConfigError,
    );
  });
});
