// ExpressSessionReader against express-session's own pieces as the oracle: cookies signed by
// cookie-signature (what express-session uses), parsed as the `cookie` package parses them, and
// sessions stored in express-session's MemoryStore.
import { jest } from '@jest/globals';
import { serialize } from 'cookie';
import { sign } from 'cookie-signature';
import session from 'express-session';
import { ExpressSessionReader, type SessionStoreLike } from '../../../lib/auth-listener/express-session-reader.js';
import { PushStreamConfigError } from '../../../lib/errors/push-stream.exception.js';

const SECRET = 'express-session-secret';

function storeWith(sessions: Record<string, object>): session.MemoryStore {
  const store = new session.MemoryStore();
  for (const [id, data] of Object.entries(sessions)) {
    store.set(id, { cookie: { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000) }, ...data } as unknown as session.SessionData);
  }
  return store;
}

/** The Cookie header a browser sends back for express-session's Set-Cookie. */
function cookieFor(id: string, secret = SECRET, name = 'connect.sid'): string {
  return serialize(name, `s:${sign(id, secret)}`);
}

describe('ExpressSessionReader', () => {
  const store = storeWith({ 'sid-1': { user: { id: 7 } }, 'sid-2': {} });

  it('reads the session a signed cookie names, with the store’s data', async () => {
    const reader = new ExpressSessionReader({ store, secret: SECRET });
    const read = await reader.read({ cookie: `a=1; ${cookieFor('sid-1')}; b=2` });
    expect(read).toMatchObject({ id: 'sid-1', data: { user: { id: 7 } } });
  });

  it('takes the cookie percent-encoded, as express-session sets it, and also as a plain value', async () => {
    const reader = new ExpressSessionReader({ store, secret: SECRET });
    expect(cookieFor('sid-2')).toContain('s%3A');
    expect(await reader.read({ cookie: cookieFor('sid-2') })).toMatchObject({ id: 'sid-2' });
    expect(await reader.read({ cookie: `connect.sid=s:${sign('sid-2', SECRET)}` })).toMatchObject({ id: 'sid-2' });
  });

  it('accepts every secret of a rotation, and its own cookie name', async () => {
    const reader = new ExpressSessionReader({ store, secret: ['new-secret', SECRET], name: 'app.sid' });
    expect(await reader.read({ cookie: cookieFor('sid-1', SECRET, 'app.sid') })).toMatchObject({ id: 'sid-1' });
    expect(await reader.read({ cookie: cookieFor('sid-1', 'new-secret', 'app.sid') })).toMatchObject({ id: 'sid-1' });
    expect(await reader.read({ cookie: cookieFor('sid-1', SECRET) })).toBeNull();
  });

  it('reads the first cookie of the name, as the cookie package parses a header', async () => {
    const { parse } = await import('cookie');
    const header = `${cookieFor('sid-1')}; ${cookieFor('sid-2')}`;
    expect(parse(header)['connect.sid']).toBe(`s:${sign('sid-1', SECRET)}`);
    expect(await new ExpressSessionReader({ store, secret: SECRET }).read({ cookie: header })).toMatchObject({ id: 'sid-1' });
  });

  it.each([
    ['no Cookie header', undefined],
    ['no session cookie', 'other=s%3Asid-1'],
    ['an unsigned id', 'connect.sid=sid-1'],
    ['a "s:" id without a signature', 'connect.sid=s%3Asid-1'],
    ['a signature under another secret', cookieFor('sid-1', 'another-secret')],
    ['a signature of another id', `connect.sid=s%3Asid-1.${sign('sid-2', SECRET).split('.')[1]}`],
    ['a signature cut short', cookieFor('sid-1').slice(0, -3)],
    ['a signature with a character appended', `${cookieFor('sid-1')}x`],
    ['a validly signed id the store does not hold', cookieFor('sid-unknown')],
    ['a malformed percent-encoding', 'connect.sid=s%3Asid-1%zz'],
  ])('answers null for %s', async (_what, cookie) => {
    const reader = new ExpressSessionReader({ store, secret: SECRET });
    expect(await reader.read(cookie === undefined ? {} : { cookie })).toBeNull();
  });

  it('answers null for a session whose cookie expired, even from a store that still holds it', async () => {
    const stale: SessionStoreLike = { get: (_sid, cb) => cb(null, { cookie: { expires: new Date(Date.now() - 1000).toISOString() }, user: { id: 1 } }) };
    const fresh: SessionStoreLike = { get: (_sid, cb) => cb(null, { cookie: { expires: new Date(Date.now() + 60_000).toISOString() } }) };
    expect(await new ExpressSessionReader({ store: stale, secret: SECRET }).read({ cookie: cookieFor('x') })).toBeNull();
    expect(await new ExpressSessionReader({ store: fresh, secret: SECRET }).read({ cookie: cookieFor('x') })).toMatchObject({ id: 'x' });
  });

  it('rejects with the store’s error, and never asks the store about a cookie it refused', async () => {
    const asked: string[] = [];
    const failing: SessionStoreLike = {
      get: (sid, cb) => {
        asked.push(sid);
        cb(new Error('redis down'));
      },
    };
    const reader = new ExpressSessionReader({ store: failing, secret: SECRET });
    await expect(reader.read({ cookie: cookieFor('sid-1') })).rejects.toThrow('redis down');
    expect(await reader.read({ cookie: cookieFor('sid-1', 'another-secret') })).toBeNull();
    expect(asked).toEqual(['sid-1']);
  });

  describe('reads in flight', () => {
    /** A store whose reads answer only when told to, counting what it was asked. */
    function heldStore() {
      const pending: { sid: string; answer: (err: unknown, data?: object | null) => void }[] = [];
      const store: SessionStoreLike = { get: (sid, cb) => void pending.push({ sid, answer: cb }) };
      const answerAll = (err: unknown, data?: object | null) => pending.splice(0).forEach((p) => p.answer(err, data));
      return { store, pending, answerAll };
    }

    /** The reader's clock (performance.now), pinned: sharing must not depend on how fast the machine is. */
    let clock: { mockReturnValue(value: number): unknown };
    beforeEach(() => {
      clock = jest.spyOn(performance, 'now').mockReturnValue(1_000_000);
    });
    afterEach(() => jest.restoreAllMocks());

    it('shares one store read among the concurrent requests of a session, and keeps nothing once it answered', async () => {
      const { store, pending, answerAll } = heldStore();
      const reader = new ExpressSessionReader({ store, secret: SECRET });
      const first = [reader.read({ cookie: cookieFor('sid-1') }), reader.read({ cookie: cookieFor('sid-1') }), reader.read({ cookie: cookieFor('sid-2') })];
      expect(pending.map((p) => p.sid)).toEqual(['sid-1', 'sid-2']);
      answerAll(null, { user: { id: 7 } });
      expect(await Promise.all(first)).toEqual([
        { id: 'sid-1', data: { user: { id: 7 } } },
        { id: 'sid-1', data: { user: { id: 7 } } },
        { id: 'sid-2', data: { user: { id: 7 } } },
      ]);
      // Answered, at the same instant: the next request asks the store again (a logout is seen at once).
      const after = reader.read({ cookie: cookieFor('sid-1') });
      expect(pending.map((p) => p.sid)).toEqual(['sid-1']);
      answerAll(null, null);
      expect(await after).toBeNull();
    });

    it('shares a failed read’s error with its joiners, and asks again afterwards', async () => {
      const { store, pending, answerAll } = heldStore();
      const reader = new ExpressSessionReader({ store, secret: SECRET });
      const joined = [reader.read({ cookie: cookieFor('sid-1') }), reader.read({ cookie: cookieFor('sid-1') })];
      answerAll(new Error('redis down'));
      const settled = await Promise.allSettled(joined);
      expect(settled.map((r) => (r.status === 'rejected' ? String(r.reason) : r.status))).toEqual(['Error: redis down', 'Error: redis down']);
      const again = reader.read({ cookie: cookieFor('sid-1') });
      expect(pending).toHaveLength(1);
      answerAll(null, { user: { id: 7 } });
      expect(await again).toMatchObject({ id: 'sid-1' });
    });

    it('does not join a read that has not answered within 100 ms: a store that never answers holds only the requests that joined it', async () => {
      const { store, pending } = heldStore();
      const reader = new ExpressSessionReader({ store, secret: SECRET });
      void reader.read({ cookie: cookieFor('sid-1') });
      clock.mockReturnValue(1_000_099);
      void reader.read({ cookie: cookieFor('sid-1') });
      expect(pending).toHaveLength(1);
      clock.mockReturnValue(1_000_100);
      const fresh = reader.read({ cookie: cookieFor('sid-1') });
      expect(pending).toHaveLength(2);
      // The stuck read answering late leaves the newer one in place: a request now joins the newer one.
      pending[0].answer(null, { user: { id: 1 } });
      await new Promise((resolve) => setImmediate(resolve));
      clock.mockReturnValue(1_000_150);
      const joinedNewer = reader.read({ cookie: cookieFor('sid-1') });
      expect(pending).toHaveLength(2);
      pending[1].answer(null, { user: { id: 8 } });
      expect(await fresh).toEqual({ id: 'sid-1', data: { user: { id: 8 } } });
      expect(await joinedNewer).toEqual({ id: 'sid-1', data: { user: { id: 8 } } });
    });

    it('keeps no entry per session for reads that never answer: past 1,024 in flight the stuck ones are dropped', async () => {
      const { store, pending } = heldStore();
      const reader = new ExpressSessionReader({ store, secret: SECRET });
      const inFlight = () => (reader as unknown as { reading: Map<string, unknown> }).reading.size;
      for (let i = 0; i < 1024; i++) void reader.read({ cookie: cookieFor(`stuck-${i}`) });
      expect(inFlight()).toBe(1024);
      // Still recent: kept (they may yet be joined).
      void reader.read({ cookie: cookieFor('another') });
      expect(inFlight()).toBe(1025);
      clock.mockReturnValue(1_000_100);
      void reader.read({ cookie: cookieFor('one-more') });
      expect(inFlight()).toBe(1);
      expect(pending).toHaveLength(1026);
    });
  });

  it.each([
    ['no store', { secret: SECRET }, 'session.store'],
    ['an empty secret', { store, secret: '' }, 'session.secret'],
    ['no secrets', { store, secret: [] }, 'session.secret'],
    ['a cookie name with a space', { store, secret: SECRET, name: 'a b' }, 'session.name'],
  ])('refuses %s with PushStreamConfigError naming the field', (_what, options, field) => {
    expect(() => new ExpressSessionReader(options as never)).toThrow(PushStreamConfigError);
    expect(() => new ExpressSessionReader(options as never)).toThrow(field);
  });
});
