// TLS on the public listener, as `nestjs-push-stream nginx-config --tls-cert --tls-key` renders it:
// wss:// and https:// subscribers through real nginx on both servers, with a self-signed
// certificate made for the run; the publisher stays plain HTTP on loopback.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import WebSocket from 'ws';
import { PushStreamModule, PushStreamService } from '../../lib/index.js';
import { NginxTestServer } from '../../lib/testing/index.js';
import { AuthStubServer } from '../support/auth-stub-server.js';
import { E2E_SECRET, eventually, uniqueChannel } from '../support/e2e-helpers.js';
import { SERVERS } from '../support/servers.js';

const run = promisify(execFile);

let dir: string;
let cert: { certificate: string; key: string };
let ca: Buffer;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'push-stream-tls-'));
  cert = { certificate: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', cert.key, '-out', cert.certificate]);
  ca = await readFile(cert.certificate);
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.each(SERVERS)('TLS on the public listener (%s)', (server) => {
  let app: AuthStubServer;
  let nginx: NginxTestServer;
  let context: INestApplicationContext;
  let service: PushStreamService;

  beforeAll(async () => {
    app = await AuthStubServer.start();
    nginx = await NginxTestServer.start({ server, appUpstream: app.upstream, tls: cert });
    context = await NestFactory.createApplicationContext(
      PushStreamModule.forRoot({ server, publisherUrl: nginx.publisherUrl, prefix: 'tls', secret: E2E_SECRET, authRoute: false }),
      { logger: false, abortOnError: false },
    );
    service = context.get(PushStreamService);
  });

  afterAll(async () => {
    await context?.close();
    await nginx?.dispose();
    await app?.close();
  });

  it('a wss:// subscriber, verified against the certificate, receives what the app publishes over plain HTTP', async () => {
    expect(nginx.baseUrl).toMatch(/^https:\/\//);
    const channel = uniqueChannel('tls');
    const ws = new WebSocket(`${nginx.baseUrl.replace(/^https/, 'wss')}/ws/${channel}`, { ca });
    const received = new Promise<string>((resolve, reject) => {
      ws.once('message', (data) => resolve(data.toString()));
      ws.once('error', reject);
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    try {
      await eventually('the subscriber counted', async () => (await service.channelInfo(channel))?.subscribers === 1);
      await service.publish(channel, { over: 'tls' });
      expect(JSON.parse(await received)).toMatchObject({ channel, text: { over: 'tls' } });
    } finally {
      ws.terminate();
    }
  });

  it('plain HTTP to the TLS listener is refused by nginx (400), never served', async () => {
    const res = await fetch(`${nginx.baseUrl.replace(/^https/, 'http')}/lp/${uniqueChannel('tls')}`);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('The plain HTTP request was sent to HTTPS port');
  });

  it('an https:// request is asked about at the app like any other subscription', async () => {
    const before = app.authRequests.length;
    const status = await new Promise<number>((resolve, reject) => {
      // A stream subscription answers its status line at once; the body is not awaited.
      const req = request(`${nginx.baseUrl}/sub/${uniqueChannel('tls')}`, { ca }, (res) => {
        resolve(res.statusCode ?? 0);
        res.destroy();
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
    expect(app.authRequests.length).toBe(before + 1);
  });
});
