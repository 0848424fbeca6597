import 'reflect-metadata';
import { Test } from '@nestjs/testing';
import { PushStreamConfigError, InvalidChannelNameError, PushStreamModule, PushStreamService } from '../../lib/index.js';

async function service(server: 'push-stream' | 'nchan', subscriber?: { host: string; port?: number; protocol: 'http' | 'https' }) {
  const mod = await Test.createTestingModule({
    imports: [PushStreamModule.forRoot({ server, publisherUrl: 'http://127.0.0.1:1/pub', secret: 's'.repeat(16), subscriber, authRoute: false })],
  }).compile();
  return mod.get(PushStreamService);
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
});
