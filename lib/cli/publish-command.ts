import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { PublishManyResult, PublishOptions, PublishResult } from '../dialects/push-stream-result.interface.js';
import { PushStreamConfigError, PushStreamError } from '../errors/push-stream.exception.js';
import { pushStreamOptionsFromEnv } from '../options/options-from-env.js';
import type { PushStreamModuleOptions } from '../options/push-stream-options.interface.js';
import { resolvePushStreamOptions } from '../options/resolve-options.js';

/** Exit codes: 0 published, 1 the publish (or the configuration) failed, 2 the command line is wrong. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Reads standard input, for `-d -`. */
  readStdin?: () => Promise<string>;
}

/** What the CLI needs from the library; tests swap in a fake. */
export interface CliPublisher {
  publish(suffixes: string[], data: unknown, options: PublishOptions): Promise<PublishResult | PublishManyResult>;
  close(): Promise<void>;
}

export type CliPublisherFactory = (options: PushStreamModuleOptions) => Promise<CliPublisher>;

type Env = Record<string, string | undefined>;

export const USAGE = `Usage: nestjs-push-stream publish -q <channel suffix> -d <json> [options]

Publishes one message through nginx (Nginx Push Stream Module or Nchan).

  -q, --channel <suffix>   channel name after the prefix, e.g. __all__, __user__42
                           (repeat to publish one message to several channels)
  -d, --data <json>        the message, as JSON; "-" reads it from standard input
      --raw                send --data as a plain string instead of parsing it as JSON
      --event-id <id>      event id (EventSource "id:" on push-stream; "eventid" in the Nchan envelope)
      --event-type <type>  event type (EventSource "event:" line)
  -h, --help               show this help

Configured by the same environment variables as the application:
  NGINX_PUSH_STREAM_PUB_URL (or PROTOCOL, PUB_HOST, PUB_PORT, PUB_ENDPOINT), NGINX_PUSH_STREAM_SERVER
  (push-stream | nchan), NGINX_PUSH_STREAM_PUB_PREFIX, NGINX_PUSH_STREAM_SECRET, NGINX_PUSH_STREAM_TIMEOUT_MS,
  NGINX_PUSH_STREAM_RETRY_ATTEMPTS, NGINX_PUSH_STREAM_MAX_MESSAGE_BYTES, NGINX_PUSH_STREAM_CHANNEL_DELIMITER.

Prints the result as JSON. Exit codes: 0 published, 1 publish or configuration failed, 2 bad command line.

Example:
  nestjs-push-stream publish -q __all__ -d '{"message": ["Foobar"]}'

Other commands (see --help of each):
  nestjs-push-stream build-module   builds the Push Stream Module for this machine's nginx
  nestjs-push-stream nginx-config   prints an nginx configuration from the shipped templates
`;

/** The environment variable behind each option field, for configuration error hints. */
const ENV_FOR_FIELD: Record<string, string> = {
  server: 'NGINX_PUSH_STREAM_SERVER',
  publisherUrl: 'NGINX_PUSH_STREAM_PUB_URL (or NGINX_PUSH_STREAM_PUB_HOST / _PUB_PORT / _PUB_ENDPOINT)',
  statsUrl: 'NGINX_PUSH_STREAM_STATS_URL',
  prefix: 'NGINX_PUSH_STREAM_PUB_PREFIX',
  secret: 'NGINX_PUSH_STREAM_SECRET',
  publishTimeoutMs: 'NGINX_PUSH_STREAM_TIMEOUT_MS',
  'retry.attempts': 'NGINX_PUSH_STREAM_RETRY_ATTEMPTS',
  maxMessageBytes: 'NGINX_PUSH_STREAM_MAX_MESSAGE_BYTES',
  channelDelimiter: 'NGINX_PUSH_STREAM_CHANNEL_DELIMITER',
  'subscriber.host': 'NGINX_PUSH_STREAM_SUB_HOST',
  'subscriber.port': 'NGINX_PUSH_STREAM_SUB_PORT',
  'subscriber.protocol': 'NGINX_PUSH_STREAM_SUB_PROTOCOL',
};

class UsageError extends Error {}

interface PublishCommand {
  suffixes: string[];
  data: unknown;
  options: PublishOptions;
}

/**
 * Runs the command line `argv` (without node and the script) and returns the exit code.
 * Never throws and never calls process.exit, so it can be tested in-process.
 */
