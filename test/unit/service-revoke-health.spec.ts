/**
 * PushStreamService.revokeSession / revokeUser and health(), through a Nest testing module with a
 * scripted HTTP client: which requests go out, and what the results and errors say.
 */
import 'reflect-metadata';
import { Test, type TestingModule } from '@nestjs/testing';
import {
  InvalidChannelNameError,
  PushStreamConnectionError,
  PushStreamHttpError,
  PushStreamProtocolError,
  PushStreamTimeoutError,
} from '../../lib/errors/index.js';
import { PushStreamHttpClient, type PushStreamHttpRequest, type PushStreamHttpResponse } from '../../lib/http/index.js';
import type { PushStreamModuleOptions } from '../../lib/options/index.js';
import { PUSH_STREAM_SLEEP } from '../../lib/push-stream.constants.js';
import { PushStreamModule } from '../../lib/push-stream.module.js';
import { PushStreamService } from '../../lib/service/index.js';

const SECRET = 'revoke-spec-secret-0123456789';
const PUB = 'http://admin:P4ssw0rd@nginx.invalid/pub';

type Answer = (req: PushStreamHttpRequest) => Promise<PushStreamHttpResponse> | PushStreamHttpResponse;

const ok = (body = '', status = 200): PushStreamHttpResponse => ({ status, headers: {}, body });
const PS_INFO = (channel: string) => ok(`{"channel": "${channel}", "published_messages": 0, "stored_messages": 0, "subscribers": 1}`);
const PS_STATS = ok(
  '{"hostname": "h", "time": "2026-01-01T00:00:00", "channels": 1, "wildcard_channels": 0, "published_messages": 0, "stored_messages": 0, "messages_in_trash": 0, "channels_in_delete": 0, "channels_in_trash": 0, "subscribers": 3, "uptime": 90, "by_worker": [{"pid": "11", "subscribers": 2, "uptime": 90}, {"pid": "12", "subscribers": 1, "uptime": 4}]}',
);
const NCHAN_STATS = ok('total published messages: 0\nstored messages: 0\nchannels: 0\nsubscribers: 0\nnchan version: 1.3.6\n');

