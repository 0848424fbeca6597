import { createHmac } from 'node:crypto';
import { deriveTicketKey, signTicket, ticketChannelPath, verifyTicket } from '../../../lib/testing/index.js';
import { ticketExpiry } from '../../../lib/shared/push-stream-protocol.js';

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
