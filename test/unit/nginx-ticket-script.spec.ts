// nginx/push-stream-ticket.js (the njs check of ticket mode) run in Node against verifyTicket():
// the same decision for generated tickets and channel paths, dense in `.b<n>` suffixes, which the
// script strips by hand (no RegExp: it would cost njs memory per subscriber). The same property
// through real nginx, both servers: test/e2e/subscription-tickets.e2e.spec.ts.
import fc from 'fast-check';
import * as nodeCrypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NGINX_CONFIG_DIR, TICKET_SCRIPT } from '../../lib/nginx-config/nginx-config.js';
import { deriveTicketKey, signTicket, ticketChannelPath, verifyTicket } from '../../lib/tickets/subscription-ticket.js';

interface FakeRequest {
  variables: Record<string, string | undefined>;
}
type Verify = (r: FakeRequest) => string;

/** The script's verify(), with Node's crypto as njs's (both have createHmac and base64url digests). */
function loadVerify(): Verify {
  const source = readFileSync(join(NGINX_CONFIG_DIR, TICKET_SCRIPT), 'utf8');
  const body = source.replace(/^export default \{ verify: verify \};$/m, 'return verify;');
  if (body === source) throw new Error(`${TICKET_SCRIPT} no longer ends with "export default { verify: verify };"`);
  const require = (name: string) => {
    if (name !== 'crypto') throw new Error(`${TICKET_SCRIPT} requires ${name}`);
    return nodeCrypto;
  };
  return new Function('require', body)(require) as Verify;
}

const KEY = deriveTicketKey('script-spec-secret-0123456789');
const OTHER_KEY = deriveTicketKey('another-secret-0123456789');
const now = () => Math.floor(Date.now() / 1000);

describe(`nginx/${TICKET_SCRIPT}`, () => {
  const verify = loadVerify();
  const ask = (ticket: string | undefined, channels: string, key: string | undefined = KEY) =>
    verify({ variables: { push_stream_ticket_key: key, push_channels: channels, arg_ticket: ticket } });

  it('opens for a valid ticket, not for an expired one, another path, another key or no key', () => {
    const t = signTicket(KEY, 'a/b', now() + 60);
    expect(ask(t, 'a/b')).toBe('1');
    expect(ask(t, 'a.b5/b.b0')).toBe('1');
    expect(ask(signTicket(KEY, 'a/b', now() - 1), 'a/b')).toBe('');
    expect(ask(t, 'b/a')).toBe('');
    expect(ask(t, 'a/b', OTHER_KEY)).toBe('');
    expect(ask(t, 'a/b', '')).toBe('');
    expect(ask(undefined, 'a/b')).toBe('');
  });

  // Characters that make `.b<n>` suffixes, near-misses (".b", ".bb1", "x.b1y") and empty segments likely.
  const pathChar = fc.constantFrom('a', 'b', 'B', '.', '.', '/', '0', '1', '9', '_', '-', '.b', '.b1', '.b12');
  const path = fc.array(pathChar, { maxLength: 14 }).map((parts) => parts.join(''));

  /** `p` with `.b<n>` added before a "/" or at the end, or one `.b<digits>` taken out: often the same path once stripped. */
  const nearby = (p: string) =>
    fc.record({ at: fc.nat(40), n: fc.nat(99), add: fc.boolean() }).map(({ at, n, add }) => {
      if (!add) return p.replace(/\.b\d+/, '');
      const ends = [...p.matchAll(/\/|$/g)].map((m) => m.index ?? p.length);
      const i = ends[at % ends.length];
      return `${p.slice(0, i)}.b${n}${p.slice(i)}`;
    });

  it('strips backtrack suffixes exactly as ticketChannelPath: a ticket for one path opens another iff they strip alike', () => {
    const verdicts = new Set<string>();
    fc.assert(
      fc.property(
        path.chain((signed) => fc.tuple(fc.constant(signed), fc.oneof(path, nearby(signed)))),
        ([signed, requested]) => {
          const t = signTicket(KEY, signed, now() + 3600);
          const expected = ticketChannelPath(signed) === ticketChannelPath(requested) ? '1' : '';
          expect({ signed, requested, verdict: ask(t, requested) }).toEqual({ signed, requested, verdict: expected });
          verdicts.add(expected);
        },
      ),
      { numRuns: 3000 },
    );
    expect([...verdicts].sort()).toEqual(['', '1']);
  });

  it('decides as verifyTicket() for mangled tickets', () => {
    const ticketChar = fc.constantFrom('0', '1', '9', '.', 'A', 'z', '-', '_', '=', '%', '+', '/');
    const mangled = fc.oneof(
      fc.array(ticketChar, { maxLength: 60 }).map((c) => c.join('')),
      fc
        .record({
          path,
          ttl: fc.oneof(fc.integer({ min: 60, max: 1e6 }), fc.integer({ min: -1e6, max: 0 })),
          key: fc.constantFrom(KEY, OTHER_KEY),
          at: fc.nat(80),
          insert: fc.string({ maxLength: 2 }),
          cut: fc.nat(2),
        })
        .map(({ path: p, ttl, key, at, insert, cut }) => {
          const t = signTicket(key, p, now() + ttl);
          const i = at % (t.length + 1);
          return `${t.slice(0, i)}${insert}${t.slice(i + cut)}`;
        }),
    );
    fc.assert(
      fc.property(mangled, path, (ticket, channels) => {
        const oracle = verifyTicket(KEY, ticket, channels) === 'valid' ? '1' : '';
        expect({ ticket, channels, verdict: ask(ticket, channels) }).toEqual({ ticket, channels, verdict: oracle });
      }),
      { numRuns: 3000 },
    );
  });

  it('reads a leading zero in the expiry as the number it is, and refuses more than 12 digits', () => {
    const t = signTicket(KEY, 'a', 999_999_999_999);
    expect(ask(t, 'a')).toBe('1');
    const exp = now() + 60;
    const sig = signTicket(KEY, 'a', exp).split('.')[1];
    expect([ask(`00${exp}.${sig}`, 'a'), verifyTicket(KEY, `00${exp}.${sig}`, 'a')]).toEqual(['1', 'valid']); // 12 digits
    expect([ask(`000${exp}.${sig}`, 'a'), verifyTicket(KEY, `000${exp}.${sig}`, 'a')]).toEqual(['', 'invalid']); // 13
  });
});
