import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findNginx, locateJsModule, locateModule } from '../../nginx/nginx-tools.mjs';
import { createDialect } from '../dialects/create-dialect.js';
// The renderer users' configs come from (`nestjs-push-stream nginx-config`): what is tested is what is deployed.
import { NGINX_CONFIG_DIR, needsJsModule, renderMainConfig, renderServerConfig, type NginxConfigValues } from '../nginx-config/nginx-config.js';
import type { PushStreamServerKind } from '../options/push-stream-options.interface.js';
import { deriveTicketKey, type TicketFormat } from '../tickets/subscription-ticket.js';

const run = promisify(execFile);

export interface NginxTestServerOptions {
  /** Which module serves channels. Default `nchan`. */
  server?: PushStreamServerKind;
  /** The NestJS app nginx proxies to and asks about subscriptions, `host:port`. */
  appUpstream: string;
  /**
   * Where nginx asks about subscriptions instead, `host:port`: the app's auth listener
   * (`PushStreamAuthListenerModule`), which answers outside Express. Default: `appUpstream`.
   */
  authUpstream?: string;
  /** Public port (subscribers, app). Default: a free one. */
  port?: number;
  /** Internal publisher/stats port. Default: a free one. */
  pubPort?: number;
  /** nginx binary. Default `nginx` on the PATH. */
  binary?: string;
  /** Dynamic module to load (.so); default: found in the usual Debian folders, none if compiled in. */
  modulePath?: string;
  /** Folder holding nginx.conf.template and the server templates. Default the package's nginx/. */
  configDir?: string;
  /** Where nginx's temporary work folder is made. Default the system's temporary folder. */
  workRoot?: string;
  /** TLS on the public listener (PEM files): `baseUrl` is then `https://`, WebSockets `wss://`. */
  tls?: { certificate: string; key: string };
  /**
   * The module's `secret`: subscriber locations then take signed tickets (`?ticket=`), checked by
   * nginx with `deriveTicketKey(ticketSecret)`, and never ask `appUpstream`. The default flavor
   * needs njs (libnginx-mod-http-js). Default: nginx asks the app (`auth_request`).
   */
  ticketSecret?: string;
  /**
   * With `ticketSecret`: the flavor nginx checks, as the module's `auth.ticketFormat`. Default
   * `hmac-sha256` (njs); `secure-link-md5` renders `--auth secure-link` (nginx's secure_link
   * module, no njs).
   */
  ticketFormat?: TicketFormat;
  /** `worker_processes`. Default: the shipped one, `auto` for push-stream and 1 for Nchan. */
  workers?: number | 'auto';
  /**
   * Nchan only: a Redis URL (`redis://127.0.0.1:<port>`) shared with other nodes started with the
   * same one, so that a message published to any of them reaches subscribers on all (`nginx-config --redis`).
   */
  redis?: string;
}

export interface NginxReloadOptions {
  /**
   * Wait until the old worker processes have exited (default true). `false`: return right after
   * signalling the master, while old workers may still take connections.
   */
  waitForOldWorkers?: boolean;
}

/** Binds port 0 on loopback and returns the port the kernel chose. */
export async function findFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** `load_module` line for the server's module, or '' when the binary has it compiled in. */
export function moduleLoadLine(server: PushStreamServerKind, binary = findNginx() ?? 'nginx', modulePath?: string): string {
  if (modulePath) return `load_module ${modulePath};`;
  const found = locateModule(server, binary);
  if (found.missing !== undefined) throw new Error(found.missing);
  return found.loadModule ? `load_module ${found.loadModule};` : '';
}

/** `load_module` line for njs (ticket mode), or '' when the binary has it compiled in. */
export function jsModuleLoadLine(binary = findNginx() ?? 'nginx'): string {
  const found = locateJsModule(binary);
  if (found.missing !== undefined) throw new Error(found.missing);
  return found.loadModule ? `load_module ${found.loadModule};` : '';
}

/**
 * A real nginx on free loopback ports, from the package's own configs, in a temporary folder.
 * For end-to-end tests of an application that uses nestjs-push-stream:
 *
 *   const nginx = await NginxTestServer.start({ appUpstream: `127.0.0.1:${appPort}` });
 *   ... PushStreamModule.forRoot({ server: 'nchan', publisherUrl: nginx.publisherUrl, ... })
 *   await nginx.stop();
 */
export class NginxTestServer {
  private running = false;

  private constructor(
    readonly server: PushStreamServerKind,
    readonly port: number,
    readonly pubPort: number,
    readonly workDir: string,
    private readonly binary: string,
    private readonly tls: boolean,
  ) {}

