import { access, readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDialect, describeServerKinds, isServerKind } from '../dialects/create-dialect.js';
import { redactUrl } from '../errors/push-stream.exception.js';
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
  /**
   * Where nginx asks about subscriptions (`AUTH_SERVERS`): `host:port`, several separated by commas,
   * like `app`. Default: `app` itself. Point it at PushStreamModule's auth listener (`PushStreamAuthListenerModule`)
   * to answer subscriptions outside Express.
   */
  authApp?: string;
  /** TLS on the public listener (`NGINX_TLS`): PEM certificate chain and key files. */
  tls?: { certificate: string; key: string };
  /**
   * How subscriber locations decide (`NGINX_SUBSCRIBER_AUTH`, `NGINX_TICKET_VERIFIER`). `session`
   * (default): nginx asks the app (`auth_request`). `ticket`: nginx checks a signed `?ticket=`
   * itself with njs (nginx/push-stream-ticket.js) and never asks the app. `secure-link`: the same
   * with nginx's secure_link module (MD5 flavor, no njs, no `.b<n>` paths). `ticketKey` is
   * `deriveTicketKey(secret)`, written into the config (never the secret).
   */
  auth?: NginxSubscriberAuth;
  /**
   * `worker_processes` of the main configuration (`NGINX_WORKER_PROCESSES`). Default: `auto` for a
   * server that survives the death of a worker (push-stream), else 1 (Nchan).
   */
  workers?: number | 'auto';
  /**
   * Nchan only: a Redis several nginx nodes share (`NCHAN_REDIS_UPSTREAM`, `NCHAN_REDIS_PASS`), as
   * `redis://[[user]:password@]host[:port][/db]`. Every channel location then keeps its channels,
   * stored messages and subscriber counts there, so a message published to one node reaches
   * subscribers on all of them. Written into the config as is (Nchan does not percent-decode the
   * password): keep a config holding a password private. Refused for push-stream, which has no
   * shared store (list every node in the app's `publisherUrl` instead).
   */
  redis?: string;
}

export type NginxSubscriberAuth = { mode: 'session' } | { mode: 'ticket' | 'secure-link'; ticketKey: string };

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

/** An upstream's instances, `host:port` separated by commas, each refused as the field's. */
function checkUpstream(field: 'app' | 'authApp', raw: string): void {
  for (const instance of raw.split(',')) hostPort(field, instance, true);
}

