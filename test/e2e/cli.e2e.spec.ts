// The built CLI (dist/cli/main.js, the package's bin) run as a child process against a real nginx with Nchan.
import { join } from 'node:path';
import { NginxTestServer } from '../../lib/testing/index.js';
import { AuthStubServer } from '../support/auth-stub-server.js';
import { ensureBuilt, REPO_ROOT, runNode } from '../support/build.js';
import { E2E_SECRET, longPollOldest } from '../support/e2e-helpers.js';
import { openEventSource, openWebSocket } from '../support/subscribers.js';

const CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js');
const PREFIX = 'cli';

let nginx: NginxTestServer;
let app: AuthStubServer;

beforeAll(async () => {
  await ensureBuilt();
  app = await AuthStubServer.start();
  nginx = await NginxTestServer.start({ server: 'nchan', appUpstream: app.upstream });
}, 180_000);

afterAll(async () => {
  await nginx?.dispose();
  await app?.close();
});

/** The parent's environment without any NGINX_PUSH_STREAM_* of its own, plus `vars`. */
function envWith(vars: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('NGINX_PUSH_STREAM_')) env[k] = v;
  return { ...env, ...vars };
}

function testEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return envWith({
    NGINX_PUSH_STREAM_SERVER: 'nchan',
    NGINX_PUSH_STREAM_PUB_URL: nginx.publisherUrl,
    NGINX_PUSH_STREAM_STATS_URL: nginx.statsUrl,
    NGINX_PUSH_STREAM_PUB_PREFIX: PREFIX,
    NGINX_PUSH_STREAM_SECRET: E2E_SECRET,
    NGINX_PUSH_STREAM_RETRY_ATTEMPTS: '2',
    ...extra,
  });
}

function cli(args: string[], env = testEnv(), input?: string) {
  return runNode([CLI, ...args], { env, input });
}

/** Nchan's total published messages: proves a refused command sent nothing. */
async function publishedCount(): Promise<number> {
  const res = await fetch(nginx.statsUrl);
  const m = /^total published messages: (\d+)$/m.exec(await res.text());
  if (!m) throw new Error('no "total published messages" in nchan_stub_status');
  return Number(m[1]);
}

