// The built CLI (dist/cli/main.js, the package's bin) run as a child process against a real nginx,
// once per server (Nchan and the Push Stream Module). What the two answer differently is in
// SERVER_CASES below. Command-line and configuration errors never reach nginx: they run once.
import { join } from 'node:path';
import type { PushStreamServerKind } from '../../lib/index.js';
import { NginxTestServer } from '../../lib/testing/index.js';
import { AuthStubServer } from '../support/auth-stub-server.js';
import { ensureBuilt, REPO_ROOT, runNode } from '../support/build.js';
import { E2E_SECRET, jsonMessages, longPoll } from '../support/e2e-helpers.js';
import { SERVERS } from '../support/servers.js';
import { openEventSource, openWebSocket } from '../support/subscribers.js';

const CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js');
const PREFIX = 'cli';

/** Everything the two servers answer differently (see test/e2e/publish.e2e.spec.ts for more). */
interface ServerCase {
  /** A message as a subscriber of `channel` gets it (and a long poll): parsed JSON. `id`: its number in the channel. */
  message(channel: string, text: unknown, sent: { id: number; eventId?: string; eventType?: string; to?: readonly string[] }): Record<string, unknown>;
  /** The printed result's publishedMessages for a channel with `n` publishes. */
  publishedMessages(n: number): number | null;
  /** The printed result's lastMessageId. */
  lastMessageId: unknown;
  /** Per-channel counters of a multi-channel publish. */
  manyInfos(infos: Record<string, unknown>[]): Record<string, unknown>[];
  /** Subscriber path of `channel` asking for its stored messages. */
  withHistory(channel: string): string;
  /** The EventSource `id:` line of a message. */
  eventSourceId(printed: { lastMessageId?: string }, eventId: string): string | undefined;
  /** Messages published so far, from the statistics location's body: proves a refused command sent nothing. */
  publishedCount(statsBody: string): number;
}

const SERVER_CASES: Record<PushStreamServerKind, ServerCase> = {
  nchan: {
    message: (channel, text, { eventId = '', eventType = '', to = [channel] }) => ({ channel: to.join('/'), text, eventid: eventId, type: eventType }),
    publishedMessages: () => null,
    lastMessageId: expect.stringMatching(/^\d+:\d+$/),
    manyInfos: () => [],
    withHistory: (channel) => channel,
    eventSourceId: (printed) => printed.lastMessageId,
    publishedCount: (body) => {
      const m = /^total published messages: (\d+)$/m.exec(body);
      if (!m) throw new Error('no "total published messages" in nchan_stub_status');
      return Number(m[1]);
    },
  },
  'push-stream': {
    message: (channel, text, { id, eventId = '', eventType = '' }) => ({
      id,
      channel,
      text,
      eventid: eventId,
      type: eventType,
      time: expect.stringMatching(/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/),
      tag: expect.any(Number),
    }),
    publishedMessages: (n) => n,
    lastMessageId: undefined,
    manyInfos: (infos) => infos,
    withHistory: (channel) => `${channel}.b20`,
    eventSourceId: (_printed, eventId) => eventId,
    publishedCount: (body) => {
      const n = (JSON.parse(body) as { published_messages?: unknown }).published_messages;
      if (typeof n !== 'number') throw new Error('no "published_messages" in the channels statistics');
      return n;
    },
  },
};

beforeAll(async () => {
  await ensureBuilt();
}, 180_000);

/** The parent's environment without any NGINX_PUSH_STREAM_* of its own, plus `vars`. */
function envWith(vars: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('NGINX_PUSH_STREAM_')) env[k] = v;
  return { ...env, ...vars };
}

function cli(args: string[], env: NodeJS.ProcessEnv, input?: string) {
  return runNode([CLI, ...args], { env, input });
}

