/**
 * Credentials in a publisher URL (`http://user:password@proxy/pub`) never appear in an error
 * message or its cause, with either HTTP client; and the default client sends them as Basic auth.
 */
import 'reflect-metadata';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { HttpService } from '@nestjs/axios';
import axios from 'axios';
import { AxiosHttpClient } from '../../lib/http/axios-http-client.js';
import {
  PushStreamConnectionError,
  PushStreamError,
  PushStreamTimeoutError,
  redactUrl,
} from '../../lib/errors/index.js';
import { UndiciHttpClient, type PushStreamHttpClient } from '../../lib/http/index.js';

const PASSWORD = 'P4ssw0rd';

describe('redactUrl', () => {
  it.each([
    ['http://admin:P4ssw0rd@nginx:9081/pub', 'http://***@nginx:9081/pub'],
    ['https://admin@nginx/pub?id=a', 'https://***@nginx/pub?id=a'],
    ['http://a:p@ss@nginx/pub', 'http://***@nginx/pub'], // an unencoded "@" in the password
    ['http://nginx:9081/pub?id=a@b', 'http://nginx:9081/pub?id=a@b'], // "@" after the path is not userinfo
    ['http://nginx:9081/pub', 'http://nginx:9081/pub'],
    ['redis://:secret@cache:6379/0', 'redis://***@cache:6379/0'],
    ['not a url', 'not a url'],
  ])('%s -> %s', (input, expected) => {
    expect(redactUrl(input)).toBe(expected);
  });

  it('redacts every URL in a longer text', () => {
    expect(redactUrl('from http://a:b@x/1 to https://c:d@y/2 and ftp://z/3')).toBe('from http://***@x/1 to https://***@y/2 and ftp://z/3');
  });
});

describe('error messages', () => {
  it('PushStreamConnectionError names the URL without credentials, and so does its cause', () => {
    const cause = Object.assign(new Error(`connect ECONNREFUSED for http://admin:${PASSWORD}@127.0.0.1:1/pub`), { code: 'ECONNREFUSED' });
    const err = new PushStreamConnectionError(`http://admin:${PASSWORD}@127.0.0.1:1/pub?id=a`, cause);
    expect(err.message).toBe('Cannot reach nginx at http://***@127.0.0.1:1/pub?id=a: ECONNREFUSED');
    expect(err.cause).toBeInstanceOf(Error);
    expect(err.cause).toMatchObject({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED for http://***@127.0.0.1:1/pub' });
    expect(JSON.stringify({ m: err.message, c: String(err.cause), s: (err.cause as Error).stack })).not.toContain(PASSWORD);
  });

  it('PushStreamTimeoutError names the URL without credentials', () => {
    const err = new PushStreamTimeoutError(`http://admin:${PASSWORD}@nginx/pub`, 150);
    expect(err.message).toBe('nginx at http://***@nginx/pub did not answer within 150 ms');
  });
});

/** A port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createNetServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Everything an error exposes to a logger: message, stack, cause and its own properties. */
function printed(err: unknown): string {
  const e = err as Error;
  return [e.message, e.stack, String(e.cause), (e.cause as Error | undefined)?.stack, JSON.stringify(e), JSON.stringify(e.cause)].join('\n');
}

const clients: Array<[string, () => PushStreamHttpClient, () => Promise<void>]> = [];
{
  let undici: UndiciHttpClient | undefined;
  clients.push([
    'UndiciHttpClient',
    () => (undici = new UndiciHttpClient()),
    async () => {
      await undici?.onModuleDestroy();
    },
  ]);
  clients.push(['AxiosHttpClient', () => new AxiosHttpClient(new HttpService(axios.create())), async () => undefined]);
}

describe.each(clients)('%s', (_name, make, dispose) => {
  let client: PushStreamHttpClient;
  beforeEach(() => {
    client = make();
  });
  afterEach(async () => {
    await dispose();
  });

  it('connection refused: no credentials anywhere in the error', async () => {
    const url = `http://admin:${PASSWORD}@127.0.0.1:${await closedPort()}/pub?id=a`;
    const err = await client.request({ method: 'POST', url, headers: {}, body: '"x"', timeoutMs: 2000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PushStreamConnectionError);
    expect(err).toBeInstanceOf(PushStreamError);
    expect((err as Error).message).toContain('http://***@127.0.0.1:');
    expect(printed(err)).not.toContain(PASSWORD);
  });

  it('sends the URL credentials as Basic authorization', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const res = await client.request({ method: 'GET', url: `http://admin:${encodeURIComponent('p@ss:w/rd')}@127.0.0.1:${port}/pub?id=a`, headers: {}, timeoutMs: 2000 });
      expect(res.status).toBe(200);
      expect(seen[0].authorization).toBe(`Basic ${Buffer.from('admin:p@ss:w/rd').toString('base64')}`);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
