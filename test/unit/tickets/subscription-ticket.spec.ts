import { createHash, createHmac } from 'node:crypto';
import { deriveTicketKey, signTicket, ticketChannelPath, verifyTicket } from '../../../lib/testing/index.js';
import { isSecureLinkTicket, ticketExpiry } from '../../../lib/shared/push-stream-protocol.js';

const KEY = deriveTicketKey('a-secret-of-sixteen-or-more');
const PATH = 'my-app__all__/my-app__user__7';
const NOW = 1_800_000_000;

describe('subscription tickets (the format nginx/push-stream-ticket.js checks)', () => {
  it('derives a 64-hex key from the secret with a label: not the secret, and one per secret', () => {
    expect(KEY).toMatch(/^[0-9a-f]{64}$/);
    expect(KEY).toBe(createHmac('sha256', 'a-secret-of-sixteen-or-more').update('nestjs-push-stream subscription ticket v1').digest('hex'));
    expect(deriveTicketKey('another-secret-of-sixteen')).not.toBe(KEY);
  });

  it('is "<expiry>.<base64url HMAC-SHA256 of expiry:path>", keyed by the hex key as text', () => {
    const ticket = signTicket(KEY, PATH, NOW + 60);
    const mac = createHmac('sha256', KEY).update(`${NOW + 60}:${PATH}`).digest('base64url');
    expect(ticket).toBe(`${NOW + 60}.${mac}`);
    expect(ticketExpiry(ticket)).toBe(NOW + 60);
  });

  it('is valid for its path until its expiry, then expired (the expiry second itself is expired)', () => {
    const ticket = signTicket(KEY, PATH, NOW + 60);
    expect(verifyTicket(KEY, ticket, PATH, NOW)).toBe('valid');
    expect(verifyTicket(KEY, ticket, PATH, NOW + 59)).toBe('valid');
    expect(verifyTicket(KEY, ticket, PATH, NOW + 60)).toBe('expired');
  });

  it("ignores push-stream's .b<n> backtrack suffixes, so a resume keeps its ticket", () => {
    const ticket = signTicket(KEY, PATH, NOW + 60);
    expect(ticketChannelPath('my-app__all__.b10/my-app__user__7.b2')).toBe(PATH);
    expect(verifyTicket(KEY, ticket, 'my-app__all__.b10/my-app__user__7', NOW)).toBe('valid');
    // Only a whole segment-final suffix: anything else is another channel.
    expect(verifyTicket(KEY, ticket, 'my-app__all__.b/my-app__user__7', NOW)).toBe('invalid');
    expect(verifyTicket(KEY, ticket, 'my-app__all__.b1x/my-app__user__7', NOW)).toBe('invalid');
  });

  it('is invalid for any other path, key, expiry or signature', () => {
    const ticket = signTicket(KEY, PATH, NOW + 60);
    const [expiry, mac] = ticket.split('.');
    for (const path of ['my-app__all__', 'my-app__user__7/my-app__all__', `${PATH}/my-app__user__8`, `${PATH}/`, `/${PATH}`]) {
      expect(verifyTicket(KEY, ticket, path, NOW)).toBe('invalid');
    }
    expect(verifyTicket(deriveTicketKey('another-secret-of-sixteen'), ticket, PATH, NOW)).toBe('invalid');
    expect(verifyTicket(KEY, `${Number(expiry) + 1}.${mac}`, PATH, NOW)).toBe('invalid');
    const flipped = `${expiry}.${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`;
    expect(verifyTicket(KEY, flipped, PATH, NOW)).toBe('invalid');
    // An expired ticket with a wrong signature is invalid, not expired: nothing is said of a forgery.
    expect(verifyTicket(KEY, flipped, PATH, NOW + 3600)).toBe('invalid');
  });

  it('refuses malformed tickets without throwing', () => {
    const mac = signTicket(KEY, PATH, NOW + 60).split('.')[1];
    for (const ticket of ['', '.', 'abc', `${NOW}`, `${NOW}.`, `${NOW}.short`, `-1.${mac}`, `1e9.${mac}`, `${'9'.repeat(13)}.${mac}`, `${NOW}.${mac}=`, ` ${NOW}.${mac}`]) {
      expect(ticketExpiry(ticket)).toBeNull();
      expect(verifyTicket(KEY, ticket, PATH, NOW)).toBe('invalid');
    }
  });

  it('signs only a whole, non-negative expiry', () => {
    for (const bad of [-1, 1.5, Number.NaN, Infinity]) expect(() => signTicket(KEY, PATH, bad)).toThrow(RangeError);
  });
});

