// A redis-server of the test's own on a free loopback port (never the machine's own Redis), for
// the suites that run several Nchan nodes on one Redis. No persistence: a restart starts empty,
// as a Redis without RDB/AOF does. The process is this test's child, stopped by its own pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort } from '../../lib/testing/index.js';

/** Where Debian installs it; REDIS_SERVER overrides. */
export const REDIS_SERVER_BINARY = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';

/** One command over a fresh connection, answered in RESP: the reply's first line, e.g. `+PONG` or `:3`. */
export function redisCommand(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    socket.setEncoding('utf8');
    socket.setTimeout(2000, () => socket.destroy(new Error(`redis ${args[0]}: no answer within 2 s`)));
    socket.once('connect', () => socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`));
    socket.on('data', (chunk: string) => {
      reply += chunk;
      const end = reply.indexOf('\r\n');
      if (end >= 0) {
        socket.destroy();
        resolve(reply.slice(0, end));
      }
    });
    socket.once('error', reject);
  });
}

export class RedisTestServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  /** A redis-server on a free port (or `port`), resolving once it answers PING. */
  static async start(port?: number): Promise<RedisTestServer> {
    const server = new RedisTestServer(port ?? (await findFreePort()), await mkdtemp(join(tmpdir(), 'nestjs-push-stream-redis-')));
    try {
      await server.start();
    } catch (err) {
      await server.dispose();
      throw err;
    }
    return server;
  }

  /** `redis://127.0.0.1:<port>`, as NginxTestServer's `redis` and nginx-config --redis take it. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Starts (again, after stop() or kill()) on the same port. */
  async start(): Promise<void> {
    if (this.child) return;
    const child = spawn(
      REDIS_SERVER_BINARY,
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, '--daemonize', 'no', '--loglevel', 'warning'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    void this.exited.then(() => {
      if (this.child === child) this.child = undefined;
    });
    const spawned = new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err) => reject(new Error(`${REDIS_SERVER_BINARY}: ${err.message}`)));
    });
    await spawned;
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (this.child !== child) throw new Error(`redis-server on ${this.port} exited at start: ${output.trim()}`);
      if ((await redisCommand(this.port, 'PING').catch(() => '')) === '+PONG') return;
      if (Date.now() > deadline) throw new Error(`redis-server on ${this.port} did not answer PING within 10 s: ${output.trim()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Kills it at once (SIGKILL: no shutdown, connections reset), as a crash or an OOM kill would, and waits for the exit. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** Stops it (SIGTERM) and waits for the exit. */
  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  /** Stops it and removes its folder. */
  async dispose(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill(signal);
    await this.exited;
  }
}