describe.each(SERVERS)('nestjs-push-stream CLI (child process) on %s', (server) => {
  const S = SERVER_CASES[server];
  let nginx: NginxTestServer;
  let app: AuthStubServer;

  beforeAll(async () => {
    app = await AuthStubServer.start();
    nginx = await NginxTestServer.start({ server, appUpstream: app.upstream });
  });

  afterAll(async () => {
    await nginx?.dispose();
    await app?.close();
  });

  function testEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return envWith({
      NGINX_PUSH_STREAM_SERVER: server,
      NGINX_PUSH_STREAM_PUB_URL: nginx.publisherUrl,
      NGINX_PUSH_STREAM_STATS_URL: nginx.statsUrl,
      NGINX_PUSH_STREAM_PUB_PREFIX: PREFIX,
      NGINX_PUSH_STREAM_SECRET: E2E_SECRET,
      NGINX_PUSH_STREAM_RETRY_ATTEMPTS: '2',
      ...extra,
    });
  }

  async function publishedCount(): Promise<number> {
    const res = await fetch(nginx.statsUrl);
    return S.publishedCount(await res.text());
  }

  /** The messages stored on `channel`, oldest first (Nchan answers only the oldest). */
  async function stored(channel: string): Promise<unknown[]> {
    const answer = await longPoll(`${nginx.baseUrl}/lp/${S.withHistory(channel)}`);
    expect(answer.status).toBe(200);
    return jsonMessages(answer.body);
  }

  it('publish -q __all__ -d \'{"message": ["Foobar"]}\' reaches a subscriber and prints the result', async () => {
    const channel = `${PREFIX}__all__`;
    const sub = await openWebSocket(`${nginx.baseUrl.replace(/^http/, 'ws')}/ws/${channel}`);
    try {
      const { code, stdout, stderr } = await cli(['publish', '-q', '__all__', '-d', '{"message": ["Foobar"]}'], testEnv());

      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
      expect(JSON.parse(stdout)).toEqual({
        channel,
        subscribers: 1,
        storedMessages: 1,
        publishedMessages: S.publishedMessages(1),
        lastMessageId: S.lastMessageId,
      });
      expect(JSON.parse(await sub.next())).toEqual(S.message(channel, { message: ['Foobar'] }, { id: 1 }));
    } finally {
      await sub.close();
    }
  });

  it('sends --event-id and --event-type (EventSource id: and event: lines, the message\'s eventid and type)', async () => {
    const channel = `${PREFIX}__room__events`;
    const sub = await openEventSource(`${nginx.baseUrl}/ev/${channel}`);
    try {
      const { code, stdout, stderr } = await cli(
        ['publish', '-q', '__room__events', '-d', '{"n": 1}', '--event-id', 'evt-1', '--event-type', 'chat'],
        testEnv(),
      );
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });

      const frame = await sub.next();
      expect(frame.event).toBe('chat');
      expect(frame.id).toBe(S.eventSourceId(JSON.parse(stdout) as { lastMessageId?: string }, 'evt-1'));
      expect(JSON.parse(frame.data)).toEqual(S.message(channel, { n: 1 }, { id: 1, eventId: 'evt-1', eventType: 'chat' }));
    } finally {
      await sub.close();
    }
  });

  it('--raw sends -d as a string; several -q publish one message to each channel', async () => {
    const channels = [`${PREFIX}__raw__1`, `${PREFIX}__raw__2`];
    const { code, stdout, stderr } = await cli(['publish', '-q', '__raw__1', '-q', '__raw__2', '-d', 'not json', '--raw'], testEnv());

    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(stdout)).toEqual({
      channels,
      subscribers: 0,
      infos: S.manyInfos(channels.map((channel) => ({ channel, subscribers: 0, storedMessages: 1, publishedMessages: 1 }))),
    });
    for (const channel of channels) {
      expect(await stored(channel)).toEqual([S.message(channel, 'not json', { id: 1, to: channels })]);
    }
  });

  it('-d - reads the message from standard input', async () => {
    const { code, stderr } = await cli(['publish', '-q', '__stdin__1', '-d', '-'], testEnv(), '{"from": "stdin"}');

    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(await stored(`${PREFIX}__stdin__1`)).toEqual([S.message(`${PREFIX}__stdin__1`, { from: 'stdin' }, { id: 1 })]);
  });

  it('invalid JSON in -d: exit 2, names the problem, publishes nothing', async () => {
    const before = await publishedCount();
    const { code, stdout, stderr } = await cli(['publish', '-q', '__all__', '-d', '{"message": [Foobar]}'], testEnv());

    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/-d\/--data is not valid JSON \(.+\); pass --raw/);
    expect(await publishedCount()).toBe(before);
  });

  it('needs no secret to publish (it derives no session token)', async () => {
    const env = testEnv();
    delete env.NGINX_PUSH_STREAM_SECRET;
    const before = await publishedCount();

    const { code, stderr } = await cli(['publish', '-q', '__all__', '-d', '{}'], env);

    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(await publishedCount()).toBe(before + 1);
  });

  it('a refused channel suffix: exit 1 with InvalidChannelNameError, nothing published', async () => {
    const before = await publishedCount();
    const { code, stderr } = await cli(['publish', '-q', '__all__/cli__admin__', '-d', '{}'], testEnv());

    expect(code).toBe(1);
    expect(stderr).toContain('InvalidChannelNameError');
    expect(stderr).toContain('retryable: false');
    expect(await publishedCount()).toBe(before);
  });

  it('nginx down: exit 1 with a retryable PushStreamConnectionError', async () => {
    await nginx.stop();
    try {
      const { code, stdout, stderr } = await cli(['publish', '-q', '__all__', '-d', '{"message": ["Foobar"]}'], testEnv());

      expect(code).toBe(1);
      expect(stdout).toBe('');
      expect(stderr).toContain(`PushStreamConnectionError: Cannot reach nginx at ${nginx.publisherUrl}`);
      expect(stderr).toContain('retryable: true');
    } finally {
      await nginx.start();
    }
  });
});