describe("subscription tickets, secure-link flavor (what nginx's secure_link module checks)", () => {
  const FORMAT = 'secure-link-md5' as const;
  const sign = (path: string, expiresAt: number) => signTicket(KEY, path, expiresAt, FORMAT);
  const verify = (ticket: string, path: string, now = NOW) => verifyTicket(KEY, ticket, path, { now, format: FORMAT });
  const md5 = (text: string) => createHash('md5').update(text).digest('base64url');

  it('is "<expiry>.<base64url MD5 of `expiry:path key`>", 22 characters, with the same derived key', () => {
    const ticket = sign(PATH, NOW + 60);
    expect(ticket).toBe(`${NOW + 60}.${md5(`${NOW + 60}:${PATH} ${KEY}`)}`);
    expect(ticket.split('.')[1]).toHaveLength(22);
    expect(ticketExpiry(ticket)).toBe(NOW + 60);
    expect(isSecureLinkTicket(ticket)).toBe(true);
    expect(isSecureLinkTicket(signTicket(KEY, PATH, NOW + 60))).toBe(false);
  });

  it('is valid through the expiry second itself, as secure_link refuses only `expires < now`', () => {
    const ticket = sign(PATH, NOW + 60);
    expect(verify(ticket, PATH, NOW)).toBe('valid');
    expect(verify(ticket, PATH, NOW + 60)).toBe('valid');
    expect(verify(ticket, PATH, NOW + 61)).toBe('expired');
    // The HMAC flavor's rule, for contrast: expired at the expiry second.
    expect(verifyTicket(KEY, signTicket(KEY, PATH, NOW + 60), PATH, NOW + 60)).toBe('expired');
  });

  it('signs the path exactly: no .b<n> suffix is ignored, and nginx refuses paths with one', () => {
    const ticket = sign(PATH, NOW + 60);
    expect(verify(ticket, 'my-app__all__.b10/my-app__user__7')).toBe('invalid');
    expect(() => sign('my-app__all__.b10/my-app__user__7', NOW + 60)).toThrow(/\.b<n> backtrack suffix/);
    // Even a correct MD5 over a .b<n> path is refused (nginx's map tries that before the verdict).
    const forged = `${NOW + 60}.${md5(`${NOW + 60}:a.b1 ${KEY}`)}`;
    expect(verify(forged, 'a.b1')).toBe('invalid');
    // Not a suffix: signed as is.
    expect(verify(sign('a.b/b.b1x', NOW + 60), 'a.b/b.b1x')).toBe('valid');
  });

  it('is invalid for any other path, key, expiry, flavor or spelling', () => {
    const ticket = sign(PATH, NOW + 60);
    const [expiry, mac] = ticket.split('.');
    for (const path of ['my-app__all__', 'my-app__user__7/my-app__all__', `${PATH}/my-app__user__8`, `${PATH}/`, `/${PATH}`]) {
      expect(verify(ticket, path)).toBe('invalid');
    }
    expect(verifyTicket(deriveTicketKey('another-secret-of-sixteen'), ticket, PATH, { now: NOW, format: FORMAT })).toBe('invalid');
    expect(verify(`${Number(expiry) + 1}.${mac}`, PATH)).toBe('invalid');
    // Each flavor refuses the other's tickets.
    expect(verifyTicket(KEY, ticket, PATH, NOW)).toBe('invalid');
    expect(verify(signTicket(KEY, PATH, NOW + 60), PATH)).toBe('invalid');
    // The same 16 bytes spelt with spare bits set in the last character: nginx's decoder would take
    // it, the config's map does not (one spelling per digest).
    const last = 'AQgw'.indexOf(mac[21]);
    expect(last).toBeGreaterThanOrEqual(0);
    const respelt = `${expiry}.${mac.slice(0, 21)}${'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'[last * 16 + 1]}`;
    expect(Buffer.from(respelt.split('.')[1], 'base64url')).toEqual(Buffer.from(mac, 'base64url'));
    expect(ticketExpiry(respelt)).toBeNull();
    expect(verify(respelt, PATH)).toBe('invalid');
  });

  it('hashes the expiry as written, and refuses an expiry that reads as 0 (secure_link: no expiry is not allowed here)', () => {
    const mac = md5(`0${NOW + 60}:${PATH} ${KEY}`);
    expect(verify(`0${NOW + 60}.${mac}`, PATH)).toBe('valid');
    expect(verify(`${NOW + 60}.${mac}`, PATH)).toBe('invalid');
    expect(verify(`0.${md5(`0:${PATH} ${KEY}`)}`, PATH)).toBe('invalid');
    expect(verify(`000.${md5(`000:${PATH} ${KEY}`)}`, PATH)).toBe('invalid');
    for (const bad of [0, -1, 1.5, 1e12]) expect(() => sign(PATH, bad)).toThrow(RangeError);
    expect(verify(sign(PATH, 999_999_999_999), PATH)).toBe('valid');
  });

  it('refuses malformed tickets without throwing, and an unknown flavor with a TypeError', () => {
    const mac = sign(PATH, NOW + 60).split('.')[1];
    for (const ticket of ['', '.', `${NOW}.`, `${NOW}.${mac.slice(1)}`, `${NOW}.${mac}=`, `${NOW}.${mac}==`, `${'9'.repeat(13)}.${mac}`, ` ${NOW}.${mac}`]) {
      expect(verify(ticket, PATH)).toBe('invalid');
    }
    expect(() => verifyTicket(KEY, mac, PATH, { format: 'md5' as typeof FORMAT })).toThrow(TypeError);
    expect(() => signTicket(KEY, PATH, NOW, 'md5' as typeof FORMAT)).toThrow(TypeError);
  });
});
