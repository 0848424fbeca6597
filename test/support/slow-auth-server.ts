import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The application upstream nginx asks before every subscription, in trouble: it answers
 * `/push-stream/auth` with `status` after `delayMs` (an app overloaded, or waiting on a database
 * that is down), until configure() says otherwise (`{ delayMs: 0, status: 204 }`: the app is back).
 * Records when each auth subrequest arrived. 404 elsewhere.
 */
export class SlowAuthServer {
  /** Arrival time (ms since the epoch) of every auth subrequest. */
  readonly arrivals: number[] = [];
  private readonly pending = new Set<{ timer: ReturnType<typeof setTimeout>; res: ServerResponse }>();
  /** What the auth endpoint answers, and after how long. */
  private answer = { delayMs: 0, status: 204 };

  private constructor(private readonly server: Server) {}

  /** `port`: a given one (say, the one nginx was told about while nothing listened there), else a free one. */
  static async start(options: { delayMs: number; status: number; port?: number }): Promise<SlowAuthServer> {
    const server = createServer();
    const stub = new SlowAuthServer(server);
    stub.configure(options);
    server.on('request', (req, res) => {
      if (req.url?.split('?')[0] !== '/push-stream/auth') {
        res.writeHead(404).end();
        return;
      }
      stub.arrivals.push(Date.now());
      const { delayMs, status } = stub.answer;
      const entry = {
        res,
        timer: setTimeout(() => {
          stub.pending.delete(entry);
          res.writeHead(status).end();
        }, delayMs),
      };
      stub.pending.add(entry);
      res.on('close', () => {
        clearTimeout(entry.timer);
        stub.pending.delete(entry);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    return stub;
  }

  /** From now on, answer `status` after `delayMs` (204 at once: the app is back). */
  configure(answer: { delayMs: number; status: number }): void {
    this.answer = { delayMs: answer.delayMs, status: answer.status };
  }

  /** `host:port`, as NginxTestServer's appUpstream. */
  get upstream(): string {
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const { timer } of this.pending) clearTimeout(timer);
    this.pending.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