describe('nestjs-push-stream CLI (child process): errors found before anything is sent', () => {
  /** A complete configuration whose publisher nobody listens on: these commands must fail before publishing. */
  function configEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return envWith({
      NGINX_PUSH_STREAM_SERVER: SERVERS[0],
      NGINX_PUSH_STREAM_PUB_URL: 'http://127.0.0.1:1/pub',
      NGINX_PUSH_STREAM_PUB_PREFIX: PREFIX,
      NGINX_PUSH_STREAM_SECRET: E2E_SECRET,
      NGINX_PUSH_STREAM_RETRY_ATTEMPTS: '2',
      ...extra,
    });
  }

  it.each([
    [['publish', '-d', '{}'], /missing -q\/--channel/],
    [['publish', '-q', '__all__'], /missing -d\/--data/],
    [['send', '-q', '__all__', '-d', '{}'], /unknown command "send"/],
    [['publish', '-q', '__all__', '-d', '{}', '--nope'], /Unknown option '--nope'/],
    [[], /missing command/],
  ])('usage error %j: exit 2 with a message', async (args, message) => {
    const { code, stderr } = await cli(args, configEnv());
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr).toContain('--help');
  });

  it('--help prints the usage and exits 0', async () => {
    const { code, stdout } = await cli(['--help'], configEnv());
    expect(code).toBe(0);
    expect(stdout).toContain('nestjs-push-stream publish -q <channel suffix> -d <json>');
    expect(stdout).toContain('--event-id');
  });

  it('refuses a weak secret', async () => {
    const { code, stderr } = await cli(['publish', '-q', '__all__', '-d', '{}'], configEnv({ NGINX_PUSH_STREAM_SECRET: 'short' }));
    expect(code).toBe(1);
    expect(stderr).toContain('PushStreamConfigError: Invalid PushStreamModule option "secret"');
    expect(stderr).toContain('NGINX_PUSH_STREAM_SECRET');
  });

  it('a bad variable: exit 1 naming it', async () => {
    const { code, stderr } = await cli(['publish', '-q', '__all__', '-d', '{}'], configEnv({ NGINX_PUSH_STREAM_RETRY_ATTEMPTS: 'many' }));
    expect(code).toBe(1);
    expect(stderr).toContain('NGINX_PUSH_STREAM_RETRY_ATTEMPTS');
  });
});
