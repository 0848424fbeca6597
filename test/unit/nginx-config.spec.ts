// Checks the shipped nginx templates as text, with no nginx; test/e2e/nginx-config.e2e.spec.ts
// runs `nginx -t` on them with both modules.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  NGINX_CONFIG_DIR,
  NginxConfigValueError,
  needsJsModule,
  renderMainConfig,
  renderServerConfig,
  renderTemplate,
  TICKET_SCRIPT,
  validateNginxConfigValues,
  type NginxConfigValues,
} from '../../lib/nginx-config/nginx-config.js';
import type { PushStreamServerKind } from '../../lib/options/push-stream-options.interface.js';
import { deriveTicketKey, signTicket } from '../../lib/tickets/subscription-ticket.js';

const read = (name: string) => readFile(join(NGINX_CONFIG_DIR, name), 'utf8');

/** Values whose rendering is easy to search: the public listener, the internal one, the app. */
const valuesFor = (server: PushStreamServerKind, extra: Partial<NginxConfigValues> = {}): NginxConfigValues => ({
  server,
  listen: '127.0.0.1:9080',
  pubListen: '127.0.0.1:9081',
  pubAllow: '10.0.0.0/8',
  app: '127.0.0.1:3000',
  ...extra,
});
const PUBLIC = '127.0.0.1:9080';
const INTERNAL = '127.0.0.1:9081';
const KEY = deriveTicketKey('unit-test-secret-0123456789');
const AUTH_REQUEST = 'auth_request /_push_stream_auth;';
const TICKET_CHECK = 'if ($push_stream_ticket_ok != "1") { return 403; }';

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

