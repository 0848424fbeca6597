import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { ChannelAuthorizer } from '../auth/channel-authorizer.js';
import { DEFAULT_AUTH_ROUTE } from '../auth/auth.constants.js';
import type { SubscriberAuthRequest } from '../auth/subscriber-auth-request.js';
import { PushStreamConfigError, PushStreamError } from '../errors/push-stream.exception.js';
import type { PushStreamAuthListenerOptions } from './push-stream-auth-listener-options.interface.js';
import { PUSH_STREAM_AUTH_LISTENER_OPTIONS } from './push-stream-auth-listener.module-definition.js';
import { PushStreamSessionReader } from './push-stream-session-reader.js';

/** Above nginx's upstream keepalive_timeout (4 s in the shipped configs): nginx closes an idle connection first, never Node under it. */
const KEEP_ALIVE_MS = 5_000;
/** How long shutdown waits for answers in flight before closing their connections. */
const CLOSE_GRACE_MS = 5_000;
const NO_STORE = { 'cache-control': 'no-store' } as const;
const NO_STORE_EMPTY = { 'cache-control': 'no-store', 'content-length': '0' } as const;
// Once shutting down: every answer ends its connection, so that nginx's kept-alive connections do not hold close().
const CLOSING = { 'cache-control': 'no-store', connection: 'close' } as const;
const CLOSING_EMPTY = { 'cache-control': 'no-store', 'content-length': '0', connection: 'close' } as const;
const MODULE = 'PushStreamAuthListenerModule';

function checkOptions(options: PushStreamAuthListenerOptions): { port: number; host: string; path: string } {
  if (options === null || typeof options !== 'object') throw new PushStreamConfigError('options', 'needs { port, session }', MODULE);
  const { port, host = '127.0.0.1', path = `/${DEFAULT_AUTH_ROUTE}` } = options;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new PushStreamConfigError('port', `must be an integer 0-65535 (0: any free port), got ${JSON.stringify(port)}`, MODULE);
  }
  if (typeof host !== 'string' || (isIP(host) === 0 && !/^[A-Za-z0-9.-]+$/.test(host))) {
    throw new PushStreamConfigError('host', `must be an address or host name, got ${JSON.stringify(host)}`, MODULE);
  }
  if (typeof path !== 'string' || !/^\/[A-Za-z0-9._~!$&'()*+,;=:@/-]*$/.test(path)) {
    throw new PushStreamConfigError('path', `must be a path such as "/push-stream/auth", got ${JSON.stringify(path)}`, MODULE);
  }
  return { port, host, path };
}

/**
 * A node:http listener that answers only nginx's auth subrequest, with the auth endpoint's
 * decision (ChannelAuthorizer, the same rules) and the session from PushStreamSessionReader:
 * 204 allowed, 401 no session where one is needed, 403 refused, 503 when the session store
 * failed (nginx answers 500, which clients retry), 404 for any other path. Express,
 * Nest's request pipeline and express-session cost several times the decision itself, and nginx
 * asks before every subscription. Rules see `request.headers`, `request.session` (the store's
 * data) and `request.sessionID`; there is no `req.user` (Passport): the user is read from the
 * session (`auth.sessionUserKey`) or by `auth.resolveUser`.
 */
@Injectable()
export class PushStreamAuthListener implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('PushStreamAuth');
  private readonly settings: { port: number; host: string; path: string };
  private server: Server | undefined;
  private closing = false;
  private authorizer: ChannelAuthorizer | undefined;

  constructor(
    @Inject(PUSH_STREAM_AUTH_LISTENER_OPTIONS) options: PushStreamAuthListenerOptions,
    private readonly reader: PushStreamSessionReader,
    private readonly moduleRef: ModuleRef,
  ) {
    this.settings = checkOptions(options);
  }

  /** Where it listens, once the application started; null before and after. */
  address(): { host: string; port: number } | null {
    const address = this.server?.address() as AddressInfo | null | undefined;
    return address ? { host: address.address, port: address.port } : null;
  }

  async onApplicationBootstrap(): Promise<void> {
    try {
      // Wherever PushStreamModule is: the listener decides with the application's own rules.
      this.authorizer = this.moduleRef.get(ChannelAuthorizer, { strict: false });
    } catch {
      throw new PushStreamError(`${MODULE} needs PushStreamModule in the same application: its rules decide`);
    }
    const server = createServer({ keepAliveTimeout: KEEP_ALIVE_MS }, this.onRequest);
    const { port, host, path } = this.settings;
    await new Promise<void>((resolve, reject) => {
      const failed = (err: NodeJS.ErrnoException) =>
        reject(new PushStreamError(`PushStreamAuthListener cannot listen on ${host}:${port}: ${err.code ?? err.message}`, { cause: err }));
      server.once('error', failed);
      server.listen(port, host, () => {
        server.off('error', failed);
        resolve();
      });
    });
    server.on('error', (err) => this.logger.error(`auth listener: ${err.message}`));
    this.server = server;
    const bound = this.address()!;
    this.logger.log(`auth listener on http://${bound.host.includes(':') ? `[${bound.host}]` : bound.host}:${bound.port}${path}`);
  }

  async beforeApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.closing = true;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
      // close() also ends the idle connections (Node 19+); the busy ones end after their answer,
      // which says `Connection: close`.
      server.close(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }

  private readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '';
    const query = url.indexOf('?');
    if ((query < 0 ? url : url.slice(0, query)) !== this.settings.path) {
      this.answer(res, 404);
      return;
    }
    this.decide(req).then(
      (status) => this.answer(res, status),
      () => this.answer(res, 403),
    );
  };

  private answer(res: ServerResponse, status: 204 | 401 | 403 | 404 | 503): void {
    // No Content-Length on a 204, which has no body by definition.
    const headers = this.closing ? (status === 204 ? CLOSING : CLOSING_EMPTY) : status === 204 ? NO_STORE : NO_STORE_EMPTY;
    res.writeHead(status, headers).end();
  }

  private async decide(req: IncomingMessage): Promise<204 | 401 | 403 | 503> {
    const request: SubscriberAuthRequest = { headers: req.headers };
    const decision = await this.authorizer!.authorizeWithSession(request, () => this.reader.read(req.headers));
    if (decision.allowed) return 204;
    // The session store failed: not a refusal. nginx makes a 500 of it, which the browser client
    // retries (as it does the Express endpoint's 500 when express-session's store fails), where a
    // 401/403 would end it `denied` until the page reloads.
    return decision.retryable ? 503 : decision.status;
  }
}
