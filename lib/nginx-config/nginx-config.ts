import { access, readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDialect, describeServerKinds, isServerKind } from '../dialects/create-dialect.js';
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
  /**
   * How subscriber locations decide (`NGINX_SUBSCRIBER_AUTH`, `NGINX_TICKET_VERIFIER`). `session`
   * (default): nginx asks the app (`auth_request`). `ticket`: nginx checks a signed `?ticket=`
   * itself with njs (nginx/push-stream-ticket.js) and never asks the app; `ticketKey` is
   * `deriveTicketKey(secret)`, written into the config (never the secret).
   */
  auth?: NginxSubscriberAuth;
  /**
   * `worker_processes` of the main configuration (`NGINX_WORKER_PROCESSES`). Default: `auto` for a
   * server that survives the death of a worker (push-stream), else 1 (Nchan).
   */
  workers?: number | 'auto';
}

export type NginxSubscriberAuth = { mode: 'session' } | { mode: 'ticket'; ticketKey: string };

/** The njs module (in the config folder) that checks tickets. */
export const TICKET_SCRIPT = 'push-stream-ticket.js';

/** Most workers the renderer accepts; nginx itself allows more, but not usefully on one host. */
const MAX_WORKERS = 1024;

/** deriveTicketKey()'s output. The HMAC key is this text as is: upper case would be another key than the app's. */
const TICKET_KEY = /^[0-9a-f]{64}$/;
const BAD_TICKET_KEY = 'the ticket key is not 64 lower-case hex characters (deriveTicketKey(secret))';

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
  const auth = values.auth ?? { mode: 'session' };
  if (auth.mode === 'ticket') {
    if (typeof auth.ticketKey !== 'string' || !TICKET_KEY.test(auth.ticketKey)) throw new NginxConfigValueError('auth', BAD_TICKET_KEY);
  } else if ((auth as { mode: unknown }).mode !== 'session') {
    throw new NginxConfigValueError('auth', `${JSON.stringify((auth as { mode: unknown }).mode)} is not "session" or "ticket"`);
  }
  const { workers } = values;
  if (workers !== undefined && workers !== 'auto' && !(Number.isInteger(workers) && workers >= 1 && workers <= MAX_WORKERS)) throw badWorkers(workers);
}

function badWorkers(workers: unknown): NginxConfigValueError {
  return new NginxConfigValueError('workers', `${JSON.stringify(workers)} is not "auto" or a number of workers (1-${MAX_WORKERS})`);
}

/** `workers` from text (an option or environment variable): `auto` or a whole number, else the error validation gives. */
export function parseWorkers(raw: string): number | 'auto' {
  if (raw === 'auto') return raw;
  if (!/^\d+$/.test(raw)) throw badWorkers(raw);
  return Number(raw);
}

/** Whether the configuration needs njs loaded (ticket mode). */
export function needsJsModule(values: Pick<NginxConfigValues, 'auth'>): boolean {
  return values.auth?.mode === 'ticket';
}

/** `worker_processes` for these values: the given one, else what the server survives (see NginxConfigValues.workers). */
export function workerProcesses(values: Pick<NginxConfigValues, 'server' | 'workers'>): string {
  return String(values.workers ?? (createDialect(values.server).survivesWorkerDeath ? 'auto' : 1));
}

/** Replaces `${NAME}` placeholders; an unknown name is an error rather than an empty string. */
export function renderTemplate(template: string, vars: Record<string, string>): string {
  return template.replace(/\$\{([A-Z_]+)\}/g, (_m, name: string) => {
    if (!(name in vars)) throw new Error(`nginx template uses \${${name}}, which has no value`);
    return vars[name];
  });
}

