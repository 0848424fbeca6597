/**
 * UndiciHttpClient's deadline against a real socket (a node:http server on loopback): a request
 * that was sent and not answered is aborted at timeoutMs (undici closes its connection), and one
 * still waiting for a pooled connection at its deadline is never sent, the connection kept.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { PushStreamTimeoutError } from '../../lib/errors/index.js';
import { UndiciHttpClient } from '../../lib/http/index.js';

interface Seen {
  path: string;
  socket: Socket;
  res: ServerResponse;
}

async function server(onRequest: (seen: Seen, req: IncomingMessage) => void) {
  const seen: Seen[] = [];
  const sockets = new Set<Socket>();
  const srv = createServer((req, res) => {
    const s = { path: req.url ?? '', socket: req.socket, res };
    seen.push(s);
    onRequest(s, req);
  });
  srv.on('connection', (socket) => sockets.add(socket));
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/pub`,
    seen,
    sockets,
    async close() {
      srv.closeAllConnections();
      await new Promise((resolve) => srv.close(resolve));
    },
  };
}

const json = (res: ServerResponse) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}');

describe('UndiciHttpClient deadline on a real connection', () => {
  let http: UndiciHttpClient | undefined;
  afterEach(async () => {
    await http?.onModuleDestroy();
    http = undefined;
  });

  it('a request sent and never answered: PushStreamTimeoutError at timeoutMs, its connection closed', async () => {
    const s = await server(() => undefined);
    try {
      http = new UndiciHttpClient({ connections: 1 });
      const started = Date.now();
      const err = await http.request({ method: 'POST', url: `${s.url}?id=a`, headers: {}, body: '"x"', timeoutMs: 150 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PushStreamTimeoutError);
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
      expect(s.seen).toHaveLength(1);
      if (!s.seen[0].socket.destroyed) await once(s.seen[0].socket, 'close');
      expect(s.seen[0].socket.destroyed).toBe(true);
    } finally {
      await s.close();
    }
  });

  it('a request queued behind a slow one past its deadline is never sent, and the connection stays in use', async () => {
    const s = await server((seen) => {
      if (seen.path.endsWith('id=slow')) setTimeout(() => json(seen.res), 300);
      else json(seen.res);
    });
    try {
      // One connection: the second request waits for the first.
      http = new UndiciHttpClient({ connections: 1 });
      const slow = http.request({ method: 'POST', url: `${s.url}?id=slow`, headers: {}, body: '"1"', timeoutMs: 2000 });
      const queued = http.request({ method: 'POST', url: `${s.url}?id=queued`, headers: {}, body: '"2"', timeoutMs: 100 }).catch((e: unknown) => e);
      expect(await queued).toBeInstanceOf(PushStreamTimeoutError);
      expect((await slow).status).toBe(200);
      const after = await http.request({ method: 'POST', url: `${s.url}?id=after`, headers: {}, body: '"3"', timeoutMs: 2000 });
      expect(after.status).toBe(200);
      expect(s.seen.map((x) => x.path)).toEqual(['/pub?id=slow', '/pub?id=after']);
      // The same keep-alive connection served both: dropping the expired request did not close it.
      expect(s.sockets.size).toBe(1);
      expect(s.seen[1].socket).toBe(s.seen[0].socket);
    } finally {
      await s.close();
    }
  });
});
