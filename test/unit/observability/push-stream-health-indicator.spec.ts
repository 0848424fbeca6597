import 'reflect-metadata';
import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import { PushStreamConnectionError, PushStreamHttpClient, type PushStreamHttpRequest } from '../../../lib/index.js';
import { PushStreamHealthIndicator } from '../../../lib/terminus/index.js';
import { PushStreamTestingModule } from '../../../lib/testing/index.js';

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly pushStream: PushStreamHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.pushStream.isHealthy('push-stream', { timeoutMs: 500 })]);
  }
}

/** nginx down: every request fails to connect. */
class Unreachable extends PushStreamHttpClient {
  async request(req: PushStreamHttpRequest): Promise<never> {
    throw new PushStreamConnectionError(req.url, Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
  }
}

async function indicator(server: 'push-stream' | 'nchan', down = false) {
  let builder = Test.createTestingModule({
    imports: [TerminusModule, PushStreamTestingModule.forRoot({ server, authRoute: false })],
    providers: [PushStreamHealthIndicator],
    controllers: [HealthController],
  });
  if (down) builder = builder.overrideProvider(PushStreamHttpClient).useClass(Unreachable);
  const mod = await builder.compile();
  mod.useLogger(false); // terminus logs every failed check as an error
  return { indicator: mod.get(PushStreamHealthIndicator), controller: mod.get(HealthController) };
}

describe.each(['push-stream', 'nchan'] as const)('PushStreamHealthIndicator on %s', (server) => {
  it('is up with the checks that passed and the server figures', async () => {
    const { indicator: health } = await indicator(server);
    const result = await health.isHealthy('push');
    expect(result).toEqual({
      push: expect.objectContaining({
        status: 'up',
        server,
        checks: [expect.objectContaining({ name: 'stats', ok: true }), expect.objectContaining({ name: 'channel-info', ok: true })],
        stats: expect.objectContaining({ channels: expect.any(Number), subscribers: expect.any(Number) }),
      }),
    });
  });

  it('is down, naming each failed check and why, and HealthCheckService answers 503', async () => {
    const { indicator: health, controller } = await indicator(server, true);
    const result = await health.isHealthy();
    expect(result['push-stream'].status).toBe('down');
    expect(result['push-stream'].checks).toEqual([
      expect.objectContaining({ name: 'stats', ok: false, error: expect.stringMatching(/Cannot reach nginx at .*ECONNREFUSED/) }),
      expect.objectContaining({ name: 'channel-info', ok: false }),
    ]);
    await expect(controller.check()).rejects.toMatchObject({ status: 503 });
  });
});
