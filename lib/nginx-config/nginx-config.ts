import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeServerKinds, isServerKind } from '../dialects/create-dialect.js';
import type { PushStreamServerKind } from '../options/push-stream-options.interface.js';

/** The package's nginx/ folder: the same templates serve users' configs, the tests, the demo and Docker. */
export const NGINX_CONFIG_DIR = fileURLToPath(new URL('../../nginx/', import.meta.url));

/** What a rendered configuration needs; the names of the templates' placeholders in parentheses. */
export interface NginxConfigValues {
  server: PushStreamServerKind;
  /** Public listener for subscribers and the app (`NGINX_LISTEN`): `port`, `host:port` or `[v6]:port`. */
  listen: string;
  /** Internal listener for publishing and statistics (`NGINX_PUB_LISTEN`). */
  pubListen: string;
  /** A network allowed to publish besides loopback (`NGINX_PUB_ALLOW`): an address or CIDR. */
  pubAllow: string;
  /** The NestJS application's instances (`APP_SERVERS`): `host:port`, several separated by commas. */
  app: string;
  /** TLS on the public listener (`NGINX_TLS`): PEM certificate chain and key files. */
  tls?: { certificate: string; key: string };
}

/** A value refused by validateNginxConfigValues, naming the field. */
export class NginxConfigValueError extends Error {
  constructor(
    readonly field: keyof NginxConfigValues,
    problem: string,
  ) {
    super(`${field}: ${problem}`);
    this.name = 'NginxConfigValueError';
  }
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function port(field: keyof NginxConfigValues, raw: string): number {
  if (!/^\d{1,5}$/.test(raw) || Number(raw) < 1 || Number(raw) > 65535) throw new NginxConfigValueError(field, `${JSON.stringify(raw)} is not a port (1-65535)`);
  return Number(raw);
}

/** `[host, port]` of `port`, `host:port` or `[v6]:port`; host '' means every address. */
function hostPort(field: keyof NginxConfigValues, raw: string, hostRequired: boolean): [string, number] {
  if (/^\d+$/.test(raw) && !hostRequired) return ['', port(field, raw)];
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s\[\]]+)):(\d+)$/.exec(raw);
  if (!m) throw new NginxConfigValueError(field, `${JSON.stringify(raw)} is not ${hostRequired ? 'host:port' : 'port, host:port or [IPv6]:port'}`);
  const host = m[1] ?? m[2];
  if (m[1] !== undefined ? isIP(host) !== 6 : !(isIP(host) === 4 || HOSTNAME.test(host))) {
    throw new NginxConfigValueError(field, `${JSON.stringify(host)} is not an IP address or host name`);
  }
  return [host, port(field, m[3])];
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

/**
 * Refuses what would make a broken or unsafe config, with the field and the reason: malformed
 * ports, addresses and upstreams, both listeners on one address, and a publisher listening beyond
 * loopback unless `allowPublicPublisher` (anyone who reaches it can publish and delete).
 */
export function validateNginxConfigValues(values: NginxConfigValues, allowPublicPublisher = false): void {
  if (!isServerKind(values.server)) {
    throw new NginxConfigValueError('server', `${JSON.stringify(values.server)} is not ${describeServerKinds()}`);
  }
  const [pubHost, pubPort] = hostPort('pubListen', values.pubListen, false);
  const [host, publicPort] = hostPort('listen', values.listen, false);
  if (publicPort === pubPort && (host === '' || pubHost === '' || host === pubHost)) {
    throw new NginxConfigValueError('pubListen', `the publisher cannot share ${values.pubListen} with the public listener ${values.listen}`);
  }
  if (!allowPublicPublisher && !isLoopback(pubHost)) {
    throw new NginxConfigValueError(
      'pubListen',
      `${JSON.stringify(values.pubListen)} is not a loopback address: whoever reaches it can publish and delete channels. ` +
        'Use 127.0.0.1:<port>, or pass --public-publisher for a private network you control (and --pub-allow for the app\'s network)',
    );
  }
  const [net, bits, extra] = values.pubAllow.split('/');
  const family = isIP(net);
  if (family === 0 || extra !== undefined || (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128)))) {
    throw new NginxConfigValueError('pubAllow', `${JSON.stringify(values.pubAllow)} is not an address or CIDR network (e.g. 10.0.0.0/8)`);
  }
  for (const instance of values.app.split(',')) hostPort('app', instance, true);
  for (const file of values.tls ? [values.tls.certificate, values.tls.key] : []) {
    // Written into the config as is: no spaces, quotes, semicolons or braces that would end the directive.
    if (!/^\/[^\s;{}'"\\$]+$/.test(file)) throw new NginxConfigValueError('tls', `${JSON.stringify(file)} is not an absolute file path nginx can read as is`);
  }
}

/** Replaces `${NAME}` placeholders; an unknown name is an error rather than an empty string. */
export function renderTemplate(template: string, vars: Record<string, string>): string {
  return template.replace(/\$\{([A-Z_]+)\}/g, (_m, name: string) => {
    if (!(name in vars)) throw new Error(`nginx template uses \${${name}}, which has no value`);
    return vars[name];
  });
}

function placeholders(values: NginxConfigValues): Record<string, string> {
  const { tls } = values;
  return {
    NGINX_LISTEN: tls ? `${values.listen} ssl` : values.listen,
    NGINX_TLS: tls ? `\n  ssl_certificate ${tls.certificate};\n  ssl_certificate_key ${tls.key};` : '',
    NGINX_PUB_LISTEN: values.pubListen,
    NGINX_PUB_ALLOW: values.pubAllow,
    APP_SERVERS: values.app.split(',').map((instance) => `  server ${instance};`).join('\n'),
  };
}

/** The server's `http`-context configuration (`server` blocks and the module's settings), for an `include`. */
export async function renderServerConfig(values: NginxConfigValues, configDir = NGINX_CONFIG_DIR): Promise<string> {
  return renderTemplate(await readFile(join(configDir, `${values.server}.conf.template`), 'utf8'), placeholders(values));
}

/**
 * A whole main configuration (nginx.conf.template) that `include`s `serverConfigFile`, for
 * `nginx -p <folder> -c <file>`: logs, pid and temporary files live under that folder.
 * `loadModule` is the `load_module` line ('' when the module is compiled in).
 */
export async function renderMainConfig(serverConfigFile: string, loadModule: string, configDir = NGINX_CONFIG_DIR): Promise<string> {
  return renderTemplate(await readFile(join(configDir, 'nginx.conf.template'), 'utf8'), {
    NGINX_LOAD_MODULES: loadModule,
    NGINX_SERVER_CONF: serverConfigFile,
  });
}

/** One self-contained main configuration: the main template with the server configuration inlined. */
export async function renderStandaloneConfig(values: NginxConfigValues, loadModule: string, configDir = NGINX_CONFIG_DIR): Promise<string> {
  const marker = '/nestjs-push-stream/server.conf';
  const main = await renderMainConfig(marker, loadModule, configDir);
  const include = `include ${marker};`;
  if (!main.includes(include)) throw new Error(`nginx.conf.template no longer has "include \${NGINX_SERVER_CONF};"`);
  const server = (await renderServerConfig(values, configDir)).trimEnd().replace(/^(?=.)/gm, '  ');
  return main.replace(`  ${include}`, server.trimStart().replace(/^/, '  '));
}