export async function runCli(
  argv: readonly string[],
  env: Env,
  io: CliIo,
  createPublisher: CliPublisherFactory = createNestPublisher,
): Promise<number> {
  let command: PublishCommand | 'help';
  try {
    command = await parseCommand(argv, io);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.stderr(`nestjs-push-stream: ${err.message}\nRun "nestjs-push-stream --help" for usage.\n`);
    return EXIT_USAGE;
  }
  if (command === 'help') {
    io.stdout(USAGE);
    return EXIT_OK;
  }

  let publisher: CliPublisher | undefined;
  try {
    const options = pushStreamOptionsFromEnv(env);
    // Publishing never derives a session token (-q takes the channel name as it is), so the
    // seed's one-variable command works without the application's secret.
    options.secret ??= randomBytes(16).toString('hex');
    resolvePushStreamOptions(options); // a bad variable fails here, before Nest starts
    publisher = await createPublisher(options);
    const result = await publisher.publish(command.suffixes, command.data, command.options);
    io.stdout(`${JSON.stringify(result, null, 2)}\n`);
    return EXIT_OK;
  } catch (err) {
    io.stderr(describeError(err));
    return EXIT_FAILURE;
  } finally {
    await publisher?.close().catch(() => undefined);
  }
}

async function parseCommand(argv: readonly string[], io: CliIo): Promise<PublishCommand | 'help'> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        channel: { type: 'string', short: 'q', multiple: true },
        data: { type: 'string', short: 'd' },
        raw: { type: 'boolean', default: false },
        'event-id': { type: 'string' },
        'event-type': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    // parseArgs' messages are already clear ("Unknown option '--x'", "Option '-d' argument missing").
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (positionals.length === 0) throw new UsageError('missing command: "publish", "build-module" or "nginx-config"');
  if (positionals[0] !== 'publish') throw new UsageError(`unknown command ${JSON.stringify(positionals[0])}; the commands are "publish", "build-module" and "nginx-config"`);
  if (positionals.length > 1) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[1])}`);

  const suffixes = values.channel ?? [];
  if (suffixes.length === 0) throw new UsageError('missing -q/--channel <suffix>, e.g. -q __all__');
  if (values.data === undefined) throw new UsageError('missing -d/--data <json>, e.g. -d \'{"message": ["Foobar"]}\'');

  let text = values.data;
  if (text === '-') {
    if (!io.readStdin) throw new UsageError('-d - needs standard input');
    text = await io.readStdin();
  }
  let data: unknown = text;
  if (!values.raw) {
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new UsageError(`-d/--data is not valid JSON (${(err as Error).message}); pass --raw to send it as a string`);
    }
  }
  const options: PublishOptions = {};
  if (values['event-id'] !== undefined) options.eventId = values['event-id'];
  if (values['event-type'] !== undefined) options.eventType = values['event-type'];
  return { suffixes, data, options };
}

/** A PushStreamError as several lines: message, then status, nginx's reason and whether retrying may help. */
export function describeError(err: unknown): string {
  if (!(err instanceof PushStreamError)) {
    return `nestjs-push-stream: ${err instanceof Error ? err.message : String(err)}\n`;
  }
  const lines = [`nestjs-push-stream: ${err.name}: ${err.message}`];
  if (err instanceof PushStreamConfigError) {
    const variable = ENV_FOR_FIELD[err.field];
    if (variable) lines.push(`  environment: ${variable}`);
  } else {
    if (err.status !== undefined) lines.push(`  status: ${err.status}`);
    if (err.explain) lines.push(`  explain: ${err.explain}`);
    if (err.channels && err.channels.length > 0) lines.push(`  channels: ${err.channels.join(', ')}`);
    lines.push(`  retryable: ${err.retryable}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The library wired as an application would: PushStreamModule in a Nest application context.
 * Nest is imported here, not at the top, so --help and usage errors answer without loading it.
 */
export const createNestPublisher: CliPublisherFactory = async (options) => {
  const [{ NestFactory }, { PushStreamModule }, { PushStreamService }] = await Promise.all([
    import('@nestjs/core'),
    import('../push-stream.module.js'),
    import('../service/push-stream.service.js'),
  ]);
  const app = await NestFactory.createApplicationContext(PushStreamModule.forRoot({ ...options, authRoute: false }), {
    logger: false,
    // Without this Nest aborts the process on a start-up error instead of letting us print it.
    abortOnError: false,
  });
  const service = app.get(PushStreamService);
  return {
    publish: (suffixes, data, publishOptions) => {
      const names = suffixes.map((s) => service.channels.withPrefix(s));
      return names.length === 1
        ? service.publish(names[0], data, publishOptions)
        : service.publishMany(names, data, publishOptions);
    },
    close: () => app.close(),
  };
};
