import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { findNginx, locateJsModule, locateModule, type ModuleLocation } from '../../nginx/nginx-tools.mjs';
import {
  NginxConfigValueError,
  needsJsModule,
  parseWorkers,
  renderServerConfig,
  renderStandaloneConfig,
  validateNginxConfigValues,
  workerProcesses,
  type NginxConfigValues,
} from '../nginx-config/nginx-config.js';
import type { PushStreamServerKind } from '../options/push-stream-options.interface.js';
import { deriveTicketKey } from '../tickets/subscription-ticket.js';
import { redactUrl } from '../errors/push-stream.exception.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliIo } from './publish-command.js';

const run = promisify(execFile);

export const NGINX_CONFIG_USAGE = `Usage: nestjs-push-stream nginx-config [options]

Prints an nginx configuration for nestjs-push-stream: the shipped template for the server, filled in.
By default the http-context part (server blocks and the module's settings) to include from your
nginx.conf, e.g. as /etc/nginx/conf.d/push-stream.conf; with --standalone a whole main configuration.

  --server <push-stream|nchan>  the nginx module            [NGINX_PUSH_STREAM_SERVER, default push-stream]
  --listen <addr>               public listener: subscribers and the app
                                (port, host:port or [IPv6]:port)  [NGINX_LISTEN, default 9080]
  --pub-listen <addr>           internal listener: publishing and statistics; loopback only
                                unless --public-publisher      [NGINX_PUB_LISTEN, default 127.0.0.1:9081]
  --pub-allow <addr|cidr>       a network allowed to publish besides loopback
                                                               [NGINX_PUB_ALLOW, default 127.0.0.1]
  --app <host:port>             the NestJS application; repeat it for several instances (kept-alive
                                upstream)      [APP_UPSTREAM, comma-separated, default 127.0.0.1:3000]
  --auth-app <host:port>        where nginx asks about subscriptions, e.g. the app's auth listener
                                (PushStreamAuthListenerModule); repeatable like --app
                                               [AUTH_UPSTREAM, comma-separated, default the --app ones]
  --tls-cert <file> --tls-key <file>
                                TLS on the public listener (PEM, absolute paths): https:// and wss://
                                                               [NGINX_TLS_CERT, NGINX_TLS_KEY]
  --auth <session|ticket|secure-link>
                                how nginx authorizes a subscription: session asks the app
                                (auth_request); ticket checks a signed ?ticket= itself with njs
                                (libnginx-mod-http-js) and never asks the app; secure-link does
                                the same with nginx's secure_link module (MD5 tickets, the app's
                                auth.ticketFormat 'secure-link-md5'; no njs, less memory, no .bN)
                                                               [NGINX_AUTH, default session]
  --ticket-key-file <file>      ticket and secure-link modes: a file holding the key,
                                deriveTicketKey(secret) in 64 hex characters (mode 0600); else the
                                key is derived from the app's secret          [NGINX_PUSH_STREAM_SECRET]
  --workers <auto|n>            worker_processes of the main configuration (--standalone)
                                [NGINX_WORKERS, default auto for push-stream, 1 for nchan]
  --redis <url>                 nchan only: several nginx nodes share channels, stored messages and
                                subscribers through this Redis, redis://[[user]:password@]host[:port][/db]
                                (a password is written into the config: keep it private). push-stream
                                has no shared store: list every node in the app's publisherUrl instead
                                                               [NCHAN_REDIS_URL]
  --public-publisher            let --pub-listen be a non-loopback address (a private network you control)
  --standalone                  print a complete main configuration, run with nginx -p <dir> -c <file>
                                (<dir> holds logs/ and tmp/, which must exist, and nginx.pid)
  --check                       run "nginx -t" on the result with the modules loaded; exit 1 if it fails
  -h, --help                    show this help

Examples:
  npx nestjs-push-stream nginx-config --server nchan --listen 80 --app 127.0.0.1:3000 --check \\
    > /etc/nginx/conf.d/push-stream.conf
  npx nestjs-push-stream nginx-config --server nchan --listen 80 --redis redis://10.0.0.5:6379 --check \\
    > /etc/nginx/conf.d/push-stream.conf          # the same on every node: one Redis shares their channels
  (umask 077; NGINX_PUSH_STREAM_SECRET=... npx nestjs-push-stream nginx-config --auth ticket --check \\
    > /etc/nginx/conf.d/push-stream.conf)          # the config then holds the ticket key: keep it private
`;

/** The environment variable behind each value: the templates' own placeholder names. */
const ENV: Record<keyof NginxConfigValues, string> = {
  server: 'NGINX_PUSH_STREAM_SERVER',
  listen: 'NGINX_LISTEN',
  pubListen: 'NGINX_PUB_LISTEN',
  pubAllow: 'NGINX_PUB_ALLOW',
  app: 'APP_UPSTREAM',
  authApp: 'AUTH_UPSTREAM',
  tls: 'NGINX_TLS_CERT, NGINX_TLS_KEY',
  auth: 'NGINX_AUTH',
  workers: 'NGINX_WORKERS',
  redis: 'NCHAN_REDIS_URL',
};
const OPTION: Record<keyof NginxConfigValues, string> = {
  server: '--server',
  listen: '--listen',
  pubListen: '--pub-listen',
  pubAllow: '--pub-allow',
  app: '--app',
  authApp: '--auth-app',
  tls: '--tls-cert, --tls-key',
  auth: '--auth',
  workers: '--workers',
  redis: '--redis',
};