  static async start(options: NginxTestServerOptions): Promise<NginxTestServer> {
    const server = options.server ?? 'nchan';
    const binary = options.binary ?? findNginx() ?? 'nginx';
    const configDir = options.configDir ?? NGINX_CONFIG_DIR;
    const port = options.port ?? (await findFreePort());
    const pubPort = options.pubPort ?? (await findFreePort());
    const values: NginxConfigValues = {
      server,
      listen: `127.0.0.1:${port}`,
      pubListen: `127.0.0.1:${pubPort}`,
      pubAllow: '127.0.0.1',
      app: options.appUpstream,
      authApp: options.authUpstream,
      tls: options.tls,
      auth:
        options.ticketSecret === undefined
          ? { mode: 'session' }
          : { mode: options.ticketFormat === 'secure-link-md5' ? 'secure-link' : 'ticket', ticketKey: deriveTicketKey(options.ticketSecret) },
      workers: options.workers,
      redis: options.redis,
    };
    // Before the work folder exists: a missing module or script leaves nothing behind.
    const loadModules = [moduleLoadLine(server, binary, options.modulePath), needsJsModule(values) ? jsModuleLoadLine(binary) : ''];
    const serverText = await renderServerConfig(values, configDir);
    const workDir = await mkdtemp(join(options.workRoot ?? tmpdir(), 'nestjs-push-stream-nginx-'));
    await mkdir(join(workDir, 'logs'));
    await mkdir(join(workDir, 'tmp'));
    const serverConf = join(workDir, 'server.conf');
    await writeFile(serverConf, serverText);
    await writeFile(join(workDir, 'nginx.conf'), await renderMainConfig(values, serverConf, loadModules.filter(Boolean).join('\n'), configDir));
    const instance = new NginxTestServer(server, port, pubPort, workDir, binary, options.tls !== undefined);
    try {
      await instance.start();
    } catch (err) {
      // A failed start must not leave a daemonized nginx or its folder behind.
      await instance.dispose().catch(() => undefined);
      throw err;
    }
    return instance;
  }

  /** Public origin: subscribers connect here, e.g. `${baseUrl}/sub/my-app__all__`. */
  get baseUrl(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  get publisherUrl(): string {
    return `http://127.0.0.1:${this.pubPort}/pub`;
  }

  /** The shipped config's statistics location, as the server's dialect knows it. */
  get statsUrl(): string {
    return `http://127.0.0.1:${this.pubPort}${createDialect(this.server).statsPath}`;
  }

  get configFile(): string {
    return join(this.workDir, 'nginx.conf');
  }

  /** Starts (or starts again after stop()) on the same ports. */
  async start(): Promise<void> {
    await this.nginx([]);
    this.running = true;
    await this.waitForPort(true);
  }

  /**
   * Re-reads the configuration (`nginx -s reload`); subscribers of old workers are closed gracefully.
   *
   * By default it returns once the old workers have exited. Until then they may still accept
   * connections: a subscriber that reconnects at once lands on a worker that is going away. Pass
   * `{ waitForOldWorkers: false }` to return as soon as the master was signalled, to test
   * reconnects inside that window.
   */
  async reload(options: NginxReloadOptions = {}): Promise<void> {
    const before = options.waitForOldWorkers === false ? [] : await this.workerPids();
    await this.nginx(['-s', 'reload']);
    if (before.length === 0) return; // not waiting, or no /proc: nothing to wait on
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const now = await this.workerPids();
      if (now.length > 0 && now.every((pid) => !before.includes(pid))) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`nginx did not finish reloading within 10 s: ${await this.errorLog()}`);
  }

  /** Pids of the master's worker processes (Linux /proc); empty where /proc is not available. */
  private async workerPids(): Promise<number[]> {
    const master = Number((await readFile(join(this.workDir, 'nginx.pid'), 'utf8').catch(() => '')).trim());
    if (!master) return [];
    const entries = await readdir('/proc').catch(() => [] as string[]);
    const pids: number[] = [];
    for (const entry of entries) {
      if (!/^\d+$/.test(entry)) continue;
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
      // Fields after the parenthesised command: state, then the parent pid.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === master) pids.push(Number(entry));
    }
    return pids;
  }

  /** Stops nginx at once and waits until its ports are closed. Keeps the folder for start(). */
  async stop(): Promise<void> {
    if (!this.running) return;
    await this.nginx(['-s', 'stop']).catch(() => undefined);
    this.running = false;
    await this.waitForPort(false);
  }

  /** Stops nginx and removes its folder. */
  async dispose(): Promise<void> {
    await this.stop();
    await rm(this.workDir, { recursive: true, force: true });
  }

  /** The error log, for diagnosing a failed test. */
  async errorLog(): Promise<string> {
    return readFile(join(this.workDir, 'logs', 'error.log'), 'utf8').catch(() => '');
  }

  private async nginx(args: string[]): Promise<void> {
    try {
      await run(this.binary, ['-p', this.workDir, '-c', this.configFile, ...args]);
    } catch (err) {
      const stderr = (err as { stderr?: string }).stderr ?? '';
      throw new Error(`nginx ${args.join(' ') || 'start'} failed: ${stderr.trim() || (err as Error).message}`);
    }
  }

  private async waitForPort(open: boolean): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if ((await isListening(this.port)) === open && (await isListening(this.pubPort)) === open) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`nginx did not ${open ? 'start listening' : 'stop'} on ${this.port}/${this.pubPort}: ${await this.errorLog()}`);
  }
}

/** Whether something accepts TCP connections on `host:port`. */
export async function isListening(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
