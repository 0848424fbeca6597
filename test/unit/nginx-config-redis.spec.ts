// The `redis` value of the renderer (nginx-config --redis, NginxTestServer's `redis`), as text with
// no nginx: several Nchan nodes sharing one Redis. test/e2e/redis-nodes.e2e.spec.ts runs it.
import { createDialect } from '../../lib/dialects/create-dialect.js';
import {
  NCHAN_REDIS_UPSTREAM,
  NginxConfigValueError,
  renderServerConfig,
  validateNginxConfigValues,
  type NginxConfigValues,
} from '../../lib/nginx-config/nginx-config.js';
import type { PushStreamServerKind } from '../../lib/options/push-stream-options.interface.js';
import { deriveTicketKey } from '../../lib/tickets/subscription-ticket.js';

const REDIS = 'redis://:Sup3r-secret@10.0.0.5:6379/2';

const valuesFor = (server: PushStreamServerKind, extra: Partial<NginxConfigValues> = {}): NginxConfigValues => ({
  server,
  listen: '127.0.0.1:9080',
  pubListen: '127.0.0.1:9081',
  pubAllow: '10.0.0.0/8',
  app: '127.0.0.1:3000',
  ...extra,
});

/** The body of `location <pattern> { ... }` (no nested braces except one-line `if` blocks). */
function location(conf: string, pattern: string): string {
  const start = conf.indexOf(`location ${pattern} {`);
  if (start < 0) throw new Error(`no location ${pattern}`);
  let depth = 0;
  for (let i = conf.indexOf('{', start); i < conf.length; i++) {
    if (conf[i] === '{') depth++;
    if (conf[i] === '}' && --depth === 0) return conf.slice(start, i + 1);
  }
  throw new Error(`unterminated location ${pattern}`);
}

const PASS = `nchan_redis_pass ${NCHAN_REDIS_UPSTREAM};`;

describe('nginx/nchan.conf.template with redis', () => {
  let plain: string;
  let shared: string;
  beforeAll(async () => {
    plain = await renderServerConfig(valuesFor('nchan'));
    shared = await renderServerConfig(valuesFor('nchan', { redis: REDIS }));
  });

  it('differs from one node only by the Redis upstream and the line passing it: nothing else moves', () => {
    const upstream = /\n\n(?:#[^\n]*\n)+upstream push_stream_redis \{\n {2}nchan_redis_server [^\n]+;\n\}/.exec(shared);
    expect(upstream).not.toBeNull();
    expect(upstream![0]).toContain(`  nchan_redis_server ${REDIS};\n`);
    expect(shared.replace(upstream![0], '').replaceAll(`\n    ${PASS}`, '')).toBe(plain);
    expect(plain).not.toMatch(/redis/i);
  });

  it.each(['~ ^/sub/(.*)$', '~ ^/ws/(.*)$', '~ ^/ev/(.*)$', '~ ^/lp/(.*)$', '= /pub'])('passes Redis in the channel location %s', (pattern) => {
    expect(location(shared, pattern).split(PASS)).toHaveLength(2);
  });

  it('and nowhere else: statistics (nchan_stub_status is per node), the app, the auth request', () => {
    expect(shared.split(PASS)).toHaveLength(6);
    for (const pattern of ['= /nchan-stats', '/', '= /_push_stream_auth']) expect(location(shared, pattern)).not.toContain('redis');
  });

  it('composes with ticket mode', async () => {
    const ticket = await renderServerConfig(valuesFor('nchan', { redis: REDIS, auth: { mode: 'ticket', ticketKey: deriveTicketKey('unit-test-secret-0123456789') } }));
    expect(ticket.split(PASS)).toHaveLength(6);
    expect(ticket).toContain('js_set $push_stream_ticket_ok');
  });
});

describe('redis for the Push Stream Module', () => {
  it('has no shared store, as its dialect says (and Nchan\'s says it has)', () => {
    expect([createDialect('nchan').sharesChannelsThroughRedis, createDialect('push-stream').sharesChannelsThroughRedis]).toEqual([true, false]);
  });

  it.each<[string, () => Promise<unknown>]>([
    ['validation', async () => validateNginxConfigValues(valuesFor('push-stream', { redis: REDIS }))],
    // NginxTestServer renders without validating: the renderer refuses too.
    ['rendering', () => renderServerConfig(valuesFor('push-stream', { redis: REDIS }))],
  ])('is refused by %s, saying to list every node in publisherUrl, without the password', async (_what, attempt) => {
    const err = await attempt()
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(NginxConfigValueError);
    expect((err as NginxConfigValueError).field).toBe('redis');
    expect((err as Error).message).toMatch(/^redis: the Push Stream Module has no cluster support .*publisherUrl/);
    expect((err as Error).message).not.toContain('Sup3r');
  });
});

describe('redis URL checks', () => {
  it.each([
    'redis://127.0.0.1:6379',
    'redis://localhost',
    'redis://redis:6379/0',
    'redis://:pw@redis.internal:6380',
    'redis://app-user:p%40ss.w0rd~!&*+,=:-@10.0.0.5:6379/15',
  ])('accepts %s, written as is', async (redis) => {
    expect(() => validateNginxConfigValues(valuesFor('nchan', { redis }))).not.toThrow();
    expect(await renderServerConfig(valuesFor('nchan', { redis }))).toContain(`  nchan_redis_server ${redis};\n`);
  });

  it.each([
    ['', 'is not redis://'],
    ['redis://', '"" is not an IP address or host name'],
    ['http://:Sup3r-secret@redis:6379', '"http://***@redis:6379": the scheme must be redis://'],
    ['redis://:Sup3r-secret@redis:0', '"0" is not a port'],
    ['redis://:Sup3r-secret@redis:6379/0?x=1', 'the database after the host is a number'],
    ['redis://us er:Sup3r-secret@redis', 'the user name may hold only'],
    ['redis://:Sup3r"secret@redis', 'the password holds a character'],
    ['redis://:Sup3r$secret@redis', 'the password holds a character'],
    ['redis://:Sup3r}secret@redis', 'the password holds a character'],
    ['redis://:Sup3r\nsecret@redis', '"redis://***@redis" is not redis://'],
  ])('refuses %j: %s', (redis, message) => {
    let err: unknown;
    try {
      validateNginxConfigValues(valuesFor('nchan', { redis }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NginxConfigValueError);
    expect((err as Error).message).toContain(message);
    expect((err as Error).message).not.toContain('Sup3r');
  });
});