/** A `load_module` line ('' when compiled in), or why the module is not there. */
export type ModuleLine = { line: string } | { missing: string };

/** What --check and the load_module lines need from the machine; tests swap in their own. */
export interface NginxConfigMachine {
  /** The server's module. */
  loadModule(server: PushStreamServerKind): ModuleLine;
  /** njs (ngx_http_js_module), which ticket mode needs. */
  loadJsModule(): ModuleLine;
  /** Runs `nginx -t` on a whole main configuration; resolves with nginx's complaint, or null when it passed. */
  test(mainConfig: string): Promise<string | null>;
}

const NO_NGINX = 'nginx is not installed (or not on the PATH or in /usr/sbin)';

function moduleLine(found: ModuleLocation): ModuleLine {
  return found.missing === undefined ? { line: found.loadModule ? `load_module ${found.loadModule};` : '' } : { missing: found.missing };
}

export const localNginx: NginxConfigMachine = {
  loadModule(server) {
    const binary = findNginx();
    return binary ? moduleLine(locateModule(server, binary)) : { missing: NO_NGINX };
  },
  loadJsModule() {
    const binary = findNginx();
    return binary ? moduleLine(locateJsModule(binary)) : { missing: NO_NGINX };
  },
  async test(mainConfig) {
    const binary = findNginx();
    if (!binary) return NO_NGINX;
    const dir = await mkdtemp(join(tmpdir(), 'nestjs-push-stream-check-'));
    try {
      // The stand-alone template keeps logs and temporary files under the prefix (-p).
      await mkdir(join(dir, 'logs'));
      await mkdir(join(dir, 'tmp'));
      await writeFile(join(dir, 'nginx.conf'), mainConfig);
      await run(binary, ['-t', '-q', '-p', dir, '-c', join(dir, 'nginx.conf')]);
      return null;
    } catch (err) {
      const output = (err as { stderr?: string }).stderr ?? (err as Error).message;
      // nginx -t also reports its shared memory zones at [info]: keep only what went wrong.
      return output.split('\n').filter((l) => l.trim() && !/\[(info|notice)\]/.test(l)).join('\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};

/** The ticket key of ticket mode: from --ticket-key-file, else derived from the app's secret; a string is the refusal. */
async function ticketKey(file: string | undefined, env: Record<string, string | undefined>, io: CliIo): Promise<{ key: string } | string> {
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      return `--ticket-key-file: cannot read ${file}: ${(err as Error).message}`;
    }
    const key = text.trim();
    if (!/^[0-9a-f]{64}$/.test(key)) return `--ticket-key-file: ${file} does not hold a ticket key (64 lower-case hex characters, deriveTicketKey(secret))`;
    const mode = (await stat(file)).mode & 0o777;
    if (mode & 0o077) io.stderr(`nestjs-push-stream: nginx-config: warning: ${file} is open to other users (mode ${mode.toString(8).padStart(4, '0')}); chmod 600 it\n`);
    return { key };
  }
  const secret = env.NGINX_PUSH_STREAM_SECRET;
  // The module refuses a shorter secret (resolvePushStreamOptions): no key for an app that cannot start.
  if (secret !== undefined && secret.length < 16) return 'NGINX_PUSH_STREAM_SECRET is shorter than the 16 characters the module requires';
  if (secret) return { key: deriveTicketKey(secret) };
  return (
    '--auth ticket and --auth secure-link need the ticket key: set NGINX_PUSH_STREAM_SECRET (the application\'s secret; only a key derived ' +
    'from it is written into the config) or pass --ticket-key-file <file> holding deriveTicketKey(secret)'
  );
}

/** `nestjs-push-stream nginx-config`: the config on stdout; exit 2 for a bad value, 1 when --check fails. */
export async function runNginxConfig(
  argv: readonly string[],
  env: Record<string, string | undefined>,
  io: CliIo,
  machine: NginxConfigMachine = localNginx,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        server: { type: 'string' },
        listen: { type: 'string' },
        'pub-listen': { type: 'string' },
        'pub-allow': { type: 'string' },
        app: { type: 'string', multiple: true },
        'auth-app': { type: 'string', multiple: true },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        auth: { type: 'string' },
        'ticket-key-file': { type: 'string' },
        workers: { type: 'string' },
        redis: { type: 'string' },
        'public-publisher': { type: 'boolean', default: false },
        standalone: { type: 'boolean', default: false },
        check: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (err) {
    io.stderr(`nestjs-push-stream: nginx-config: ${(err as Error).message}\nRun "nestjs-push-stream nginx-config --help" for usage.\n`);
    return EXIT_USAGE;
  }
  if (parsed.help) {
    io.stdout(NGINX_CONFIG_USAGE);
    return EXIT_OK;
  }
  const refuse = (message: string) => {
    io.stderr(`nestjs-push-stream: nginx-config: ${message}\n`);
    return EXIT_USAGE;
  };
  const values: NginxConfigValues = {
    server: (parsed.server ?? env.NGINX_PUSH_STREAM_SERVER ?? 'push-stream') as PushStreamServerKind,
    listen: parsed.listen ?? env.NGINX_LISTEN ?? '9080',
    pubListen: parsed['pub-listen'] ?? env.NGINX_PUB_LISTEN ?? '127.0.0.1:9081',
    pubAllow: parsed['pub-allow'] ?? env.NGINX_PUB_ALLOW ?? '127.0.0.1',
    app: parsed.app?.join(',') ?? env.APP_UPSTREAM ?? '127.0.0.1:3000',
  };
  // An empty AUTH_UPSTREAM is unset (the app answers), as compose files write it.
  const authApp = parsed['auth-app']?.join(',') ?? (env.AUTH_UPSTREAM || undefined);
  if (authApp !== undefined) values.authApp = authApp;
  const certificate = parsed['tls-cert'] ?? env.NGINX_TLS_CERT;
  const key = parsed['tls-key'] ?? env.NGINX_TLS_KEY;
  if ((certificate === undefined) !== (key === undefined)) {
    return refuse(`${OPTION.tls} (${ENV.tls}): give both the certificate and its key, or neither`);
  }
  if (certificate !== undefined && key !== undefined) values.tls = { certificate, key };
  const auth = parsed.auth ?? env.NGINX_AUTH ?? 'session';
  if (auth === 'ticket' || auth === 'secure-link') {
    const found = await ticketKey(parsed['ticket-key-file'], env, io);
    if (typeof found === 'string') return refuse(found);
    values.auth = { mode: auth, ticketKey: found.key };
  } else if (parsed['ticket-key-file'] !== undefined) {
    return refuse('--ticket-key-file is for --auth ticket or --auth secure-link (NGINX_AUTH)');
  } else {
    // 'session', or a wrong value that validation names.
    values.auth = { mode: auth } as NginxConfigValues['auth'];
  }
  try {
    const workers = parsed.workers ?? env.NGINX_WORKERS;
    if (workers !== undefined) values.workers = parseWorkers(workers);
    // An empty NCHAN_REDIS_URL is unset (one node), as compose files write it.
    const redis = parsed.redis ?? (env.NCHAN_REDIS_URL || undefined);
    if (redis !== undefined) values.redis = redis;
    validateNginxConfigValues(values, parsed['public-publisher']);
  } catch (err) {
    if (!(err instanceof NginxConfigValueError)) throw err;
    return refuse(`${OPTION[err.field]} (${ENV[err.field]}): ${err.message.slice(err.field.length + 2)}`);
  }

  // The server's module, and njs in ticket mode.
  const modules: Array<[string, ModuleLine]> = [[values.server, machine.loadModule(values.server)]];
  if (needsJsModule(values)) modules.push(['njs', machine.loadJsModule()]);
  const loadLines = modules
    .map(([name, m]) => ('line' in m ? m.line : `# load_module <path>;  nginx here has no ${name} module: ${m.missing.split('\n')[0]}`))
    .filter(Boolean)
    .join('\n');
  const header =
    // A --redis password stays in the upstream below only.
    `# nestjs-push-stream ${values.server} configuration: npx nestjs-push-stream nginx-config ${redactUrl(argv.join(' '))}\n`.replace(/ \n$/, '\n');
  let config: string;
  if (parsed.standalone) {
    config = `${header}${await renderStandaloneConfig(values, loadLines)}`;
  } else {
    const found = modules.flatMap(([, m]) => ('line' in m && m.line ? [m.line] : []));
    const where =
      found.length > 0 ? `\n# Load the module${found.length > 1 ? 's' : ''} once, in the main context of nginx.conf:${found.map((l) => `\n#   ${l}`).join('')}` : '';
    const workers = `\n# Workers, in the main context: worker_processes ${workerProcesses(values)}; (README, "Availability").`;
    config = `${header}# Include it from the http context, e.g. as /etc/nginx/conf.d/push-stream.conf.${where}${workers}\n${await renderServerConfig(values)}`;
  }
  io.stdout(config.endsWith('\n') ? config : `${config}\n`);

  if (parsed.check) {
    const missing = modules.flatMap(([, m]) => ('missing' in m ? [m.missing] : []));
    if (missing.length > 0) {
      io.stderr(`nestjs-push-stream: nginx-config --check: ${missing.join('\n')}\n`);
      return EXIT_FAILURE;
    }
    // The same server part, inside the stand-alone main file, so nginx -t sees a whole config.
    const problem = await machine.test(await renderStandaloneConfig(values, loadLines));
    if (problem !== null) {
      io.stderr(`nestjs-push-stream: nginx-config --check: nginx -t refused the configuration:\n${problem}\n`);
      return EXIT_FAILURE;
    }
    io.stderr('nginx -t: the configuration is valid\n');
  }
  return EXIT_OK;
}
