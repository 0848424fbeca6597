import { PushStreamHttpError } from '../errors/push-stream.exception.js';
import type { PushStreamModuleOptions } from '../options/push-stream-options.interface.js';
import { type CliPublisher, describeError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, runCli } from './publish-command.js';

const ENV = { NGINX_PUSH_STREAM_SECRET: '0123456789abcdef', NGINX_PUSH_STREAM_PUB_URL: 'http://127.0.0.1:9080/pub' };

function harness(publish: CliPublisher['publish'] = async (suffixes) => ({ channel: suffixes[0], subscribers: 0, storedMessages: 1, publishedMessages: null })) {
  const out: string[] = [];
  const err: string[] = [];
  const calls: Array<{ suffixes: string[]; data: unknown; options: unknown }> = [];
  const created: PushStreamModuleOptions[] = [];
  let closed = 0;
  const factory = async (options: PushStreamModuleOptions): Promise<CliPublisher> => {
    created.push(options);
    return {
      publish: (suffixes, data, options) => {
        calls.push({ suffixes, data, options });
        return publish(suffixes, data, options);
      },
      close: async () => {
        closed += 1;
      },
    };
  };
  const run = (argv: string[], env: Record<string, string | undefined> = ENV, stdin?: string) =>
    runCli(argv, env, { stdout: (t) => out.push(t), stderr: (t) => err.push(t), readStdin: stdin === undefined ? undefined : async () => stdin }, factory);
  return { run, calls, created, out: () => out.join(''), err: () => err.join(''), closed: () => closed };
}

describe('runCli', () => {
  it('publishes -d as JSON to the -q suffix with the event options, prints the result, closes', async () => {
    const h = harness();
    const code = await h.run(['publish', '-q', '__all__', '-d', '{"message": ["Foobar"]}', '--event-id', '7', '--event-type', 'chat']);

    expect(code).toBe(EXIT_OK);
    expect(h.calls).toEqual([{ suffixes: ['__all__'], data: { message: ['Foobar'] }, options: { eventId: '7', eventType: 'chat' } }]);
    expect(JSON.parse(h.out())).toEqual({ channel: '__all__', subscribers: 0, storedMessages: 1, publishedMessages: null });
    expect(h.err()).toBe('');
    expect(h.created[0]).toMatchObject({ publisherUrl: ['http://127.0.0.1:9080/pub'], secret: ENV.NGINX_PUSH_STREAM_SECRET });
    expect(h.closed()).toBe(1);
  });

  it('--raw sends the text as a string; long options and repeated -q work', async () => {
    const h = harness();
    await h.run(['publish', '--channel', '__a__1', '-q', '__b__2', '--data', '{not json', '--raw']);
    expect(h.calls).toEqual([{ suffixes: ['__a__1', '__b__2'], data: '{not json', options: {} }]);
  });

  it('-d - reads standard input', async () => {
    const h = harness();
    expect(await h.run(['publish', '-q', '__all__', '-d', '-'], ENV, '[1, 2]')).toBe(EXIT_OK);
    expect(h.calls[0].data).toEqual([1, 2]);
  });

  it.each([
    [['publish', '-q', '__all__', '-d', "{'single': 'quotes'}"], /not valid JSON/],
    [['publish', '-q', '__all__'], /missing -d/],
    [['publish', '-d', '{}'], /missing -q/],
    [['publish', 'extra', '-q', '__all__', '-d', '{}'], /unexpected argument "extra"/],
    [['publish', '-q'], /argument missing/],
    [['-x'], /Unknown option/],
  ])('usage error %j: exit 2, nothing created or published', async (argv, message) => {
    const h = harness();
    expect(await h.run(argv)).toBe(EXIT_USAGE);
    expect(h.err()).toMatch(message);
    expect(h.created).toEqual([]);
    expect(h.out()).toBe('');
  });

  it('--help prints usage, even with other arguments', async () => {
    const h = harness();
    expect(await h.run(['publish', '--help'])).toBe(EXIT_OK);
    expect(h.out()).toContain('Usage: nestjs-push-stream publish');
    expect(h.created).toEqual([]);
  });

  it('a configuration error exits 1 naming the variable, before anything is created', async () => {
    const h = harness();
    expect(await h.run(['publish', '-q', '__all__', '-d', '{}'], { ...ENV, NGINX_PUSH_STREAM_PUB_PREFIX: 'bad__prefix' })).toBe(EXIT_FAILURE);
    expect(h.err()).toContain('Invalid PushStreamModule option "prefix"');
    expect(h.err()).toContain('NGINX_PUSH_STREAM_PUB_PREFIX');
    expect(h.created).toEqual([]);
  });

  it('a publish failure exits 1 with status, explain and retryable, and still closes', async () => {
    const h = harness(async () => {
      throw new PushStreamHttpError('publish', 403, { explain: 'Publisher not allowed', channels: ['my-app__all__'] });
    });
    expect(await h.run(['publish', '-q', '__all__', '-d', '{}'])).toBe(EXIT_FAILURE);
    expect(h.err()).toBe(
      [
        'nestjs-push-stream: PushStreamHttpError: publish failed with HTTP 403: Publisher not allowed',
        '  status: 403',
        '  explain: Publisher not allowed',
        '  channels: my-app__all__',
        '  retryable: false',
        '',
      ].join('\n'),
    );
    expect(h.closed()).toBe(1);
  });
});

describe('describeError', () => {
  it('prints a non-library error by its message', () => {
    expect(describeError(new Error('boom'))).toBe('nestjs-push-stream: boom\n');
    expect(describeError('text')).toBe('nestjs-push-stream: text\n');
  });
});