describe('nestjs-push-stream CLI (child process)', () => {
  it('publish -q __all__ -d \'{"message": ["Foobar"]}\' reaches a subscriber and prints the result', async () => {
    const channel = `${PREFIX}__all__`;
    const sub = await openWebSocket(`${nginx.baseUrl.replace(/^http/, 'ws')}/ws/${channel}`);
    try {
      const { code, stdout, stderr } = await cli(['publish', '-q', '__all__', '-d', '{"message": ["Foobar"]}']);

      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
      expect(JSON.parse(stdout)).toEqual({
        channel,
        subscribers: 1,
        storedMessages: 1,
        publishedMessages: null,
        lastMessageId: expect.stringMatching(/^\d+:\d+$/),
      });
      expect(JSON.parse(await sub.next())).toEqual({ channel, text: { message: ['Foobar'] }, eventid: '', type: '' });
    } finally {
      await sub.close();
    }
  });

  it('sends --event-id and --event-type (EventSource event: line, envelope eventid)', async () => {
    const channel = `${PREFIX}__room__events`;
    const sub = await openEventSource(`${nginx.baseUrl}/ev/${channel}`);
    try {
      const { code, stdout, stderr } = await cli([
        'publish', '-q', '__room__events', '-d', '{"n": 1}', '--event-id', 'evt-1', '--event-type', 'chat',
      ]);
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });

      const frame = await sub.next();
      expect(frame.event).toBe('chat');
      expect(frame.id).toBe(JSON.parse(stdout).lastMessageId);
      expect(JSON.parse(frame.data)).toEqual({ channel, text: { n: 1 }, eventid: 'evt-1', type: 'chat' });
    } finally {
      await sub.close();
    }
  });

  it('--raw sends -d as a string; several -q publish one message to each channel', async () => {
    const { code, stdout, stderr } = await cli(['publish', '-q', '__raw__1', '-q', '__raw__2', '-d', 'not json', '--raw']);

    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(stdout)).toEqual({ channels: [`${PREFIX}__raw__1`, `${PREFIX}__raw__2`], subscribers: 0, infos: [] });
    for (const channel of [`${PREFIX}__raw__1`, `${PREFIX}__raw__2`]) {
      const stored = await longPollOldest(`${nginx.baseUrl}/lp/${channel}`);
      expect(JSON.parse(stored.body).text).toBe('not json');
    }
  });

  it('-d - reads the message from standard input', async () => {
    const { code, stderr } = await cli(['publish', '-q', '__stdin__1', '-d', '-'], testEnv(), '{"from": "stdin"}');

    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const stored = await longPollOldest(`${nginx.baseUrl}/lp/${PREFIX}__stdin__1`);
    expect(JSON.parse(stored.body).text).toEqual({ from: 'stdin' });
  });

  it('invalid JSON in -d: exit 2, names the problem, publishes nothing', async () => {
    const before = await publishedCount();
    const { code, stdout, stderr } = await cli(['publish', '-q', '__all__', '-d', '{"message": [Foobar]}']);

    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/-d\/--data is not valid JSON \(.+\); pass --raw/);
    expect(await publishedCount()).toBe(before);
  });

  it.each([
    [['publish', '-d', '{}'], /missing -q\/--channel/],
    [['publish', '-q', '__all__'], /missing -d\/--data/],
    [['send', '-q', '__all__', '-d', '{}'], /unknown command "send"/],
    [['publish', '-q', '__all__', '-d', '{}', '--nope'], /Unknown option '--nope'/],
    [[], /missing command/],
  ])('usage error %j: exit 2 with a message', async (args, message) => {
    const { code, stderr } = await cli(args);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr).toContain('--help');
  });

  it('--help prints the usage and exits 0', async () => {
    const { code, stdout } = await cli(['--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('nestjs-push-stream publish -q <channel suffix> -d <json>');
    expect(stdout).toContain('--event-id');
  });

  it('needs no secret to publish (it derives no session token), but refuses a weak one', async () => {
    const env = testEnv();
    delete env.NGINX_PUSH_STREAM_SECRET;
    const ok = await cli(['publish', '-q', '__all__', '-d', '{}'], env);
    expect(ok.code).toBe(0);

    const { code, stderr } = await cli(['publish', '-q', '__all__', '-d', '{}'], testEnv({ NGINX_PUSH_STREAM_SECRET: 'short' }));
    expect(code).toBe(1);
    expect(stderr).toContain('PushStreamConfigError: Invalid PushStreamModule option "secret"');
    expect(stderr).toContain('NGINX_PUSH_STREAM_SECRET');
  });

  it('a bad variable: exit 1 naming it', async () => {
    const { code, stderr } = await cli(['publish', '-q', '__all__', '-d', '{}'], testEnv({ NGINX_PUSH_STREAM_RETRY_ATTEMPTS: 'many' }));
    expect(code).toBe(1);
    expect(stderr).toContain('NGINX_PUSH_STREAM_RETRY_ATTEMPTS');
  });

  it('a refused channel suffix: exit 1 with InvalidChannelNameError, nothing published', async () => {
    const before = await publishedCount();
    const { code, stderr } = await cli(['publish', '-q', '__all__/cli__admin__', '-d', '{}']);

    expect(code).toBe(1);
    expect(stderr).toContain('InvalidChannelNameError');
    expect(stderr).toContain('retryable: false');
    expect(await publishedCount()).toBe(before);
  });

  it('nginx down: exit 1 with a retryable PushStreamConnectionError', async () => {
    await nginx.stop();
    try {
      const { code, stdout, stderr } = await cli(['publish', '-q', '__all__', '-d', '{"message": ["Foobar"]}']);

      expect(code).toBe(1);
      expect(stdout).toBe('');
      expect(stderr).toContain(`PushStreamConnectionError: Cannot reach nginx at ${nginx.publisherUrl}`);
      expect(stderr).toContain('retryable: true');
    } finally {
      await nginx.start();
    }
  });
});
