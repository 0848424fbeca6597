import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The application upstream nginx asks before every subscription (`auth_request`), reduced to
 * "allow everyone": 204 on `/push-stream/auth`, 404 elsewhere. For publishing tests only; the
 * real auth controller has its own tests. Records each auth subrequest's headers.
 */
export class AuthStubServer {
  /** Headers of every auth subrequest, oldest first. */
  readonly authRequests: IncomingHttpHeaders[] = [];

  private constructor(private readonly server: Server) {}

  static async start(): Promise<AuthStubServer> {
    const server = createServer();
    const stub = new AuthStubServer(server);
    server.on('request', (req, res) => {
      if (req.url?.split('?')[0] === '/push-stream/auth') {
        stub.authRequests.push(req.headers);
        res.writeHead(204).end();
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return stub;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** `host:port`, as NginxTestServer's appUpstream. */
  get upstream(): string {
    return `127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
