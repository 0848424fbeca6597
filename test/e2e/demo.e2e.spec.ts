// `npm run demo` (scripts/demo.mjs) as a newcomer runs it: started as a child process in its own
// process group, probed with the seed's curl and WebSocket commands and the CLI command it prints,
// then stopped with Ctrl-C (SIGINT to the whole group, as a terminal sends it).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import WebSocket from 'ws';
import { tmpdir } from 'node:os';
import { findFreePort, isListening } from '../../lib/testing/index.js';
import { ensureBuilt, REPO_ROOT } from '../support/build.js';
import { SERVERS } from '../support/servers.js';

const DEMO = join(REPO_ROOT, 'scripts', 'demo.mjs');
// npm's pretest installs curl; without it the seed's documented command could not be checked.
if (spawnSync('curl', ['--version']).status !== 0) throw new Error('curl is missing: run npm test (its pretest installs it) or apt-get install curl');

/** The environment without NGINX_PUSH_STREAM_* / DEMO_* of the caller, plus `vars`. */
function demoEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('NGINX_PUSH_STREAM_') && !k.startsWith('DEMO_')) env[k] = v;
  }
  // `npm test` has just built dist/: the demo's own `npm run build` would delete it under other suites.
  return { ...env, NO_COLOR: '1', DEMO_SKIP_BUILD: '1', ...vars };
}

