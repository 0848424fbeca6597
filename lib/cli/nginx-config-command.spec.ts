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
    const missing: NginxConfigMachine = { loadModule: () => ({ missing: 'no module: npx nestjs-push-stream build-module' }), test: async () => null };
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

  it('accepts IPv6 listeners and loopback publishers', async () => {
    const { out, io } = capture();
    expect(await runNginxConfig(['--listen', '[::]:80', '--pub-listen', '[::1]:9081', '--app', '[::1]:3000'], {}, io, machine())).toBe(0);
    expect(out.stdout).toContain('listen [::]:80;');
    expect(out.stdout).toContain('listen [::1]:9081;');
  });
});
