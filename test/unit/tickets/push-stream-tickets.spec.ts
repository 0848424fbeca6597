import 'reflect-metadata';
import { jest } from '@jest/globals';
import { ForbiddenException, UnauthorizedException } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  ChannelSetTooLargeError,
  InvalidChannelNameError,
  PushStreamConfigError,
  PushStreamModule,
  type PushStreamModuleOptions,
  PushStreamChannels,
  PushStreamService,
  PushStreamTickets,
} from '../../../lib/index.js';
import { deriveTicketKey, verifyTicket } from '../../../lib/testing/index.js';

const SECRET = 'tickets-unit-secret-0123456789';

async function tickets(server: 'push-stream' | 'nchan', extra: Partial<PushStreamModuleOptions> = {}) {
  const mod = await Test.createTestingModule({
    imports: [PushStreamModule.forRoot({ server, publisherUrl: 'http://127.0.0.1:1/pub', secret: SECRET, authRoute: false, ...extra })],
  }).compile();
  return { tickets: mod.get(PushStreamTickets), channels: mod.get(PushStreamChannels) };
}

/** What issue() reads of a request: headers, and the session or user the app's middleware put there. */
function request(user?: { id: string | number }) {
  return { headers: {}, user };
}

describe.each(['push-stream', 'nchan'] as const)('PushStreamTickets on %s', (server) => {
  const now = 1_800_000_000;
  beforeEach(() => jest.spyOn(Date, 'now').mockReturnValue(now * 1000));
  afterEach(() => jest.restoreAllMocks());

  it('signs the channel path of the subscriber URL, valid for auth.ticketTtlSeconds (60 s by default)', async () => {
    const { tickets: t, channels } = await tickets(server);
    const names = [channels.all(), channels.user(7)];
    const signed = t.sign(names);
    expect(signed).toEqual({ ticket: expect.stringMatching(/^1800000060\./), expiresAt: now + 60, channels: names });
    expect(verifyTicket(deriveTicketKey(SECRET), signed.ticket, names.join('/'), now)).toBe('valid');
    expect(t.sign(names, { ttlSeconds: 5 }).expiresAt).toBe(now + 5);
    const longer = await tickets(server, { auth: { ticketTtlSeconds: 300 } });
    expect(longer.tickets.sign(names).expiresAt).toBe(now + 300);
  });

  it('puts the ticket in every subscriber URL when the module has a subscriber endpoint', async () => {
    const { tickets: t, channels } = await tickets(server, { subscriber: { host: 'push.example.com', protocol: 'https' } });
    const { ticket, urls } = t.sign([channels.all()]);
    expect(urls).toEqual({
      stream: `https://push.example.com/sub/my-app__all__?ticket=${ticket}`,
      websocket: `wss://push.example.com/ws/my-app__all__?ticket=${ticket}`,
      eventsource: `https://push.example.com/ev/my-app__all__?ticket=${ticket}`,
      longpolling: `https://push.example.com/lp/my-app__all__?ticket=${ticket}`,
    });
  });

  it('issues a ticket only for what the auth rules allow this request: 401 with no user, 403 for another user', async () => {
    const { tickets: t, channels } = await tickets(server);
    expect((await t.issue(request(), [channels.all()])).channels).toEqual([channels.all()]);
    await expect(t.issue(request(), [channels.all(), channels.user(7)])).rejects.toBeInstanceOf(UnauthorizedException);
    await expect(t.issue(request({ id: 8 }), [channels.user(7)])).rejects.toBeInstanceOf(ForbiddenException);
    const mine = await t.issue(request({ id: 7 }), [channels.user(7)]);
    expect(verifyTicket(deriveTicketKey(SECRET), mine.ticket, channels.user(7), now)).toBe('valid');
  });

  it('refuses bad names, too many channels and a bad lifetime with typed errors, before any rule', async () => {
    const { tickets: t, channels } = await tickets(server);
    await expect(t.issue(request(), ['my-app__all__/../x'])).rejects.toBeInstanceOf(InvalidChannelNameError);
    await expect(t.issue(request(), Array.from({ length: 17 }, () => channels.all()))).rejects.toBeInstanceOf(ChannelSetTooLargeError);
    expect(() => t.sign([channels.all()], { ttlSeconds: 0 })).toThrow(PushStreamConfigError);
    await expect(tickets(server, { auth: { ticketTtlSeconds: 1.5 } })).rejects.toThrow(/auth.ticketTtlSeconds/);
  });

  it("auth.ticketFormat 'secure-link-md5': signs the MD5 flavor with the same derived key, and subscriberUrls() refuses a backtrack", async () => {
    const { tickets: t, channels } = await tickets(server, {
      subscriber: { host: 'push.example.com', protocol: 'https' },
      auth: { ticketFormat: 'secure-link-md5' },
    });
    const names = [channels.all(), channels.user(7)];
    const signed = t.sign(names);
    expect(signed.ticket).toMatch(/^1800000060\.[A-Za-z0-9_-]{21}[AQgw]$/);
    expect(signed.urls?.websocket).toBe(`wss://push.example.com/ws/${names.join('/')}?ticket=${signed.ticket}`);
    const key = deriveTicketKey(SECRET);
    expect(verifyTicket(key, signed.ticket, names.join('/'), { now, format: 'secure-link-md5' })).toBe('valid');
    expect(verifyTicket(key, signed.ticket, names.join('/'), now)).toBe('invalid'); // not an HMAC ticket
    const mod = await Test.createTestingModule({
      imports: [
        PushStreamModule.forRoot({
          server,
          publisherUrl: 'http://127.0.0.1:1/pub',
          secret: SECRET,
          authRoute: false,
          subscriber: { host: 'push.example.com', protocol: 'https' },
          auth: { ticketFormat: 'secure-link-md5' },
        }),
      ],
    }).compile();
    const push = mod.get(PushStreamService);
    const history = () => push.subscriberUrls([channels.all()], { backtrack: { [channels.all()]: 5 } });
    // push-stream writes .b5 into the path, which nginx refuses in secure-link mode; Nchan has no backtrack.
    if (server === 'push-stream') expect(history).toThrow(/backtrack.*secure-link/);
    else expect(history().websocket).toBe(`wss://push.example.com/ws/${channels.all()}`);
    expect(push.subscriberUrls([channels.all()]).websocket).toBe(`wss://push.example.com/ws/${channels.all()}`);
  });
});