describe('PushStreamService.revokeSession / revokeUser / health', () => {
  let moduleRef: TestingModule | undefined;
  const sent: PushStreamHttpRequest[] = [];
  let answer: Answer;

  async function service(options: Partial<PushStreamModuleOptions> = {}): Promise<PushStreamService> {
    const client: PushStreamHttpClient = {
      request: async (req) => {
        sent.push(req);
        return answer(req);
      },
    };
    moduleRef = await Test.createTestingModule({
      imports: [PushStreamModule.forRoot({ publisherUrl: PUB, secret: SECRET, authRoute: false, retry: { attempts: 2 }, ...options })],
    })
      .overrideProvider(PushStreamHttpClient)
      .useValue(client)
      .overrideProvider(PUSH_STREAM_SLEEP)
      .useValue(async () => undefined)
      .compile();
    return moduleRef.get(PushStreamService);
  }

  beforeEach(() => {
    sent.splice(0);
    answer = () => ok();
  });
  afterEach(async () => {
    await moduleRef?.close();
    moduleRef = undefined;
  });

  describe('revokeSession / revokeUser', () => {
    it('push-stream: one DELETE of the session channel per publisher, with the revocation notice; connections are not all closed', async () => {
      const push = await service({ publisherUrl: [PUB, 'http://second.invalid/pub'] });
      const channel = push.channels.session('sid-1');
      const result = await push.revokeSession('sid-1');
      expect(result).toEqual({ channel, existed: true, connectionsClosed: false });
      expect(sent.map((r) => [r.method, r.url, r.body])).toEqual([
        ['DELETE', `${PUB}?id=${channel}`, '"Subscription revoked"'],
        ['DELETE', `http://second.invalid/pub?id=${channel}`, '"Subscription revoked"'],
      ]);
    });

    it('nchan: a bare DELETE of the user channel (no in-band notice published); every connection naming it is closed', async () => {
      const push = await service({ server: 'nchan' });
      answer = () => ok('{"messages": 0, "requested": -1, "subscribers": 1, "last_message_id": "0:0" }');
      expect(await push.revokeUser(42)).toEqual({ channel: 'my-app__user__42', existed: true, connectionsClosed: true });
      expect(sent.map((r) => [r.method, r.url, r.body])).toEqual([['DELETE', `${PUB}?id=my-app__user__42`, undefined]]);
    });

    it('existed is false when no publisher knew the channel (404)', async () => {
      const push = await service({ publisherUrl: [PUB, 'http://second.invalid/pub'] });
      answer = () => ok('', 404);
      expect((await push.revokeUser('carol')).existed).toBe(false);
      answer = (req) => (req.url.startsWith(PUB) ? ok('', 404) : ok());
      expect((await push.revokeUser('carol')).existed).toBe(true);
    });

    it('refuses an unsafe user id or an empty session id before any request', async () => {
      const push = await service();
      await expect(push.revokeUser('1/__all__')).rejects.toThrow(InvalidChannelNameError);
      await expect(push.revokeSession('')).rejects.toThrow(InvalidChannelNameError);
      expect(sent).toHaveLength(0);
    });

    it('fails like the other methods: a 5xx is retried, then a PushStreamHttpError', async () => {
      const push = await service();
      answer = () => ok('', 500);
      const err = await push.revokeUser('carol').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PushStreamHttpError);
      expect(err).toMatchObject({ status: 500, retryable: true, channels: ['my-app__user__carol'] });
      expect(sent).toHaveLength(2);
    });
  });

  describe('health', () => {
    it('all good on push-stream: the stats check, one channel-info check per publisher, the workers; URLs redacted', async () => {
      const push = await service();
      answer = (req) => (req.url.includes('channels-stats') ? PS_STATS : req.url.endsWith('__health__3') ? PS_INFO('x') : ok('', 404));
      const report = await push.health({ timeoutMs: 250 });
      expect(report).toEqual({
        healthy: true,
        server: 'push-stream',
        checks: [
          { name: 'stats', url: 'http://***@nginx.invalid/channels-stats', ok: true },
          { name: 'channel-info', url: 'http://***@nginx.invalid/pub', ok: true },
        ],
        stats: { channels: 1, subscribers: 3, storedMessages: 0, publishedMessages: 0 },
        workers: [
          { pid: 11, subscribers: 2, uptime: 90 },
          { pid: 12, subscribers: 1, uptime: 4 },
        ],
      });
      const infos = sent.filter((r) => r.url.includes('?id='));
      expect(infos).toHaveLength(16);
      expect(new Set(infos.map((r) => r.url)).size).toBe(16);
      expect(infos.every((r) => r.method === 'GET' && /\?id=my-app__health__\d+$/.test(r.url))).toBe(true);
      // Bounded by the given timeout, never retried.
      expect(sent.every((r) => r.timeoutMs === 250)).toBe(true);
    });

    it('a probe that times out fails its check with the PushStreamTimeoutError, once; the others still report', async () => {
      const push = await service({ server: 'nchan', retry: { attempts: 5 } });
      answer = (req) => {
        if (req.url.endsWith('__health__7')) throw new PushStreamTimeoutError(req.url, req.timeoutMs);
        return req.url.includes('nchan-stats') ? NCHAN_STATS : ok('', 404);
      };
      const report = await push.health({ timeoutMs: 100 });
      expect(report.healthy).toBe(false);
      expect(report.workers).toBeUndefined();
      expect(report.checks.map((c) => [c.name, c.ok])).toEqual([
        ['stats', true],
        ['channel-info', false],
      ]);
      const error = report.checks[1].error;
      expect(error).toBeInstanceOf(PushStreamTimeoutError);
      expect(error?.message).toBe('nginx at http://***@nginx.invalid/pub?id=my-app__health__7 did not answer within 100 ms');
      expect(sent.filter((r) => r.url.endsWith('__health__7'))).toHaveLength(1);
    });

    it('names the stats check when the stats location answers something else, and a down publisher', async () => {
      const push = await service({ server: 'nchan', publisherUrl: [PUB, 'http://down.invalid/pub'] });
      answer = (req) => {
        if (req.url.startsWith('http://down.invalid')) throw new PushStreamConnectionError(req.url, new Error('ECONNREFUSED'));
        return req.url.includes('nchan-stats') ? ok('<html>not stats</html>') : ok('', 404);
      };
      const report = await push.health();
      expect(report.healthy).toBe(false);
      expect(report.checks.map((c) => [c.name, c.url, c.ok, c.error?.constructor])).toEqual([
        ['stats', 'http://***@nginx.invalid/nchan-stats', false, PushStreamProtocolError],
        ['channel-info', 'http://***@nginx.invalid/pub', true, undefined],
        ['channel-info', 'http://down.invalid/pub', false, PushStreamConnectionError],
      ]);
      expect(sent.every((r) => r.timeoutMs === 5000)).toBe(true); // publishTimeoutMs by default
    });

    it('refuses a timeout that is not a positive whole number', async () => {
      const push = await service();
      await expect(push.health({ timeoutMs: 0 })).rejects.toThrow(/timeoutMs/);
      expect(sent).toHaveLength(0);
    });
  });
});
