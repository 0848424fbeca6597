import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import {
  ChannelSetTooLargeError,
  PushStreamConfigError,
  InvalidChannelNameError,
  PushStreamModule,
  type PushStreamAuthOptions,
  PushStreamService,
} from '../../lib/index.js';

async function service(
  server: 'push-stream' | 'nchan',
  subscriber?: { host: string; port?: number; protocol: 'http' | 'https' },
  auth?: PushStreamAuthOptions,
) {
  const mod = await Test.createTestingModule({
    imports: [PushStreamModule.forRoot({ server, publisherUrl: 'http://127.0.0.1:1/pub', secret: 's'.repeat(16), subscriber, auth, authRoute: false })],
  }).compile();
  return mod.get(PushStreamService);
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected an error, nothing was thrown');
}

describe('PushStreamService.subscriberUrls', () => {
  it('builds push-stream URLs with a .bN backtrack per channel', async () => {
    const svc = await service('push-stream', { host: 'push.example.com', protocol: 'https' });
    const urls = svc.subscriberUrls([svc.channels.all(), svc.channels.user(7)], { backtrack: { [svc.channels.all()]: 10 } });
    expect(urls).toEqual({
      stream: 'https://push.example.com/sub/my-app__all__.b10/my-app__user__7',
      websocket: 'wss://push.example.com/ws/my-app__all__.b10/my-app__user__7',
      eventsource: 'https://push.example.com/ev/my-app__all__.b10/my-app__user__7',
      longpolling: 'https://push.example.com/lp/my-app__all__.b10/my-app__user__7',
    });
  });

  it('adds .bN only for a positive whole count', async () => {
    const svc = await service('push-stream', { host: 'h', protocol: 'http' });
    const all = svc.channels.all();
    for (const n of [0, -1, 0.5, Infinity, Number.NaN]) {
      expect(svc.subscriberUrls([all], { backtrack: { [all]: n } }).stream).toBe('http://h/sub/my-app__all__');
    }
  });

  it('ignores backtrack on Nchan, which replays its buffer, and keeps the port', async () => {
    const svc = await service('nchan', { host: 'localhost', port: 9080, protocol: 'http' });
    const urls = svc.subscriberUrls([svc.channels.all()], { backtrack: { [svc.channels.all()]: 10 } });
    expect(urls.websocket).toBe('ws://localhost:9080/ws/my-app__all__');
    expect(urls.stream).toBe('http://localhost:9080/sub/my-app__all__');
  });

  it('refuses unsafe channel names and a missing subscriber option', async () => {
    const svc = await service('nchan', { host: 'localhost', protocol: 'http' });
    expect(() => svc.subscriberUrls(['my-app__all__/x'])).toThrow(InvalidChannelNameError);
    const bare = await service('nchan');
    expect(() => bare.subscriberUrls([bare.channels.all()])).toThrow(PushStreamConfigError);
  });

  describe('refuses a set nginx or the auth endpoint would refuse, before anything else', () => {
    const room = (i: number) => `my-app__room__${i}`;

    it.each(['push-stream', 'nchan'] as const)('%s: more than auth.maxChannelsPerRequest channels (default 16, repeats counted)', async (server) => {
      const svc = await service(server, { host: 'h', protocol: 'http' });
      expect(() => svc.subscriberUrls(Array.from({ length: 16 }, (_, i) => room(i)))).not.toThrow();
      const seventeen = Array.from({ length: 17 }, (_, i) => room(i));
      const err = thrown(() => svc.subscriberUrls(seventeen));
      expect(err).toBeInstanceOf(ChannelSetTooLargeError);
      expect(err).toMatchObject({ measure: 'channels', size: 17, limit: 16, channels: seventeen, retryable: false });
      expect((err as Error).message).toMatch(/17 channels, more than 16 \(auth\.maxChannelsPerRequest.*403\)/);
      expect(() => svc.subscriberUrls(Array.from({ length: 17 }, () => room(1)))).toThrow(ChannelSetTooLargeError);
    });

    it('follows auth.maxChannelsPerRequest', async () => {
      const svc = await service('push-stream', { host: 'h', protocol: 'http' }, { maxChannelsPerRequest: 2 });
      expect(() => svc.subscriberUrls([room(1), room(2)])).not.toThrow();
      expect(thrown(() => svc.subscriberUrls([room(1), room(2), room(3)]))).toMatchObject({ size: 3, limit: 2 });
    });

    it('checks the count first: before the subscriber option and before each name', async () => {
      const bare = await service('nchan', undefined, { maxChannelsPerRequest: 2 });
      expect(() => bare.subscriberUrls(['a/b', 'c', 'd'])).toThrow(ChannelSetTooLargeError);
    });

    it("Nchan: a joined id over the shipped config's nchan_max_channel_id_length (2063)", async () => {
      const svc = await service('nchan', { host: 'h', protocol: 'http' }, { maxChannelsPerRequest: 32 });
      const long = (i: number) => `my-app__room__${i}_`.padEnd(128, 'x');
      const sixteen = Array.from({ length: 16 }, (_, i) => long(i));
      expect(svc.subscriberUrls(sixteen).stream).toHaveLength('http://h/sub/'.length + 2063);
      const err = thrown(() => svc.subscriberUrls([...sixteen, room(99)]));
      expect(err).toBeInstanceOf(ChannelSetTooLargeError);
      expect(err).toMatchObject({ measure: 'characters', limit: 2063 });
      // The Push Stream Module has no such limit: the same set is fine there.
      const ps = await service('push-stream', { host: 'h', protocol: 'http' }, { maxChannelsPerRequest: 32 });
      expect(() => ps.subscriberUrls([...sixteen, room(99)])).not.toThrow();
    });
  });
});
