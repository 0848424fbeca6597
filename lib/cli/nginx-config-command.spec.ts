import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deriveTicketKey } from '../tickets/subscription-ticket.js';
import { runNginxConfig, type NginxConfigMachine } from './nginx-config-command.js';

function capture() {
  const out = { stdout: '', stderr: '' };
  return { out, io: { stdout: (t: string) => void (out.stdout += t), stderr: (t: string) => void (out.stderr += t) } };
}

/** A machine with the module at a fixed path whose nginx -t answers `verdict`. */
function machine(verdict: string | null = null): NginxConfigMachine & { tested: string[] } {
  const tested: string[] = [];
  return {
    tested,
    loadModule: (server) => ({ line: `load_module /mods/${server}.so;` }),
    loadJsModule: () => ({ line: 'load_module /mods/njs.so;' }),
    test: async (config) => {
      tested.push(config);
      return verdict;
    },
  };
}

describe('nestjs-push-stream nginx-config', () => {
  it('prints the server template filled in, with the module line to add, and runs nothing without --check', async () => {
    const { out, io } = capture();
    const m = machine();
    const code = await runNginxConfig(['--server', 'nchan', '--listen', '80', '--app', 'api.internal:3000'], {}, io, m);
    expect(code).toBe(0);
    expect(out.stderr).toBe('');
    expect(out.stdout).toContain('#   load_module /mods/nchan.so;');
    expect(out.stdout).toContain('listen 80;');
    expect(out.stdout).toContain('listen 127.0.0.1:9081;');
    expect(out.stdout).toContain('upstream push_stream_app {\n  server api.internal:3000;\n  keepalive 32;\n  keepalive_timeout 4s;\n}');
    expect(out.stdout).toContain('proxy_pass http://push_stream_app;');
    expect(out.stdout).toContain('nchan_subscriber websocket;');
    expect(out.stdout).not.toMatch(/\$\{[A-Z_]+\}/);
    expect(m.tested).toEqual([]);
  });

  it('reads the templates\' own variables when no option is given; options win', async () => {
    const env = { NGINX_PUSH_STREAM_SERVER: 'push-stream', NGINX_LISTEN: '127.0.0.1:8080', NGINX_PUB_ALLOW: '10.0.0.0/8', APP_UPSTREAM: '10.0.0.11:3000,10.0.0.12:3000' };
    const { out, io } = capture();
    expect(await runNginxConfig(['--listen', '8081'], env, io, machine())).toBe(0);
    expect(out.stdout).toContain('listen 8081;');
    expect(out.stdout).toContain('allow 10.0.0.0/8;');
    expect(out.stdout).toContain('  server 10.0.0.11:3000;\n  server 10.0.0.12:3000;\n');
    expect(out.stdout).toContain('push_stream_subscriber websocket;');
  });

  it('--standalone prints one main configuration with the module loaded and the server part inside http', async () => {
    const { out, io } = capture();
    expect(await runNginxConfig(['--standalone'], {}, io, machine())).toBe(0);
    const lines = out.stdout.split('\n');
    expect(lines.some((l) => l === 'load_module /mods/push-stream.so;')).toBe(true);
    expect(out.stdout).not.toContain('include ');
    const http = out.stdout.indexOf('http {');
    expect(http).toBeGreaterThan(0);
    expect(out.stdout.indexOf('push_stream_shared_memory_size')).toBeGreaterThan(http);
  });

  it('--check runs nginx -t on the whole configuration and reports its verdict', async () => {
    const ok = capture();
    const passing = machine(null);
    expect(await runNginxConfig(['--check'], {}, ok.io, passing)).toBe(0);
    expect(ok.out.stderr).toBe('nginx -t: the configuration is valid\n');
    expect(passing.tested[0]).toContain('load_module /mods/push-stream.so;');

    const bad = capture();
    expect(await runNginxConfig(['--check'], {}, bad.io, machine('[emerg] host not found in upstream "app"'))).toBe(1);
    expect(bad.out.stderr).toContain('nginx -t refused the configuration:\n[emerg] host not found in upstream "app"');
  });

  it('--check without the module fails with how to get it, after printing the config with a placeholder line', async () => {
    const { out, io } = capture();
    const missing: NginxConfigMachine = {
      loadModule: () => ({ missing: 'no module: npx nestjs-push-stream build-module' }),
      loadJsModule: () => ({ line: '' }),
      test: async () => null,
    };
    expect(await runNginxConfig(['--standalone', '--check'], {}, io, missing)).toBe(1);
    expect(out.stdout).toContain('# load_module <path>;');
    expect(out.stderr).toContain('npx nestjs-push-stream build-module');
  });

  it.each([
    [['--listen', '70000'], '--listen (NGINX_LISTEN): "70000" is not a port (1-65535)'],
    [['--listen', 'localhost:'], '--listen (NGINX_LISTEN): "localhost:" is not port, host:port or [IPv6]:port'],
    [['--app', '127.0.0.1:3000; evil'], '--app (APP_UPSTREAM): "127.0.0.1:3000; evil" is not host:port'],
    [['--app', 'bad_host:3000'], '--app (APP_UPSTREAM): "bad_host" is not an IP address or host name'],
    [['--app', 'app_pool'], '--app (APP_UPSTREAM): "app_pool" is not host:port'],
    [['--app', '10.0.0.1:3000', '--app', '10.0.0.2'], '--app (APP_UPSTREAM): "10.0.0.2" is not host:port'],
    [['--auth-app', '127.0.0.1:3001; evil'], '--auth-app (AUTH_UPSTREAM): "127.0.0.1:3001; evil" is not host:port'],
    [['--auth-app', '127.0.0.1:3001', '--auth-app', 'bad_host:3001'], '--auth-app (AUTH_UPSTREAM): "bad_host" is not an IP address or host name'],
    [['--pub-allow', '10.0.0.0/33'], '--pub-allow (NGINX_PUB_ALLOW): "10.0.0.0/33" is not an address or CIDR network'],
    [['--pub-allow', 'all'], '--pub-allow (NGINX_PUB_ALLOW): "all" is not an address or CIDR network'],
    [['--server', 'apache'], '--server (NGINX_PUSH_STREAM_SERVER): "apache" is not "push-stream" or "nchan"'],
    [['--listen', '9081'], '--pub-listen (NGINX_PUB_LISTEN): the publisher cannot share 127.0.0.1:9081 with the public listener 9081'],
    [['--pub-listen', '9081', '--listen', '9080'], '--pub-listen (NGINX_PUB_LISTEN): "9081" is not a loopback address'],
    [['--pub-listen', '0.0.0.0:9081'], '--pub-listen (NGINX_PUB_LISTEN): "0.0.0.0:9081" is not a loopback address'],
    [['--pub-listen', '[::]:9081'], '--pub-listen (NGINX_PUB_LISTEN): "[::]:9081" is not a loopback address'],
    [['--bogus'], "Unknown option '--bogus'"],
    [['--tls-cert', '/etc/ssl/cert.pem'], '--tls-cert, --tls-key (NGINX_TLS_CERT, NGINX_TLS_KEY): give both the certificate and its key, or neither'],
    [['--tls-cert', 'cert.pem', '--tls-key', '/k.pem'], '--tls-cert, --tls-key (NGINX_TLS_CERT, NGINX_TLS_KEY): "cert.pem" is not an absolute file path'],
    [['--tls-cert', '/c.pem; include /etc/passwd', '--tls-key', '/k.pem'], 'is not an absolute file path nginx can read as is'],
  ])('refuses %j with exit 2 and prints no configuration', async (argv, message) => {
    const { out, io } = capture();
    expect(await runNginxConfig(argv, {}, io, machine())).toBe(2);
    expect(out.stdout).toBe('');
    expect(out.stderr).toContain(message);
  });

  it('lets the publisher listen on a private address only when told', async () => {
    const { out, io } = capture();
    expect(await runNginxConfig(['--public-publisher', '--pub-listen', '10.1.2.3:9081', '--pub-allow', '10.1.0.0/16'], {}, io, machine())).toBe(0);
    expect(out.stdout).toContain('listen 10.1.2.3:9081;');
    expect(out.stdout).toMatch(/allow 127\.0\.0\.1;\s+allow ::1;\s+allow 10\.1\.0\.0\/16;\s+deny all;/);
  });

  it('--tls-cert/--tls-key make the public listener TLS, and only that one', async () => {
    const { out, io } = capture();
    expect(await runNginxConfig(['--listen', '443', '--tls-cert', '/etc/ssl/chain.pem', '--tls-key', '/etc/ssl/key.pem'], {}, io, machine())).toBe(0);
    expect(out.stdout).toContain('  listen 443 ssl;\n  ssl_certificate /etc/ssl/chain.pem;\n  ssl_certificate_key /etc/ssl/key.pem;\n');
    expect(out.stdout).toContain('listen 127.0.0.1:9081;');
    expect(out.stdout.match(/ssl_certificate /g)).toHaveLength(1);
    const plain = capture();
    expect(await runNginxConfig([], {}, plain.io, machine())).toBe(0);
    expect(plain.out.stdout).toContain('  listen 9080;\n');
    expect(plain.out.stdout).not.toContain('ssl');
  });

  it('--app repeated: one upstream server line per instance', async () => {
    const { out, io } = capture();
    expect(await runNginxConfig(['--app', '10.0.0.11:3000', '--app', 'app2.internal:3000'], {}, io, machine())).toBe(0);
    expect(out.stdout).toContain('upstream push_stream_app {\n  server 10.0.0.11:3000;\n  server app2.internal:3000;\n  keepalive 32;\n  keepalive_timeout 4s;\n}');
  });

  it('--auth-app repeated: the auth subrequests go to its own upstream, the rest to --app', async () => {
    const { out, io } = capture();
    expect(await runNginxConfig(['--app', '10.0.0.11:3000', '--auth-app', '10.0.0.11:3001', '--auth-app', '[::1]:3001'], {}, io, machine())).toBe(0);
    expect(out.stdout).toContain('upstream push_stream_app {\n  server 10.0.0.11:3000;\n  keepalive 32;\n  keepalive_timeout 4s;\n}');
    expect(out.stdout).toContain('upstream push_stream_auth {\n  server 10.0.0.11:3001;\n  server [::1]:3001;\n  keepalive 32;\n  keepalive_timeout 4s;\n}');
    expect(out.stdout).toContain('proxy_pass http://push_stream_auth/push-stream/auth;');
    expect(out.stdout).toContain('proxy_pass http://push_stream_app;');
  });

  it('reads AUTH_UPSTREAM; the option wins; without either (or empty) the app answers', async () => {
    const auth = (stdout: string) => /upstream push_stream_auth \{\n((?:  server \S+;\n)+)/.exec(stdout)?.[1];
    const fromEnv = capture();
    expect(await runNginxConfig(['--app', '10.0.0.11:3000'], { AUTH_UPSTREAM: '10.0.0.11:3001,10.0.0.12:3001' }, fromEnv.io, machine())).toBe(0);
    expect(auth(fromEnv.out.stdout)).toBe('  server 10.0.0.11:3001;\n  server 10.0.0.12:3001;\n');
    const both = capture();
    expect(await runNginxConfig(['--auth-app', '127.0.0.1:3002'], { AUTH_UPSTREAM: '10.0.0.11:3001' }, both.io, machine())).toBe(0);
    expect(auth(both.out.stdout)).toBe('  server 127.0.0.1:3002;\n');
    for (const env of [{}, { AUTH_UPSTREAM: '' }]) {
      const none = capture();
      expect(await runNginxConfig(['--app', '10.0.0.11:3000', '--app', '10.0.0.12:3000'], env, none.io, machine())).toBe(0);
      expect(auth(none.out.stdout)).toBe('  server 10.0.0.11:3000;\n  server 10.0.0.12:3000;\n');
    }
  });

  it('--help names every option with its environment variable', async () => {
    const { out, io } = capture();
    expect(await runNginxConfig(['--help'], {}, io, machine())).toBe(0);
    for (const words of ['--auth <session|ticket|secure-link>', 'NGINX_AUTH', '--ticket-key-file <file>', 'NGINX_PUSH_STREAM_SECRET', 'libnginx-mod-http-js', '--workers <auto|n>', 'NGINX_WORKERS', '--redis <url>', 'NCHAN_REDIS_URL', '--auth-app <host:port>', 'AUTH_UPSTREAM']) {
      expect(out.stdout).toContain(words);
    }
  });

  describe('--workers', () => {
    it.each([
      ['push-stream', [], 'auto'],
      ['nchan', [], '1'],
      ['nchan', ['--workers', '4'], '4'],
      ['push-stream', ['--workers', '1'], '1'],
    ])('%s %j: the stand-alone config runs worker_processes %s, and the include names it', async (server, extra, expected) => {
      const standalone = capture();
      expect(await runNginxConfig(['--server', server, '--standalone', ...extra], {}, standalone.io, machine())).toBe(0);
      expect(standalone.out.stdout.match(/^worker_processes \S+;$/gm)).toEqual([`worker_processes ${expected};`]);
      const include = capture();
      expect(await runNginxConfig(['--server', server, ...extra], {}, include.io, machine())).toBe(0);
      expect(include.out.stdout).toContain(`# Workers, in the main context: worker_processes ${expected};`);
      expect(include.out.stdout).not.toMatch(/^worker_processes/m);
    });

    it('reads NGINX_WORKERS; the option wins', async () => {
      const fromEnv = capture();
      expect(await runNginxConfig(['--standalone'], { NGINX_WORKERS: '3' }, fromEnv.io, machine())).toBe(0);
      expect(fromEnv.out.stdout).toMatch(/^worker_processes 3;$/m);
      const both = capture();
      expect(await runNginxConfig(['--standalone', '--workers', 'auto'], { NGINX_WORKERS: '3', NGINX_PUSH_STREAM_SERVER: 'nchan' }, both.io, machine())).toBe(0);
      expect(both.out.stdout).toMatch(/^worker_processes auto;$/m);
    });

    it.each(['0', 'two', '1025', '1.5', '2;'])('refuses --workers %s', async (workers) => {
      const { out, io } = capture();
      expect(await runNginxConfig(['--workers', workers], {}, io, machine())).toBe(2);
      expect(out.stdout).toBe('');
      expect(out.stderr).toMatch(/--workers \(NGINX_WORKERS\): .* is not "auto" or a number of workers \(1-1024\)/);
    });
  });

  describe('--auth secure-link', () => {
    const SECRET = 'cli-spec-secret-0123456789';
    const KEY = deriveTicketKey(SECRET);
    /** A machine without njs: secure-link mode must not need it. */
    const noNjs = (): NginxConfigMachine & { tested: string[] } => ({
      ...machine(),
      loadJsModule: () => ({ missing: 'nginx has no njs module' }),
    });

    it.each(['push-stream', 'nchan'])('%s: the derived key (never the secret) in secure_link_md5, the check in every subscriber location, no njs', async (server) => {
      const { out, io } = capture();
      expect(await runNginxConfig(['--server', server, '--auth', 'secure-link'], { NGINX_PUSH_STREAM_SECRET: SECRET }, io, noNjs())).toBe(0);
      expect(out.stderr).toBe('');
      expect(out.stdout).toContain(`secure_link_md5 "$push_stream_ticket_expires:$push_channels ${KEY}";`);
      expect(out.stdout).toContain('secure_link $push_stream_ticket_hash,$push_stream_ticket_expires;');
      expect(out.stdout).not.toContain(SECRET);
      expect(out.stdout.match(/if \(\$push_stream_ticket_ok != "1"\) \{ return 403; \}/g)).toHaveLength(4);
      expect(out.stdout).not.toContain('auth_request /');
      expect(out.stdout).not.toMatch(/js_import|js_set|js_var|njs\.so/);
      expect(out.stdout).toContain(`# Load the module once, in the main context of nginx.conf:\n#   load_module /mods/${server}.so;\n`);
    });

    it('NGINX_AUTH=secure-link and --ticket-key-file work as in ticket mode; --check loads no njs', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'nginx-config-spec-'));
      try {
        const file = join(dir, 'key');
        await writeFile(file, `${KEY}\n`, { mode: 0o600 });
        const { out, io } = capture();
        const m = noNjs();
        expect(await runNginxConfig(['--ticket-key-file', file, '--standalone', '--check'], { NGINX_AUTH: 'secure-link' }, io, m)).toBe(0);
        expect(out.stderr).toBe('nginx -t: the configuration is valid\n');
        for (const config of [out.stdout, m.tested[0]]) {
          expect(config).toContain(`secure_link_md5 "$push_stream_ticket_expires:$push_channels ${KEY}";`);
          expect(config).toMatch(/^load_module \/mods\/push-stream\.so;$/m);
          expect(config).not.toMatch(/js_import|njs\.so/);
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      const none = capture();
      expect(await runNginxConfig(['--auth', 'secure-link'], {}, none.io, machine())).toBe(2);
      expect(none.out.stderr).toContain('--auth ticket and --auth secure-link need the ticket key');
    });
  });

  describe('--auth ticket', () => {
    const SECRET = 'cli-spec-secret-0123456789';
    const KEY = deriveTicketKey(SECRET);
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'nginx-config-spec-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    async function keyFile(name: string, text: string, mode = 0o600): Promise<string> {
      const file = join(dir, name);
      await writeFile(file, text);
      await chmod(file, mode);
      return file;
    }

    it.each(['push-stream', 'nchan'])('%s: with the app\'s secret in NGINX_PUSH_STREAM_SECRET, writes the derived key (never the secret) and checks tickets in every subscriber location', async (server) => {
      const { out, io } = capture();
      expect(await runNginxConfig(['--server', server, '--auth', 'ticket'], { NGINX_PUSH_STREAM_SECRET: SECRET }, io, machine())).toBe(0);
      expect(out.stderr).toBe('');
      expect(out.stdout).toContain(`js_var $push_stream_ticket_key ${KEY};`);
      expect(out.stdout).not.toContain(SECRET);
      expect(out.stdout.match(/if \(\$push_stream_ticket_ok != "1"\) \{ return 403; \}/g)).toHaveLength(4);
      expect(out.stdout).not.toContain('auth_request /');
      // Both modules to load, in the include's instructions.
      expect(out.stdout).toContain(`# Load the modules once, in the main context of nginx.conf:\n#   load_module /mods/${server}.so;\n#   load_module /mods/njs.so;\n`);
    });

    it('NGINX_AUTH=ticket works like --auth ticket; --auth session overrides it', async () => {
      const env = { NGINX_AUTH: 'ticket', NGINX_PUSH_STREAM_SECRET: SECRET };
      const ticket = capture();
      expect(await runNginxConfig([], env, ticket.io, machine())).toBe(0);
      expect(ticket.out.stdout).toContain(KEY);
      const session = capture();
      expect(await runNginxConfig(['--auth', 'session'], env, session.io, machine())).toBe(0);
      expect(session.out.stdout).not.toContain(KEY);
      expect(session.out.stdout).toContain('auth_request /_push_stream_auth;');
      expect(session.out.stdout).not.toContain('njs');
    });

    it('--ticket-key-file: reads the key (a trailing newline is fine) and wins over the secret', async () => {
      const other = deriveTicketKey('another-secret-0123456789');
      const file = await keyFile('key', `${other}\n`);
      const { out, io } = capture();
      expect(await runNginxConfig(['--auth', 'ticket', '--ticket-key-file', file], { NGINX_PUSH_STREAM_SECRET: SECRET }, io, machine())).toBe(0);
      expect(out.stderr).toBe('');
      expect(out.stdout).toContain(`js_var $push_stream_ticket_key ${other};`);
    });

    it('--ticket-key-file open to other users: a warning, the config still printed', async () => {
      const file = await keyFile('open-key', KEY, 0o644);
      const { out, io } = capture();
      expect(await runNginxConfig(['--auth', 'ticket', '--ticket-key-file', file], {}, io, machine())).toBe(0);
      expect(out.stderr).toBe(`nestjs-push-stream: nginx-config: warning: ${file} is open to other users (mode 0644); chmod 600 it\n`);
      expect(out.stdout).toContain(KEY);
    });

    it.each([
      ['no key at all', [], {}, '--auth ticket and --auth secure-link need the ticket key: set NGINX_PUSH_STREAM_SECRET'],
      ['a secret the module would refuse', [], { NGINX_PUSH_STREAM_SECRET: 'short' }, 'NGINX_PUSH_STREAM_SECRET is shorter than the 16 characters'],
      ['an unreadable key file', ['--ticket-key-file', '/nonexistent/key'], {}, '--ticket-key-file: cannot read /nonexistent/key'],
    ])('refuses ticket mode with %s (exit 2, nothing printed)', async (_what, extra, env, message) => {
      const { out, io } = capture();
      expect(await runNginxConfig(['--auth', 'ticket', ...extra], env, io, machine())).toBe(2);
      expect(out.stdout).toBe('');
      expect(out.stderr).toContain(message);
    });

    it.each([
      ['upper case', KEY.toUpperCase()],
      ['short', KEY.slice(2)],
      ['the secret itself', SECRET],
      ['a key and a directive', `${KEY};\ninclude /etc/passwd;`],
    ])('refuses a key file holding %s', async (_what, text) => {
      const file = await keyFile('bad-key', text);
      const { out, io } = capture();
      expect(await runNginxConfig(['--auth', 'ticket', '--ticket-key-file', file], {}, io, machine())).toBe(2);
      expect(out.stdout).toBe('');
      expect(out.stderr).toContain(`${file} does not hold a ticket key (64 lower-case hex characters`);
    });

    it('refuses --ticket-key-file without ticket mode, and an unknown mode', async () => {
      const file = await keyFile('key2', KEY);
      const stray = capture();
      expect(await runNginxConfig(['--ticket-key-file', file], {}, stray.io, machine())).toBe(2);
      expect(stray.out.stderr).toContain('--ticket-key-file is for --auth ticket');
      const unknown = capture();
      expect(await runNginxConfig(['--auth', 'cookie'], {}, unknown.io, machine())).toBe(2);
      expect(unknown.out.stderr).toContain('--auth (NGINX_AUTH): "cookie" is not "session", "ticket" or "secure-link"');
    });

    it('--standalone --check: nginx -t gets the config with the server module and njs loaded', async () => {
      const { out, io } = capture();
      const m = machine();
      expect(await runNginxConfig(['--auth', 'ticket', '--standalone', '--check'], { NGINX_PUSH_STREAM_SECRET: SECRET }, io, m)).toBe(0);
      expect(out.stderr).toBe('nginx -t: the configuration is valid\n');
      for (const config of [out.stdout, m.tested[0]]) {
        expect(config).toMatch(/^load_module \/mods\/push-stream\.so;\nload_module \/mods\/njs\.so;$/m);
        expect(config).toContain(`js_var $push_stream_ticket_key ${KEY};`);
      }
    });

    it('--check without njs fails naming what to install; the config is printed with a placeholder line', async () => {
      const { out, io } = capture();
      const noNjs: NginxConfigMachine = {
        loadModule: (server) => ({ line: `load_module /mods/${server}.so;` }),
        loadJsModule: () => ({ missing: 'nginx has no njs module (ngx_http_js_module.so), which checks signed tickets: install the Debian package libnginx-mod-http-js' }),
        test: async () => null,
      };
      expect(await runNginxConfig(['--auth', 'ticket', '--standalone', '--check'], { NGINX_PUSH_STREAM_SECRET: SECRET }, io, noNjs)).toBe(1);
      expect(out.stdout).toContain('load_module /mods/push-stream.so;\n# load_module <path>;  nginx here has no njs module: nginx has no njs module');
      expect(out.stderr).toContain('libnginx-mod-http-js');
    });

    it('the key-file recipe in docs/deployment.md derives the key the module does', async () => {
      const docs = await readFile(new URL('../../docs/deployment.md', import.meta.url), 'utf8');
      const label = /createHmac\('sha256', process\.env\.NGINX_PUSH_STREAM_SECRET\)\.update\('([^']+)'\)\.digest\('hex'\)/.exec(docs)?.[1];
      expect(label).toBeDefined();
      const { createHmac } = await import('node:crypto');
      expect(createHmac('sha256', SECRET).update(label!).digest('hex')).toBe(KEY);
    });
  });

  describe('--redis (several Nchan nodes on one Redis)', () => {
    const URL_WITH_PASSWORD = 'redis://:Sup3r-secret@redis.internal:6379/0';

    it('nchan: names the Redis in an upstream and passes it in every channel location; the header hides the password', async () => {
      const { out, io } = capture();
      expect(await runNginxConfig(['--server', 'nchan', '--redis', URL_WITH_PASSWORD], {}, io, machine())).toBe(0);
      expect(out.stderr).toBe('');
      expect(out.stdout).toContain(`upstream push_stream_redis {\n  nchan_redis_server ${URL_WITH_PASSWORD};\n}`);
      // /sub/ /ws/ /ev/ /lp/ and /pub (publish, channel info, delete).
      expect(out.stdout.match(/^    nchan_redis_pass push_stream_redis;$/gm)).toHaveLength(5);
      const header = out.stdout.split('\n')[0];
      expect(header).toBe('# nestjs-push-stream nchan configuration: npx nestjs-push-stream nginx-config --server nchan --redis redis://***@redis.internal:6379/0');
      expect(out.stdout.split(URL_WITH_PASSWORD)).toHaveLength(2); // in the upstream only
    });

    it('reads NCHAN_REDIS_URL; the option wins; an empty variable is one node', async () => {
      const fromEnv = capture();
      expect(await runNginxConfig(['--server', 'nchan'], { NCHAN_REDIS_URL: 'redis://10.0.0.5:6379' }, fromEnv.io, machine())).toBe(0);
      expect(fromEnv.out.stdout).toContain('  nchan_redis_server redis://10.0.0.5:6379;\n');
      const both = capture();
      expect(await runNginxConfig(['--server', 'nchan', '--redis', 'redis://10.0.0.6'], { NCHAN_REDIS_URL: 'redis://10.0.0.5:6379' }, both.io, machine())).toBe(0);
      expect(both.out.stdout).toContain('  nchan_redis_server redis://10.0.0.6;\n');
      const empty = capture();
      expect(await runNginxConfig(['--server', 'nchan'], { NCHAN_REDIS_URL: '' }, empty.io, machine())).toBe(0);
      expect(empty.out.stdout).not.toContain('redis');
    });

    it('push-stream: refused (exit 2, nothing printed), saying to list every node in publisherUrl instead', async () => {
      const { out, io } = capture();
      expect(await runNginxConfig(['--server', 'push-stream', '--redis', URL_WITH_PASSWORD], {}, io, machine())).toBe(2);
      expect(out.stdout).toBe('');
      expect(out.stderr).toContain('--redis (NCHAN_REDIS_URL): the Push Stream Module has no cluster support');
      expect(out.stderr).toContain('publisherUrl');
      expect(out.stderr).not.toContain('Sup3r-secret');
    });

    it.each([
      ['redis.internal:6379', 'is not redis://[[user]:password@]host[:port][/db]'],
      ['rediss://:Sup3r-secret@redis.internal:6380', '"rediss://***@redis.internal:6380": the scheme must be redis://'],
      ['redis://Sup3r-secret@redis.internal', '"redis://***@redis.internal": write the credentials as :password@ or user:password@'],
      ['redis://:Sup3r;secret@redis.internal', 'the password holds a character that cannot be written into the nginx config as is'],
      ['redis://:Sup3r secret/x?y#z@redis.internal', '"redis://***@redis.internal": the password holds a character'],
      ['redis://:Sup3r@secret@redis.internal', '"redis://***@redis.internal": the password holds a character'],
      ['redis://:Sup3r-secret@redis_internal:6379', '"redis_internal" is not an IP address or host name'],
      ['redis://:Sup3r-secret@redis.internal:70000', '--redis (NCHAN_REDIS_URL): "70000" is not a port (1-65535)'],
      ['redis://:Sup3r-secret@[::1]:6379', 'Nchan cannot read an IPv6 address in a Redis URL'],
      ['redis://:Sup3r-secret@redis.internal:6379/zero', 'the database after the host is a number'],
      ['redis://:Sup3r-secret@redis.internal:6379;include /etc/passwd', 'is not a port'],
    ])('refuses %j naming the problem, never the password', async (url, message) => {
      const { out, io } = capture();
      expect(await runNginxConfig(['--server', 'nchan', '--redis', url], {}, io, machine())).toBe(2);
      expect(out.stdout).toBe('');
      expect(out.stderr).toContain(message);
      expect(out.stderr).not.toMatch(/Sup3r|secret\//);
    });
  });

  it('accepts IPv6 listeners and loopback publishers', async () => {
    const { out, io } = capture();
    expect(await runNginxConfig(['--listen', '[::]:80', '--pub-listen', '[::1]:9081', '--app', '[::1]:3000'], {}, io, machine())).toBe(0);
    expect(out.stdout).toContain('listen [::]:80;');
    expect(out.stdout).toContain('listen [::1]:9081;');
  });
});
