import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { findNginx, locateModule } from '../../nginx/nginx-tools.mjs';
import {
  NginxConfigValueError,
  renderServerConfig,
  renderStandaloneConfig,
  validateNginxConfigValues,
  type NginxConfigValues,
} from '../nginx-config/nginx-config.js';
import type { PushStreamServerKind } from '../options/push-stream-options.interface.js';
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
  --tls-cert <file> --tls-key <file>
                                TLS on the public listener (PEM, absolute paths): https:// and wss://
                                                               [NGINX_TLS_CERT, NGINX_TLS_KEY]
  --public-publisher            let --pub-listen be a non-loopback address (a private network you control)
  --standalone                  print a complete main configuration, run with nginx -p <dir> -c <file>
                                (<dir> holds logs/ and tmp/, which must exist, and nginx.pid)
  --check                       run "nginx -t" on the result with the module loaded; exit 1 if it fails
  -h, --help                    show this help

Example:
  npx nestjs-push-stream nginx-config --server nchan --listen 80 --app 127.0.0.1:3000 --check \\
    > /etc/nginx/conf.d/push-stream.conf
`;

/** The environment variable behind each value: the templates' own placeholder names. */
const ENV: Record<keyof NginxConfigValues, string> = {
  server: 'NGINX_PUSH_STREAM_SERVER',
  listen: 'NGINX_LISTEN',
  pubListen: 'NGINX_PUB_LISTEN',
  pubAllow: 'NGINX_PUB_ALLOW',
  app: 'APP_UPSTREAM',
  tls: 'NGINX_TLS_CERT, NGINX_TLS_KEY',
};
const OPTION: Record<keyof NginxConfigValues, string> = {
  server: '--server',
  listen: '--listen',
  pubListen: '--pub-listen',
  pubAllow: '--pub-allow',
  app: '--app',
  tls: '--tls-cert, --tls-key',
};

/** What --check and the load_module line need from the machine; tests swap in their own. */
export interface NginxConfigMachine {
  /** `load_module` line for the server ('' when compiled in), or undefined with the reason. */
  loadModule(server: PushStreamServerKind): { line: string } | { missing: string };
  /** Runs `nginx -t` on a whole main configuration; resolves with nginx's complaint, or null when it passed. */
  test(mainConfig: string): Promise<string | null>;
}

export const localNginx: NginxConfigMachine = {
  loadModule(server) {
    const binary = findNginx();
    if (!binary) return { missing: 'nginx is not installed (or not on the PATH or in /usr/sbin)' };
    const found = locateModule(server, binary);
    return found.missing === undefined ? { line: found.loadModule ? `load_module ${found.loadModule};` : '' } : { missing: found.missing };
  },
  async test(mainConfig) {
    const binary = findNginx();
    if (!binary) return 'nginx is not installed (or not on the PATH or in /usr/sbin)';
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
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
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
  const values: NginxConfigValues = {
    server: (parsed.server ?? env.NGINX_PUSH_STREAM_SERVER ?? 'push-stream') as PushStreamServerKind,
    listen: parsed.listen ?? env.NGINX_LISTEN ?? '9080',
    pubListen: parsed['pub-listen'] ?? env.NGINX_PUB_LISTEN ?? '127.0.0.1:9081',
    pubAllow: parsed['pub-allow'] ?? env.NGINX_PUB_ALLOW ?? '127.0.0.1',
    app: parsed.app?.join(',') ?? env.APP_UPSTREAM ?? '127.0.0.1:3000',
  };
  const certificate = parsed['tls-cert'] ?? env.NGINX_TLS_CERT;
  const key = parsed['tls-key'] ?? env.NGINX_TLS_KEY;
  if ((certificate === undefined) !== (key === undefined)) {
    io.stderr(`nestjs-push-stream: nginx-config: ${OPTION.tls} (${ENV.tls}): give both the certificate and its key, or neither\n`);
    return EXIT_USAGE;
  }
  if (certificate !== undefined && key !== undefined) values.tls = { certificate, key };
  try {
    validateNginxConfigValues(values, parsed['public-publisher']);
  } catch (err) {
    if (!(err instanceof NginxConfigValueError)) throw err;
    io.stderr(`nestjs-push-stream: nginx-config: ${OPTION[err.field]} (${ENV[err.field]}): ${err.message.slice(err.field.length + 2)}\n`);
    return EXIT_USAGE;
  }

  const module = machine.loadModule(values.server);
  const loadLine =
    'line' in module
      ? module.line
      : `# load_module <path>;  nginx here has no ${values.server} module: ${module.missing.split('\n')[0]}`;
  const header =
    `# nestjs-push-stream ${values.server} configuration: npx nestjs-push-stream nginx-config ${argv.join(' ')}\n`.replace(/ \n$/, '\n');
  let config: string;
  if (parsed.standalone) {
    config = `${header}${await renderStandaloneConfig(values, loadLine)}`;
  } else {
    const where = 'line' in module && module.line ? `\n# Load the module once, in the main context of nginx.conf:\n#   ${module.line}` : '';
    config = `${header}# Include it from the http context, e.g. as /etc/nginx/conf.d/push-stream.conf.${where}\n${await renderServerConfig(values)}`;
  }
  io.stdout(config.endsWith('\n') ? config : `${config}\n`);

  if (parsed.check) {
    if (!('line' in module)) {
      io.stderr(`nestjs-push-stream: nginx-config --check: ${module.missing}\n`);
      return EXIT_FAILURE;
    }
    // The same server part, inside the stand-alone main file, so nginx -t sees a whole config.
    const problem = await machine.test(await renderStandaloneConfig(values, module.line));
    if (problem !== null) {
      io.stderr(`nestjs-push-stream: nginx-config --check: nginx -t refused the configuration:\n${problem}\n`);
      return EXIT_FAILURE;
    }
    io.stderr('nginx -t: the configuration is valid\n');
  }
  return EXIT_OK;
}