class Proc {
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  constructor(readonly child: ChildProcess) {
    child.stdout?.setEncoding('utf8').on('data', (c: string) => (this.stdout += c));
    child.stderr?.setEncoding('utf8').on('data', (c: string) => (this.stderr += c));
    // 'close', not 'exit': only then has the last of stdout ("Stopped.") been read.
    this.exited = new Promise((resolve) => child.once('close', (code: number | null, signal: NodeJS.Signals | null) => resolve({ code, signal })));
  }
  get output(): string {
    return `--- stdout ---\n${this.stdout}\n--- stderr ---\n${this.stderr}`;
  }
  async waitFor(what: string, test: (p: Proc) => boolean, boundMs: number): Promise<void> {
    const deadline = Date.now() + boundMs;
    while (!test(this)) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`${what}: the process exited first\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`${what}: not within ${boundMs} ms\n${this.output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function startDemo(env: NodeJS.ProcessEnv): Proc {
  // detached: a process group of its own, so SIGINT can go to the group like a terminal's Ctrl-C.
  return new Proc(spawn(process.execPath, [DEMO], { cwd: REPO_ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** Running, and not a zombie (a daemon's exit is reaped by pid 1, which in a container may never do it). */
function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[0] !== 'Z';
  } catch {
    return false;
  }
}

function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return Number(readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(text) && alive(Number(p))) found.push(`${p}: ${cmd}`);
    } catch {
      /* gone */
    }
  }
  return found;
}


/** Lines of a streamed subscriber: the seed's curl command itself when curl is installed. */
function curlSubscriber(url: string): Proc {
  return new Proc(spawn('curl', ['-s', '-v', '--no-buffer', url], { stdio: ['ignore', 'pipe', 'pipe'] }));
}

beforeAll(async () => {
  await ensureBuilt();
}, 180_000);

describe('npm run demo (scripts/demo.mjs)', () => {
  let demo: Proc | undefined;

  afterEach(async () => {
    // Never leave a demo running when an assertion failed half way.
    if (demo && demo.child.exitCode === null && demo.child.signalCode === null) {
      process.kill(-demo.child.pid!, 'SIGINT');
      const timer = setTimeout(() => demo && process.kill(-demo.child.pid!, 'SIGKILL'), 15_000);
      await demo.exited;
      clearTimeout(timer);
    }
    demo = undefined;
  }, 30_000);

  // On push-stream with an empty module cache: the demo builds the module itself.
  it.each(SERVERS)('DEMO_SERVER=%s serves the chat, answers the seed curl/WebSocket commands and the printed CLI command, and stops on Ctrl-C', async (server) => {
    const port = await findFreePort();
    const pubPort = await findFreePort();
    const cache = mkdtempSync(join(tmpdir(), 'demo-module-cache-'));
    try {
      demo = startDemo(demoEnv({ DEMO_SERVER: server, DEMO_PORT: String(port), DEMO_PUB_PORT: String(pubPort), NESTJS_PUSH_STREAM_CACHE: cache }));
      await demo.waitFor('the demo banner', (p) => p.stdout.includes('Press Ctrl-C'), 150_000);
      const out = demo.stdout;
      if (server === 'push-stream') expect(out).toContain(`push-stream module: built ${cache}/`);
      expect(out).toContain(server === 'nchan' ? 'nginx with Nchan' : 'nginx with the Nginx Push Stream Module');

      // What it prints: the URL, the seed's commands with this port, the CLI command with the publisher's env.
      expect(out).toContain(`http://127.0.0.1:${port}/`);
      const curlLine = `curl -s -v --no-buffer 'http://localhost:${port}/sub/my-app__all__'`;
      expect(out).toContain(curlLine);
      expect(out).toContain(`ws://localhost:${port}/ws/my-app__all__`);
      const cliLine = out.split('\n').map((l) => l.trim()).find((l) => l.includes('node dist/cli/main.js publish'));
      expect(cliLine).toBeDefined();
      expect(cliLine).toContain(`NGINX_PUSH_STREAM_PUB_URL=http://127.0.0.1:${pubPort}/pub`);
      expect(cliLine).toMatch(/NGINX_PUSH_STREAM_SECRET=\S{16,}/);
      expect(cliLine!.endsWith(`-q __all__ -d '{"message": ["Foobar"]}'`)).toBe(true);
      const workDir = /nginx: (\S+)\/nginx\.conf/.exec(out)?.[1];
      expect(workDir).toBeDefined();
      // nginx's auth subrequests go to the app's auth listener (AUTH_PORT), which the app started.
      const authPort = Number(/Subscriptions: nginx asks the app's auth listener \(127\.0\.0\.1:(\d+), AUTH_PORT\)/.exec(out)?.[1]);
      expect(authPort).toBeGreaterThan(0);
      expect(out).toContain(`auth listener on http://127.0.0.1:${authPort}/push-stream/auth`);
      expect(readFileSync(join(workDir!, 'server.conf'), 'utf8')).toMatch(new RegExp(`upstream push_stream_auth \\{\\s*server 127\\.0\\.0\\.1:${authPort};\\s`));

      // The chat page and the browser client it loads.
      const page = await fetch(`http://127.0.0.1:${port}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('nestjs-push-stream chat');
      const bootstrap = await fetch(`http://127.0.0.1:${port}/api/page`);
      expect(bootstrap.status).toBe(200);
      // Reading creates no session: only the CSRF cookie (nothing stored on the server).
      expect(bootstrap.headers.get('set-cookie')).toMatch(/^sample\.csrf=/);
      expect(bootstrap.headers.get('set-cookie')).not.toMatch(/sample\.sid=/);
      const client = await fetch(`http://127.0.0.1:${port}/assets/push-stream/push-stream-client.js`);
      expect(client.status).toBe(200);
      expect(client.headers.get('content-type')).toMatch(/javascript/);
      expect(await client.text()).toContain('PushStreamClient');
      // The publisher is not on the public port.
      // (a publish would answer 201/202: here the app answers, and knows no such route)
      expect((await fetch(`http://127.0.0.1:${port}/pub?id=my-app__all__`, { method: 'POST', body: '{}' })).status).toBe(404);

      // Listen as the seed documented: curl stream and a WebSocket, both anonymous.
      const curl = curlSubscriber(`http://localhost:${port}/sub/my-app__all__`);
      await curl.waitFor('curl: 200 from /sub/', (p) => /< HTTP\/1\.1 200/.test(p.stderr), 10_000);
      const wsMessages: string[] = [];
      const ws = new WebSocket(`ws://localhost:${port}/ws/my-app__all__`);
      ws.on('message', (d) => wsMessages.push(d.toString()));
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
        ws.once('unexpected-response', (_req, res) => reject(new Error(`WebSocket: HTTP ${res.statusCode}`)));
      });

      // Publish with exactly the printed command.
      const cli = spawnSync('sh', ['-c', cliLine!], { cwd: REPO_ROOT, encoding: 'utf8', env: demoEnv({}), timeout: 30_000 });
      expect({ status: cli.status, stderr: cli.stderr }).toEqual({ status: 0, stderr: '' });

      // Every line is JSON (push-stream's stream also carries ping lines, id -1).
      const hasFoobar = (raw: string) => {
        const m = JSON.parse(raw) as { channel: string; text: { message?: string[] } };
        return m.channel === 'my-app__all__' && m.text.message?.[0] === 'Foobar';
      };
      const deadline = Date.now() + 10_000;
      while (wsMessages.length === 0 || (curl && !curl.stdout.includes('Foobar'))) {
        if (Date.now() > deadline) throw new Error(`no Foobar: ws=${JSON.stringify(wsMessages)} curl=${curl.stdout}\n${demo.output}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(wsMessages.filter(hasFoobar)).toHaveLength(1);
      expect(curl.stdout.trim().split('\n').filter(hasFoobar)).toHaveLength(1);
      ws.terminate();

      // What is running now: nginx master + workers, and the app.
      const master = Number(readFileSync(join(workDir!, 'nginx.pid'), 'utf8').trim());
      const nginxProcesses = [master, ...childrenOf(master)];
      const appProcesses = childrenOf(demo.child.pid!);
      expect(nginxProcesses.length).toBeGreaterThanOrEqual(2);
      expect(appProcesses.length).toBeGreaterThanOrEqual(1);

      // Ctrl-C.
      process.kill(-demo.child.pid!, 'SIGINT');
      const timer = setTimeout(() => process.kill(-demo!.child.pid!, 'SIGKILL'), 20_000);
      const exit = await demo.exited;
      clearTimeout(timer);
      expect({ exit, tail: demo.stdout.split('\n').slice(-3) }).toEqual({ exit: { code: 0, signal: null }, tail: expect.arrayContaining(['Stopped.']) });
      for (const pid of [...nginxProcesses, ...appProcesses]) expect({ pid, alive: alive(pid) }).toEqual({ pid, alive: false });
      expect(processesMentioning(workDir!)).toEqual([]);
      expect(existsSync(workDir!)).toBe(false);
      expect(await isListening(port)).toBe(false);
      expect(await isListening(pubPort)).toBe(false);
      expect(await isListening(authPort)).toBe(false);
      let curlTimer: NodeJS.Timeout | undefined;
      const curlExit = await Promise.race([curl.exited, new Promise((r) => (curlTimer = setTimeout(() => r('still running'), 5000)))]);
      clearTimeout(curlTimer);
      expect(curlExit).not.toBe('still running');
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  }, 240_000);

  it('refuses a busy DEMO_PORT with a message naming the variable, before building anything', async () => {
    const busy: Server = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as { port: number }).port;
    try {
      demo = startDemo(demoEnv({ DEMO_PORT: String(port), DEMO_PUB_PORT: String(await findFreePort()) }));
      const exit = await demo.exited;
      expect(exit.code).toBe(1);
      expect(demo.stderr).toContain(`port ${port} is in use`);
      expect(demo.stderr).toContain('DEMO_PORT=');
      expect(demo.stdout).not.toContain('tsc');
    } finally {
      busy.close();
    }
  }, 60_000);

  it('DEMO_SERVER=push-stream with a missing NGINX_PUSH_STREAM_MODULE names the file, before building anything', async () => {
    demo = startDemo(
      demoEnv({ DEMO_SERVER: 'push-stream', NGINX_PUSH_STREAM_MODULE: '/nonexistent/ngx_http_push_stream_module.so', DEMO_PORT: String(await findFreePort()), DEMO_PUB_PORT: String(await findFreePort()) }),
    );
    const exit = await demo.exited;
    expect(exit.code).toBe(1);
    expect(demo.stderr).toContain('NGINX_PUSH_STREAM_MODULE=/nonexistent/ngx_http_push_stream_module.so: no such file');
    expect(demo.stdout).not.toContain('tsc');
  }, 60_000);

  it('refuses a DEMO_AUTH_LISTENER other than 0 or 1', async () => {
    demo = startDemo(demoEnv({ DEMO_AUTH_LISTENER: 'yes' }));
    const exit = await demo.exited;
    expect(exit.code).toBe(1);
    expect(demo.stderr).toContain('DEMO_AUTH_LISTENER must be 1');
    expect(demo.stdout).not.toContain('tsc');
  }, 60_000);

  it('refuses an unknown DEMO_SERVER', async () => {
    demo = startDemo(demoEnv({ DEMO_SERVER: 'apache' }));
    const exit = await demo.exited;
    expect(exit.code).toBe(1);
    expect(demo.stderr).toContain('DEMO_SERVER must be "nchan" or "push-stream"');
  }, 60_000);
});