/** The http-context lines and the subscriber locations' check of ticket mode. */
async function ticketVerifier(ticketKey: string, configDir: string): Promise<{ http: string; subscriber: string }> {
  // Checked again here: it is written into the config, and NginxTestServer does not validate.
  if (!TICKET_KEY.test(ticketKey)) throw new NginxConfigValueError('auth', BAD_TICKET_KEY);
  const script = join(configDir, TICKET_SCRIPT);
  // Written into the config as is: nothing that would end the directive or name a variable.
  if (!/^\/[^"'\\$\s;{}]+$/.test(script)) throw new Error(`${script}: the ticket script's path cannot be written into the nginx config as is`);
  await access(script).catch(() => {
    throw new Error(`${script} is missing: ticket mode needs the package's nginx/${TICKET_SCRIPT} next to the templates`);
  });
  return {
    http: [
      '',
      '',
      '# Signed subscription tickets: every subscriber location answers 403 unless ?ticket= signs its',
      '# channels with this key and has not expired. nginx checks it itself (njs) and never asks the app.',
      '# The key is deriveTicketKey(secret): keep this file as private as the secret.',
      `js_import push_stream_ticket from ${script};`,
      `js_var $push_stream_ticket_key ${ticketKey};`,
      'js_set $push_stream_ticket_ok push_stream_ticket.verify;',
    ].join('\n'),
    subscriber: 'if ($push_stream_ticket_ok != "1") { return 403; }',
  };
}

async function placeholders(values: NginxConfigValues, configDir: string): Promise<Record<string, string>> {
  const { tls, auth } = values;
  const verifier = auth?.mode === 'ticket' ? await ticketVerifier(auth.ticketKey, configDir) : { http: '', subscriber: 'auth_request /_push_stream_auth;' };
  return {
    NGINX_LISTEN: tls ? `${values.listen} ssl` : values.listen,
    NGINX_TLS: tls ? `\n  ssl_certificate ${tls.certificate};\n  ssl_certificate_key ${tls.key};` : '',
    NGINX_PUB_LISTEN: values.pubListen,
    NGINX_PUB_ALLOW: values.pubAllow,
    APP_SERVERS: values.app.split(',').map((instance) => `  server ${instance};`).join('\n'),
    NGINX_SUBSCRIBER_AUTH: verifier.subscriber,
    NGINX_TICKET_VERIFIER: verifier.http,
  };
}

/** The server's `http`-context configuration (`server` blocks and the module's settings), for an `include`. */
export async function renderServerConfig(values: NginxConfigValues, configDir = NGINX_CONFIG_DIR): Promise<string> {
  return renderTemplate(await readFile(join(configDir, `${values.server}.conf.template`), 'utf8'), await placeholders(values, configDir));
}

/**
 * A whole main configuration (nginx.conf.template) that `include`s `serverConfigFile`, for
 * `nginx -p <folder> -c <file>`: logs, pid and temporary files live under that folder.
 * `loadModules` are the `load_module` lines, one per line ('' for a module compiled in): the
 * server's module, and njs in ticket mode (needsJsModule).
 */
export async function renderMainConfig(
  values: Pick<NginxConfigValues, 'server' | 'workers'>,
  serverConfigFile: string,
  loadModules: string,
  configDir = NGINX_CONFIG_DIR,
): Promise<string> {
  return renderTemplate(await readFile(join(configDir, 'nginx.conf.template'), 'utf8'), {
    NGINX_LOAD_MODULES: loadModules,
    NGINX_WORKER_PROCESSES: workerProcesses(values),
    NGINX_SERVER_CONF: serverConfigFile,
  });
}

/** One self-contained main configuration: the main template with the server configuration inlined. */
export async function renderStandaloneConfig(values: NginxConfigValues, loadModules: string, configDir = NGINX_CONFIG_DIR): Promise<string> {
  const marker = '/nestjs-push-stream/server.conf';
  const main = await renderMainConfig(values, marker, loadModules, configDir);
  const include = `include ${marker};`;
  if (!main.includes(include)) throw new Error(`nginx.conf.template no longer has "include \${NGINX_SERVER_CONF};"`);
  const server = (await renderServerConfig(values, configDir)).trimEnd().replace(/^(?=.)/gm, '  ');
  return main.replace(`  ${include}`, server.trimStart().replace(/^/, '  '));
}