/** An upstream block's `server` lines, one per instance. */
function upstreamServers(raw: string): string {
  return raw.split(',').map((instance) => `  server ${instance};`).join('\n');
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
  checkUpstream('app', values.app);
  if (values.authApp !== undefined) checkUpstream('authApp', values.authApp);
  for (const file of values.tls ? [values.tls.certificate, values.tls.key] : []) {
    // Written into the config as is: no spaces, quotes, semicolons or braces that would end the directive.
    if (!/^\/[^\s;{}'"\\$]+$/.test(file)) throw new NginxConfigValueError('tls', `${JSON.stringify(file)} is not an absolute file path nginx can read as is`);
  }
  const auth = values.auth ?? { mode: 'session' };
  if (auth.mode === 'ticket' || auth.mode === 'secure-link') {
    if (typeof auth.ticketKey !== 'string' || !TICKET_KEY.test(auth.ticketKey)) throw new NginxConfigValueError('auth', BAD_TICKET_KEY);
  } else if ((auth as { mode: unknown }).mode !== 'session') {
    throw new NginxConfigValueError('auth', `${JSON.stringify((auth as { mode: unknown }).mode)} is not "session", "ticket" or "secure-link"`);
  }
  const { workers } = values;
  if (workers !== undefined && workers !== 'auto' && !(Number.isInteger(workers) && workers >= 1 && workers <= MAX_WORKERS)) throw badWorkers(workers);
  if (values.redis !== undefined) checkRedis(values.server, values.redis);
}

/** The upstream that nginx/nchan.conf.template's locations pass to Redis (`nchan_redis_pass`). */
export const NCHAN_REDIS_UPSTREAM = 'push_stream_redis';

/**
 * A Redis URL as errors show it: redactUrl hides user and password up to the first `/`, `?`, `#`
 * or space, so a refused URL with one of those in its password is cut at its last `@` first.
 */
function shownRedisUrl(raw: string): string {
  const at = raw.lastIndexOf('@');
  if (at < 0) return redactUrl(raw);
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(raw)?.[0] ?? '';
  return redactUrl(`${scheme}***@${raw.slice(at + 1)}`);
}

/**
 * Refuses a `redis` value Nchan would misread or nginx could not take as one directive argument,
 * naming the problem and never the password. Nchan 1.3.6 reads `redis://[[user]:password@]host[:port][/db]`
 * itself: the credentials end at the first `@`, the password is used verbatim (no percent-decoding),
 * and an IPv6 address cannot be written.
 */
function checkRedis(server: PushStreamServerKind, raw: string): void {
  const refuse = (problem: string) => new NginxConfigValueError('redis', problem);
  if (!createDialect(server).sharesChannelsThroughRedis) {
    throw refuse(
      'the Push Stream Module has no cluster support (no store shared between nginx nodes): run independent nodes ' +
        "and list every node's publisher in the application's publisherUrl instead (README, \"Publishing\")",
    );
  }
  const shown = JSON.stringify(shownRedisUrl(raw));
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(?:(.*)@)?([^@]*)$/.exec(raw);
  if (!m) throw refuse(`${shown} is not redis://[[user]:password@]host[:port][/db]`);
  if (m[1] !== 'redis') throw refuse(`${shown}: the scheme must be redis:// (TLS to Redis, rediss://, is not rendered)`);
  const credentials = m[2];
  if (credentials !== undefined) {
    const colon = credentials.indexOf(':');
    if (colon < 0) throw refuse(`${shown}: write the credentials as :password@ or user:password@ (Nchan reads nothing else)`);
    if (!/^[A-Za-z0-9._~-]*$/.test(credentials.slice(0, colon))) throw refuse(`${shown}: the user name may hold only letters, digits and . _ ~ -`);
    if (!/^[A-Za-z0-9._~!%&*+,=:-]*$/.test(credentials.slice(colon + 1))) {
      throw refuse(
        `${shown}: the password holds a character that cannot be written into the nginx config as is ` +
          '(Nchan uses it verbatim, without percent-decoding): use letters, digits and . _ ~ ! % & * + , = : -',
      );
    }
  }
  const where = /^([^:/]*)(?::([^/]*))?(?:\/(.*))?$/.exec(m[3]);
  const host = where?.[1] ?? '';
  if (!where || host.startsWith('[')) throw refuse(`${shown}: Nchan cannot read an IPv6 address in a Redis URL; use a host name`);
  if (!(isIP(host) === 4 || HOSTNAME.test(host))) throw refuse(`${shown}: ${JSON.stringify(host)} is not an IP address or host name`);
  if (where[2] !== undefined) port('redis', where[2]);
  if (where[3] !== undefined && !/^\d{1,5}$/.test(where[3])) throw refuse(`${shown}: the database after the host is a number (/0)`);
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

/** Whether the configuration needs njs loaded (ticket mode; not secure-link, which is nginx's own). */
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

/**
 * The http-context lines and the subscriber locations' check of secure-link mode: the MD5 flavor of
 * tickets (signTicket(..., 'secure-link-md5')), checked by nginx's ngx_http_secure_link_module with
 * no njs and nothing kept per subscriber beyond the request's own variables. The ticket is split by
 * two maps; $secure_link is "1" when the MD5 of "<expiry>:<channel path> <key>" matches and the
 * expiry is not before now, "0" when it is, empty otherwise. A channel path with a `.b<n>` suffix is
 * refused: nginx cannot strip it as the njs check does, and the app never signs one.
 */
function secureLinkVerifier(ticketKey: string): { http: string; subscriber: string } {
  // Checked again here: it is written into the config, and NginxTestServer does not validate.
  if (!TICKET_KEY.test(ticketKey)) throw new NginxConfigValueError('auth', BAD_TICKET_KEY);
  return {
    http: [
      '',
      '',
      '# Signed subscription tickets, secure-link flavor: every subscriber location answers 403 unless',
      '# ?ticket=<expiry>.<base64url MD5 of "<expiry>:<channels> <key>"> matches and has not expired.',
      '# nginx checks it itself (secure_link module) and never asks the app. The key is',
      '# deriveTicketKey(secret): keep this file as private as the secret.',
      'map $arg_ticket $push_stream_ticket_expires { default \'\'; "~^(\\d{1,12})\\.[A-Za-z0-9_-]{21}[AQgw]$" $1; }',
      'map $arg_ticket $push_stream_ticket_hash { default \'\'; "~^\\d{1,12}\\.([A-Za-z0-9_-]{21}[AQgw])$" $1; }',
      'secure_link $push_stream_ticket_hash,$push_stream_ticket_expires;',
      `secure_link_md5 "$push_stream_ticket_expires:$push_channels ${ticketKey}";`,
      '# Tried in order: a .b<n> suffix in the channel path refuses, then a matching unexpired ticket opens.',
      'map "$secure_link:$push_channels" $push_stream_ticket_ok {',
      '  volatile;',
      "  default '';",
      "  \"~\\.b\\d+(/|$)\" '';",
      '  "~^1:" 1;',
      '}',
    ].join('\n'),
    subscriber: 'if ($push_stream_ticket_ok != "1") { return 403; }',
  };
}

async function placeholders(values: NginxConfigValues, configDir: string): Promise<Record<string, string>> {
  const { tls, auth } = values;
  const verifier =
    auth?.mode === 'ticket'
      ? await ticketVerifier(auth.ticketKey, configDir)
      : auth?.mode === 'secure-link'
        ? secureLinkVerifier(auth.ticketKey)
        : { http: '', subscriber: 'auth_request /_push_stream_auth;' };
  return {
    NGINX_LISTEN: tls ? `${values.listen} ssl` : values.listen,
    NGINX_TLS: tls ? `\n  ssl_certificate ${tls.certificate};\n  ssl_certificate_key ${tls.key};` : '',
    NGINX_PUB_LISTEN: values.pubListen,
    NGINX_PUB_ALLOW: values.pubAllow,
    APP_SERVERS: upstreamServers(values.app),
    AUTH_SERVERS: upstreamServers(values.authApp ?? values.app),
    NGINX_SUBSCRIBER_AUTH: verifier.subscriber,
    NGINX_TICKET_VERIFIER: verifier.http,
    ...redisLines(values),
  };
}

/**
 * The Nchan template's Redis lines: none for one node. In each channel location: Nchan 1.3.6 does
 * not pass a server-level nchan_redis_pass on to its locations (measured: they kept to memory).
 * Checked here too: NginxTestServer does not validate.
 */
function redisLines({ server, redis }: Pick<NginxConfigValues, 'server' | 'redis'>): Record<'NCHAN_REDIS_UPSTREAM' | 'NCHAN_REDIS_PASS', string> {
  if (redis === undefined) return { NCHAN_REDIS_UPSTREAM: '', NCHAN_REDIS_PASS: '' };
  checkRedis(server, redis);
  return {
    NCHAN_REDIS_UPSTREAM: [
      '',
      '',
      '# Several nodes: every nginx rendered with this Redis keeps its channels, stored messages and',
      '# subscriber counts there, so a message published to one node reaches subscribers on all of them.',
      '# Each channel location below passes it (nchan_redis_pass). Holds the password, if any: keep this file private.',
      `upstream ${NCHAN_REDIS_UPSTREAM} {`,
      `  nchan_redis_server ${redis};`,
      '}',
    ].join('\n'),
    NCHAN_REDIS_PASS: `\n    nchan_redis_pass ${NCHAN_REDIS_UPSTREAM};`,
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