/** The server block that listens on `listen` (the public or the internal listener). */
function server(conf: string, listen: string): string {
  const blocks = conf.split(/\nserver \{/).slice(1);
  const block = blocks.find((b) => b.includes(`listen ${listen};`));
  if (!block) throw new Error(`no server listening on ${listen}`);
  return block;
}

/** An nginx quoted string as nginx reads it: \" and \\ unescaped, \n a newline. */
function nginxString(quoted: string): string {
  return quoted.replace(/\\(["\\n])/g, (_m, c: string) => (c === 'n' ? '\n' : c));
}

const SUBSCRIBERS = ['^/sub/(.*)$', '^/ws/(.*)$', '^/ev/(.*)$', '^/lp/(.*)$'];

describe.each(['nchan', 'push-stream'] as const)('nginx/%s.conf.template, rendered (session mode)', (kind) => {
  let conf: string;
  beforeAll(async () => {
    conf = await renderServerConfig(valuesFor(kind));
  });

  it.each(SUBSCRIBERS)('subscriber location %s asks the app first, with the channels the module reads', (pattern) => {
    const body = location(server(conf, PUBLIC), `~ ${pattern}`);
    expect(body).toContain('set $push_channels $1;');
    expect(body).toContain(AUTH_REQUEST);
    expect(body).not.toContain('ticket');
    expect(body).toMatch(kind === 'nchan' ? /nchan_channel_id \$push_channels;/ : /push_stream_channels_path \$push_channels;/);
    if (kind === 'push-stream') expect(body).toContain('if ($arg_callback) { return 403; }');
  });

  it('keeps the auth location internal, without the body, forwarding cookie and channels', () => {
    const body = location(conf, '= /_push_stream_auth');
    for (const line of ['internal;', 'proxy_pass_request_body off;', 'proxy_set_header Cookie $http_cookie;',
      'proxy_set_header X-Push-Stream-Channels $push_channels;']) {
      expect(body).toContain(line);
    }
    expect(location(server(conf, PUBLIC), '~* ^/push-stream/auth(/|$)')).toContain('return 404;');
  });

  it('asks the app over kept-alive HTTP/1.1 connections of its own upstream, with small buffers', () => {
    const body = location(conf, '= /_push_stream_auth');
    expect(conf).toMatch(/upstream push_stream_app \{\n  server 127\.0\.0\.1:3000;\n  keepalive \d+;\n  keepalive_timeout 4s;\n\}/);
    // Without authApp the auth upstream holds the app's instances.
    expect(conf).toMatch(/upstream push_stream_auth \{\n  server 127\.0\.0\.1:3000;\n  keepalive \d+;\n  keepalive_timeout 4s;\n\}/);
    expect(body).toContain('proxy_pass http://push_stream_auth/push-stream/auth;');
    expect(body).toContain('proxy_http_version 1.1;');
    expect(body).toMatch(/proxy_buffer_size 1k;\s+proxy_buffers 2 1k;/);
    expect(location(server(conf, PUBLIC), '/')).toContain('proxy_pass http://push_stream_app;');
  });

  it('sends the auth request no client header verbatim: forwarding headers from nginx’s own variables', () => {
    const body = location(conf, '= /_push_stream_auth');
    expect(body).toContain('proxy_pass_request_headers off;');
    const set = Object.fromEntries([...body.matchAll(/proxy_set_header (\S+) (.*);/g)].map((m) => [m[1].toLowerCase(), m[2]]));
    expect(set).toEqual({
      // Empty: the connection to the app is kept alive (the upstream's keepalive).
      connection: '""',
      'content-length': '""',
      cookie: '$http_cookie',
      'x-push-stream-channels': '$push_channels',
      'x-push-stream-server': kind,
      host: '$http_host',
      'x-forwarded-for': '$remote_addr',
      'x-forwarded-proto': '$scheme',
      'x-real-ip': '$remote_addr',
    });
  });

  it('never lets the auth request end in a 500 for a bad request: too large is refused first, unparsable is a 403', () => {
    const publicServer = server(conf, PUBLIC);
    // The three values the auth request carries from the visitor, bounded below Node's 16 KiB.
    const map = /map "\$http_cookie\$http_host\$push_channels" \$push_stream_auth_too_large \{([\s\S]*?)\n\}/.exec(conf);
    expect(map).not.toBeNull();
    const bound = Number(/"~\^\[\\s\\S\]\{(\d+)\}" 1;/.exec(map![1])?.[1]);
    expect(bound).toBeGreaterThan(8192);
    expect(bound).toBeLessThanOrEqual(16384 - 512);
    for (const pattern of SUBSCRIBERS) {
      const body = location(publicServer, `~ ${pattern}`);
      const guard = body.indexOf('if ($push_stream_auth_too_large) { return 494; }');
      expect(guard).toBeGreaterThan(body.indexOf('set $push_channels $1;'));
      expect(guard).toBeLessThan(body.indexOf('auth_request'));
    }
    const auth = location(conf, '= /_push_stream_auth');
    expect(auth).toContain('proxy_intercept_errors on;');
    expect(auth).toContain('error_page 400 431 = @push_stream_auth_refused;');
    expect(location(publicServer, '@push_stream_auth_refused')).toContain('return 403;');
  });

  it('publishes, deletes and reports statistics only on the internal listener, loopback and one network allowed', () => {
    const publicServer = server(conf, PUBLIC);
    const internal = server(conf, INTERNAL);
    expect(publicServer).not.toMatch(/nchan_publisher|push_stream_publisher|nchan_stub_status|push_stream_channels_statistics/);
    expect(location(internal, '= /pub')).toMatch(kind === 'nchan' ? /nchan_publisher;/ : /push_stream_publisher admin;/);
    expect(internal).toMatch(/allow 127\.0\.0\.1;\s+allow ::1;\s+allow 10\.0\.0\.0\/8;\s+deny all;/);
  });
});

describe.each(['nchan', 'push-stream'] as const)('nginx/%s.conf.template with authApp (the auth listener)', (kind) => {
  let session: string;
  let listener: string;
  beforeAll(async () => {
    session = await renderServerConfig(valuesFor(kind, { app: '127.0.0.1:3000,10.0.0.2:3000' }));
    listener = await renderServerConfig(valuesFor(kind, { app: '127.0.0.1:3000,10.0.0.2:3000', authApp: '127.0.0.1:3001,[::1]:3001' }));
  });

  it('sends the auth subrequests to the auth upstream, and everything else to the app', () => {
    expect(listener).toContain('upstream push_stream_auth {\n  server 127.0.0.1:3001;\n  server [::1]:3001;\n  keepalive 32;\n  keepalive_timeout 4s;\n}');
    expect(listener).toContain('upstream push_stream_app {\n  server 127.0.0.1:3000;\n  server 10.0.0.2:3000;\n  keepalive 32;\n  keepalive_timeout 4s;\n}');
    expect(location(listener, '= /_push_stream_auth')).toContain('proxy_pass http://push_stream_auth/push-stream/auth;');
    expect(location(server(listener, PUBLIC), '/')).toContain('proxy_pass http://push_stream_app;');
    // The public path stays closed: the listener answers nginx only.
    expect(location(server(listener, PUBLIC), '~* ^/push-stream/auth(/|$)')).toContain('return 404;');
  });

  it('differs from the default only in the auth upstream\'s servers', () => {
    const servers = /(upstream push_stream_auth \{\n)((?:  server \S+;\n)+)/;
    expect(servers.exec(session)![2]).toBe('  server 127.0.0.1:3000;\n  server 10.0.0.2:3000;\n');
    expect(listener.replace(servers, '$1')).toBe(session.replace(servers, '$1'));
  });

  it('comes from one placeholder in the template', async () => {
    const raw = await read(`${kind}.conf.template`);
    expect(raw.match(/\$\{AUTH_SERVERS\}/g)).toHaveLength(1);
    expect(raw).toContain('upstream push_stream_auth {\n${AUTH_SERVERS}\n');
  });

  it.each([
    ['127.0.0.1:3001; evil', /^authApp: "127\.0\.0\.1:3001; evil" is not host:port$/],
    ['bad_host:3001', /^authApp: "bad_host" is not an IP address or host name$/],
    ['127.0.0.1:3001,3002', /^authApp: "3002" is not host:port$/],
    ['127.0.0.1:70000', /^authApp: "70000" is not a port/],
    ['', /^authApp: "" is not host:port$/],
  ])('refuses authApp %j as it refuses app', (authApp, message) => {
    const refusal = (values: NginxConfigValues) => {
      try {
        validateNginxConfigValues(values);
      } catch (err) {
        return err;
      }
      throw new Error('accepted');
    };
    const bad = refusal(valuesFor(kind, { authApp }));
    expect(bad).toBeInstanceOf(NginxConfigValueError);
    expect((bad as NginxConfigValueError).field).toBe('authApp');
    expect((bad as Error).message).toMatch(message);
    // The same refusal app gets, but for the field's name.
    expect((refusal(valuesFor(kind, { app: authApp })) as Error).message).toBe((bad as Error).message.replace(/^authApp/, 'app'));
  });

  it('accepts what app accepts', () => {
    expect(() => validateNginxConfigValues(valuesFor(kind, { authApp: '127.0.0.1:3001,auth.internal:3001,[::1]:3001' }))).not.toThrow();
  });
});

describe.each(['nchan', 'push-stream'] as const)('nginx/%s.conf.template in ticket mode', (kind) => {
  let session: string;
  let ticket: string;
  beforeAll(async () => {
    session = await renderServerConfig(valuesFor(kind));
    ticket = await renderServerConfig(valuesFor(kind, { auth: { mode: 'ticket', ticketKey: KEY } }));
  });

  it('differs from session mode only in the njs lines and the check that replaces auth_request: limits, caps and guards stay', () => {
    const njs = /\n\n(?:#.*\n)+js_import push_stream_ticket from (\S+);\njs_var \$push_stream_ticket_key ([0-9a-f]{64});\njs_set \$push_stream_ticket_ok push_stream_ticket\.verify;/.exec(ticket);
    expect(njs).not.toBeNull();
    expect(njs![1]).toBe(join(NGINX_CONFIG_DIR, TICKET_SCRIPT));
    expect(njs![2]).toBe(KEY);
    expect(ticket.replace(njs![0], '').replaceAll(TICKET_CHECK, AUTH_REQUEST)).toBe(session);
  });

  it.each(SUBSCRIBERS)('%s checks the ticket after the channels are set and the size guard, and never asks the app', (pattern) => {
    const body = location(server(ticket, PUBLIC), `~ ${pattern}`);
    expect(body).not.toContain('auth_request');
    const check = body.indexOf(TICKET_CHECK);
    expect(check).toBeGreaterThan(body.indexOf('if ($push_stream_auth_too_large) { return 494; }'));
    expect(check).toBeGreaterThan(body.indexOf('set $push_channels $1;'));
    expect(body).toContain('limit_req zone=push_subscribers');
  });

  it('comes from the same template as session mode: one placeholder per subscriber location, one for the njs lines', async () => {
    const raw = await read(`${kind}.conf.template`);
    expect(raw.match(/\$\{NGINX_SUBSCRIBER_AUTH\}/g)).toHaveLength(SUBSCRIBERS.length);
    for (const pattern of SUBSCRIBERS) expect(location(raw, `~ ${pattern}`)).toContain('    ${NGINX_SUBSCRIBER_AUTH}\n');
    expect(raw.match(/\$\{NGINX_TICKET_VERIFIER\}/g)).toHaveLength(1);
  });

  it('nowhere sends a subscriber to the app: auth_request appears in no location', () => {
    expect(ticket).not.toContain('auth_request /');
  });

  it('writes the derived key, and refuses one that is not 64 lower-case hex characters', async () => {
    for (const ticketKey of [KEY.toUpperCase(), KEY.slice(1), `${KEY.slice(0, 63)}; include /etc/passwd`, '']) {
      const values = valuesFor(kind, { auth: { mode: 'ticket', ticketKey } });
      expect(() => validateNginxConfigValues(values)).toThrow(NginxConfigValueError);
      await expect(renderServerConfig(values)).rejects.toThrow(/64 lower-case hex/);
    }
  });
});

describe.each(['nchan', 'push-stream'] as const)('nginx/%s.conf.template in secure-link mode', (kind) => {
  let session: string;
  let secureLink: string;
  beforeAll(async () => {
    session = await renderServerConfig(valuesFor(kind));
    secureLink = await renderServerConfig(valuesFor(kind, { auth: { mode: 'secure-link', ticketKey: KEY } }));
  });

  /** The http-context lines secure-link mode adds (comments, two maps, secure_link, secure_link_md5, the verdict map). */
  const LINES =
    /\n\n(?:#.*\n)+map \$arg_ticket \$push_stream_ticket_expires \{[^\n]*\}\nmap \$arg_ticket \$push_stream_ticket_hash \{[^\n]*\}\nsecure_link (\S+);\nsecure_link_md5 "([^"]*)";\n#.*\nmap "\$secure_link:\$push_channels" \$push_stream_ticket_ok \{\n([^}]*)\}/;

  it('differs from session mode only in its http lines and the check that replaces auth_request; loads no script', () => {
    const lines = LINES.exec(secureLink);
    expect(lines).not.toBeNull();
    expect(lines![1]).toBe('$push_stream_ticket_hash,$push_stream_ticket_expires');
    expect(lines![2]).toBe(`$push_stream_ticket_expires:$push_channels ${KEY}`);
    // Order matters (nginx tries a map's regexes in order): a .b<n> path is refused before a good ticket opens.
    expect(lines![3]).toBe(`  volatile;\n  default '';\n  "~\\.b\\d+(/|$)" '';\n  "~^1:" 1;\n`);
    expect(secureLink.replace(lines![0], '').replaceAll(TICKET_CHECK, AUTH_REQUEST)).toBe(session);
    expect(secureLink).not.toMatch(/js_import|js_set|js_var/);
  });

  it('splits the ticket with the format signTicket writes: 1-12 digits, then 22 base64url characters ending in A, Q, g or w', () => {
    const expires = /map \$arg_ticket \$push_stream_ticket_expires \{ default ''; "~(\S+)" \$1; \}/.exec(secureLink)?.[1];
    const hash = /map \$arg_ticket \$push_stream_ticket_hash \{ default ''; "~(\S+)" \$1; \}/.exec(secureLink)?.[1];
    expect([expires, hash]).toEqual(['^(\\d{1,12})\\.[A-Za-z0-9_-]{21}[AQgw]$', '^\\d{1,12}\\.([A-Za-z0-9_-]{21}[AQgw])$']);
    for (const ticket of [signTicket(KEY, 'a/b', 1_800_000_000, 'secure-link-md5'), signTicket(KEY, '', 1, 'secure-link-md5')]) {
      expect(new RegExp(expires!).exec(ticket)?.[1]).toBe(ticket.split('.')[0]);
      expect(new RegExp(hash!).exec(ticket)?.[1]).toBe(ticket.split('.')[1]);
    }
  });

  it.each(SUBSCRIBERS)('%s checks the ticket after the channels are set and the size guard, and never asks the app', (pattern) => {
    const body = location(server(secureLink, PUBLIC), `~ ${pattern}`);
    expect(body).not.toContain('auth_request');
    const check = body.indexOf(TICKET_CHECK);
    expect(check).toBeGreaterThan(body.indexOf('if ($push_stream_auth_too_large) { return 494; }'));
    expect(check).toBeGreaterThan(body.indexOf('set $push_channels $1;'));
  });

  it('refuses a key that is not 64 lower-case hex characters', async () => {
    for (const ticketKey of [KEY.toUpperCase(), `${KEY.slice(0, 63)}"; include /etc/passwd`, '']) {
      const values = valuesFor(kind, { auth: { mode: 'secure-link', ticketKey } });
      expect(() => validateNginxConfigValues(values)).toThrow(NginxConfigValueError);
      await expect(renderServerConfig(values)).rejects.toThrow(/64 lower-case hex/);
    }
  });

  it('needs no njs', () => {
    expect(needsJsModule({ auth: { mode: 'secure-link', ticketKey: KEY } })).toBe(false);
    expect(needsJsModule({ auth: { mode: 'ticket', ticketKey: KEY } })).toBe(true);
  });
});

describe('nginx/nginx.conf.template: workers', () => {
  it.each([
    ['push-stream', undefined, 'auto'],
    ['nchan', undefined, '1'],
    ['nchan', 3, '3'],
    ['push-stream', 1, '1'],
    ['nchan', 'auto', 'auto'],
  ] as const)('%s with workers %s renders worker_processes %s', async (kind, workers, expected) => {
    const main = await renderMainConfig({ server: kind, workers }, '/x/server.conf', '');
    expect(main.match(/^worker_processes (\S+);$/gm)).toEqual([`worker_processes ${expected};`]);
  });

  it.each([0, -1, 1.5, 1025])('refuses workers %s', (workers) => {
    expect(() => validateNginxConfigValues(valuesFor('nchan', { workers }))).toThrow(/workers: .* is not "auto" or a number of workers/);
  });
});

describe('push-stream message templates', () => {
  let conf: string;
  beforeAll(async () => {
    conf = await renderServerConfig(valuesFor('push-stream'));
  });

  it.each(SUBSCRIBERS)('%s: the template yields valid JSON for a JSON message; stream mode ends with a newline', (pattern) => {
    const body = location(conf, `~ ${pattern}`);
    const m = /push_stream_message_template "((?:[^"\\]|\\.)*)";/.exec(body);
    expect(m).not.toBeNull();
    const template = nginxString(m![1]);
    const message = template
      .replace('~id~', '3')
      .replace('~channel~', 'my-app__all__')
      .replace('~text~', JSON.stringify({ message: ['Foobar'], quote: '"' }))
      .replace('~event-id~', 'e-1')
      .replace('~event-type~', 'chat')
      .replace('~time~', 'Tue, 24 Nov 2026 19:24:07 GMT')
      .replace('~tag~', '1');
    expect(JSON.parse(message)).toMatchObject({ id: 3, channel: 'my-app__all__', text: { message: ['Foobar'], quote: '"' } });
    // Stream mode concatenates messages with no separator (recording 20): a line per message.
    if (pattern.startsWith('^/sub/')) expect(template.endsWith('\n')).toBe(true);
  });

  it('pings and the channel-deleted notice are JSON values, since they fill ~text~ too', () => {
    const text = (directive: string) => JSON.parse(nginxString(new RegExp(`^${directive} "((?:[^"\\\\]|\\\\.)*)";`, 'm').exec(conf)![1]));
    expect(text('push_stream_ping_message_text')).toBe('');
    expect(text('push_stream_channel_deleted_message_text')).toBe('Channel deleted');
  });

  it('/sub/ opens with a JSON ping line, so nginx sends its headers at once, and pings while idle', () => {
    const body = location(conf, '~ ^/sub/(.*)$');
    const header = nginxString(/push_stream_header_template "((?:[^"\\]|\\.)*)";/.exec(body)![1]);
    expect(header.endsWith('\n')).toBe(true);
    expect(JSON.parse(header)).toMatchObject({ id: -1, text: '' });
    expect(body).toMatch(/push_stream_ping_message_interval \d+s;/);
  });

  it.each(SUBSCRIBERS)('%s resumes from ?tag=&time=, else from If-None-Match / If-Modified-Since', (pattern) => {
    const body = location(conf, `~ ${pattern}`);
    expect(body).toContain('push_stream_last_received_message_tag $push_stream_last_tag;');
    expect(body).toContain('push_stream_last_received_message_time $push_stream_last_time;');
    expect(conf).toContain("map $arg_tag $push_stream_last_tag { '' $http_if_none_match; default $arg_tag; }");
    expect(conf).toContain("map $arg_time $push_stream_last_time { '' $http_if_modified_since; default $arg_time; }");
  });
});

describe('renderTemplate', () => {
  it('refuses to render a template with an unknown placeholder', () => {
    expect(() => renderTemplate('listen ${NGINX_PORT};', {})).toThrow(/NGINX_PORT/);
  });
});

