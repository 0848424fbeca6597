// The Push Stream Module with its shared memory full, for real: the shipped template with a 1 MiB
// zone. The module answers 500 with no Explain header; the library must say so as a retryable
// PushStreamHttpError, and the README's sizing note rests on these numbers.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { PushStreamHttpError, PushStreamModule, PushStreamService } from '../../lib/index.js';
import { NGINX_CONFIG_DIR, NginxTestServer } from '../../lib/testing/index.js';
import { AuthStubServer } from '../support/auth-stub-server.js';
import { E2E_SECRET, uniqueChannel } from '../support/e2e-helpers.js';
import { SKIP_PUSH_STREAM } from '../support/servers.js';

(SKIP_PUSH_STREAM ? describe.skip : describe)('Push Stream Module with its shared memory full', () => {
  let configDir: string;
  let app: AuthStubServer;
  let nginx: NginxTestServer;
  let context: INestApplicationContext;
  let service: PushStreamService;

  beforeAll(async () => {
    configDir = await mkdtemp(join(tmpdir(), 'push-stream-small-zone-'));
    await cp(NGINX_CONFIG_DIR, configDir, { recursive: true });
    const template = join(configDir, 'push-stream.conf.template');
    const shipped = await readFile(template, 'utf8');
    const small = shipped.replace(/^push_stream_shared_memory_size \S+;$/m, 'push_stream_shared_memory_size 1M;');
    expect(small).not.toBe(shipped);
    await writeFile(template, small);
    app = await AuthStubServer.start();
    nginx = await NginxTestServer.start({ server: 'push-stream', appUpstream: app.upstream, configDir });
    context = await NestFactory.createApplicationContext(
      PushStreamModule.forRoot({
        server: 'push-stream',
        publisherUrl: nginx.publisherUrl,
        statsUrl: nginx.statsUrl,
        prefix: 'mem',
        secret: E2E_SECRET,
        retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
        authRoute: false,
      }),
      { logger: false, abortOnError: false },
    );
    service = context.get(PushStreamService);
  });

  afterAll(async () => {
    await context?.close();
    await nginx?.dispose();
    await app?.close();
    if (configDir) await rm(configDir, { recursive: true, force: true });
  });

  it('answers 500 without an Explain header once the zone is full: a retryable PushStreamHttpError', async () => {
    const message = 'x'.repeat(30_000);
    const stored: string[] = [];
    let error: unknown;
    // Bounded: a 1 MiB zone cannot hold 40 messages of 30 KB (each is kept once per template too).
    for (let i = 0; i < 40 && error === undefined; i++) {
      const channel = uniqueChannel('mem');
      await service.publish(channel, message).then(
        () => stored.push(channel),
        (err: unknown) => (error = err),
      );
    }

    expect(error).toBeInstanceOf(PushStreamHttpError);
    expect(error).toMatchObject({ status: 500, retryable: true, explain: undefined });
    // The figure in the README: a handful of 30 KB messages fill a 1 MiB zone.
    expect(stored.length).toBeGreaterThanOrEqual(1);
    expect(stored.length).toBeLessThanOrEqual(8);
    expect(await nginx.errorLog()).toContain('push stream module: unable to allocate message in shared memory');
  });
});
