// Signed subscription tickets through real nginx on both servers, in both flavors: `--auth ticket`
// (HMAC-SHA256, checked with njs: nginx/push-stream-ticket.js) and `--auth secure-link` (MD5,
// checked by nginx's secure_link module). nginx checks ?ticket= itself and never asks the app. A
// valid ticket opens every subscriber location and receives publishes; every kind of wrong ticket
// is a 403; the app upstream is never asked; a property test (fast-check) sends thousands of
// generated requests per server and flavor and compares nginx's answer with verifyTicket() from
// lib/tickets.
//
//   TICKET_FUZZ_REQUESTS=<n>  requests per server and flavor in the property test (default 2500)
//   TICKET_FUZZ_SEED=<n>      replay a run (the seed is printed, and fast-check reports it on failure)
import { createHash } from 'node:crypto';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import fc from 'fast-check';
import { PushStreamModule, PushStreamService } from '../../lib/index.js';
import type { PushStreamServerKind } from '../../lib/options/push-stream-options.interface.js';
import { TICKET_QUERY_PARAMETER } from '../../lib/shared/push-stream-protocol.js';
import { NginxTestServer } from '../../lib/testing/index.js';
import { deriveTicketKey, signTicket, verifyTicket, type TicketFormat } from '../../lib/tickets/subscription-ticket.js';
import { AuthStubServer } from '../support/auth-stub-server.js';
import { eventually, jsonMessages, longPoll, loopbackAddresses } from '../support/e2e-helpers.js';
import { RawSubscription } from '../support/raw-subscription.js';
import { SERVERS } from '../support/servers.js';
import { openEventSource, openStream, openWebSocket } from '../support/subscribers.js';

const SECRET = 'tickets-e2e-secret-0123456789';
const KEY = deriveTicketKey(SECRET);
const WRONG_KEY = deriveTicketKey('another-secret-0123456789');
const REQUESTS = Number(process.env.TICKET_FUZZ_REQUESTS ?? 2500);
if (!Number.isInteger(REQUESTS) || REQUESTS < 1) throw new Error(`TICKET_FUZZ_REQUESTS must be a positive integer: ${process.env.TICKET_FUZZ_REQUESTS}`);
const SEED = process.env.TICKET_FUZZ_SEED === undefined ? Date.now() % 0x7fffffff : Number(process.env.TICKET_FUZZ_SEED);
/** Safety bound on one request's status line: turns a hang into a clear failure, asserts nothing on time. */
const BOUND_MS = 5000;

type Transport = 'sub' | 'ws' | 'ev' | 'lp';
const TRANSPORTS: readonly Transport[] = ['sub', 'ws', 'ev', 'lp'];
/** What an opened subscription answers. */
const OPEN_STATUS: Record<Transport, number> = { sub: 200, ws: 101, ev: 200, lp: 200 };
/**
 * Request headers per location. The long poll asks for everything after 1970 so that it answers
 * at once with the channels' stored messages (every channel the tests open has one).
 */
const HEADERS: Record<Transport, Array<[string, string]>> = {
  sub: [['Host', '127.0.0.1']],
  ws: [
    ['Host', '127.0.0.1'],
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='],
    ['Sec-WebSocket-Version', '13'],
  ],
  ev: [['Host', '127.0.0.1'], ['Accept', 'text/event-stream']],
  lp: [['Host', '127.0.0.1'], ['If-Modified-Since', 'Thu, 01 Jan 1970 00:00:00 GMT'], ['If-None-Match', '0']],
};

const nowSeconds = () => Math.floor(Date.now() / 1000);
const query = (ticket: string) => `?${TICKET_QUERY_PARAMETER}=${ticket}`;
const FORMATS: readonly TicketFormat[] = ['hmac-sha256', 'secure-link-md5'];

/**
 * A ticket of `format` for any path, `.b<n>` suffixes included, which signTicket() refuses to sign
 * in the secure-link flavor (the app never sends one): the same MD5 nginx computes, written here
 * independently of lib/tickets.
 */
function anyPathTicket(format: TicketFormat, key: string, path: string, expiresAt: number): string {
  if (format === 'hmac-sha256') return signTicket(key, path, expiresAt);
  return `${expiresAt}.${createHash('md5').update(`${expiresAt}:${path} ${key}`).digest('base64url')}`;
}

const nextAddress = loopbackAddresses(6);

/**
 * What the run checks for one request: nginx opened it exactly when the oracle says the ticket is
 * valid, and refused it with 403 otherwise. null when they agree.
 */
function disagreement(valid: boolean, transport: Transport, status: number | null): string | null {
  const opened = status === OPEN_STATUS[transport];
  if (valid && !opened) return `refused a valid ticket (HTTP ${status ?? 'none'})`;
  if (!valid && opened) return `OPENED a subscription whose ticket is not valid (HTTP ${status})`;
  if (!valid && status !== 403) return `answered HTTP ${status ?? 'none'} instead of 403`;
  return null;
}

/** What nginx's $arg_ticket reads: the first argument named `ticket` (in any case), its value as sent. */
function ticketArgument(search: string): string | undefined {
  for (const arg of search.replace(/^\?/, '').split('&')) {
    if (arg.slice(0, TICKET_QUERY_PARAMETER.length + 1).toLowerCase() === `${TICKET_QUERY_PARAMETER}=`) return arg.slice(TICKET_QUERY_PARAMETER.length + 1);
  }
  return undefined;
}

const CASES = SERVERS.flatMap((server) => FORMATS.map((format) => [server, format] as const));

describe.each(CASES)('signed subscription tickets through nginx on %s, %s', (server: PushStreamServerKind, format: TicketFormat) => {
  const secureLink = format === 'secure-link-md5';
  const ticketFor = (path: string, ttl = 300, key = KEY) => signTicket(key, path, nowSeconds() + ttl, format);
  const verify = (ticket: string, path: string, key = KEY) => verifyTicket(key, ticket, path, { format });
  let app: AuthStubServer;
  let nginx: NginxTestServer;
  let context: INestApplicationContext;
  let push: PushStreamService;
  const run = `${server === 'nchan' ? 'n' : 'p'}${secureLink ? 's' : 'h'}${Date.now().toString(36)}`;
  let counter = 0;
  const channel = (tag = 'c') => `tk_${tag}_${run}_${++counter}`;

  beforeAll(async () => {
    app = await AuthStubServer.start();
    nginx = await NginxTestServer.start({ server, appUpstream: app.upstream, ticketSecret: SECRET, ticketFormat: format });
    context = await NestFactory.createApplicationContext(
      PushStreamModule.forRoot({
        server,
        publisherUrl: nginx.publisherUrl,
        statsUrl: nginx.statsUrl,
        prefix: 'tk',
        secret: SECRET,
        retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 5 },
        authRoute: false,
        auth: { ticketFormat: format },
      }),
      { logger: false },
    );
    push = context.get(PushStreamService);
  });

  afterAll(async () => {
    await context?.close();
    await nginx?.dispose();
    await app?.close();
  });

  /** Raw requests from here go to this nginx. */
  const status = (transport: Transport, target: string) => statusOfOn(nginx.port, transport, target);

  it('a valid ticket opens /sub/, /ws/, /ev/ and /lp/ on two channels, and each receives a publish; the app is not asked', async () => {
    const [a, b] = [channel(), channel()];
    const target = `${a}/${b}${query(ticketFor(`${a}/${b}`))}`;
    const base = nginx.baseUrl;
    const stream = await openStream(`${base}/sub/${target}`);
    const socket = await openWebSocket(`${base.replace(/^http/, 'ws')}/ws/${target}`);
    const events = await openEventSource(`${base}/ev/${target}`);
    const poll = longPoll(`${base}/lp/${target}`); // waits: nothing is stored yet
    try {
      expect([stream.status, events.status]).toEqual([200, 200]);
      await eventually('four subscribers on the channel', async () => (await push.channelInfo(b))?.subscribers === 4);
      await push.publish(b, { hello: 'tickets' });
      const isHello = (text: string) => JSON.stringify((JSON.parse(text) as { text?: unknown }).text) === '{"hello":"tickets"}';
      let line = await stream.nextLine();
      while (!isHello(line)) line = await stream.nextLine(); // push-stream opens with a ping line
      let frame = await socket.next();
      while (!isHello(frame)) frame = await socket.next();
      expect(isHello((await events.next()).data)).toBe(true);
      const answer = await poll;
      expect(answer.status).toBe(200);
      expect(jsonMessages(answer.body)).toEqual([expect.objectContaining({ text: { hello: 'tickets' } })]);
    } finally {
      await Promise.all([stream.close(), socket.close(), events.close()]);
    }
    expect(app.authRequests).toHaveLength(0);
  });

  describe('refusals: 403 on every location, the app never asked', () => {
    const [a, b, c] = ['a', 'b', 'c'].map((t) => `tk_${t}_${run}_refusals`);
    beforeAll(async () => {
      // A stored message on each: an opened long poll answers at once (the control below).
      for (const ch of [a, b, c]) await push.publish(ch, 'stored');
    });

    const valid = () => ticketFor(`${a}/${b}`);
    const cases: Array<[string, () => string]> = [
      ['no ticket', () => `${a}/${b}`],
      ['an empty ticket', () => `${a}/${b}${query('')}`],
      ['an expired ticket', () => `${a}/${b}${query(ticketFor(`${a}/${b}`, -60))}`],
      // The last second refused: the expiry second itself for HMAC, the second before it for
      // secure-link (secure_link refuses only `expires < now`; see the test of that below).
      [secureLink ? 'a ticket that expired a second ago' : 'a ticket expiring this second', () => `${a}/${b}${query(ticketFor(`${a}/${b}`, secureLink ? -1 : 0))}`],
      ['an expiry of 0', () => `${a}/${b}${query(anyPathTicket(format, KEY, `${a}/${b}`, 0))}`],
      ["the other flavor's ticket", () => `${a}/${b}${query(signTicket(KEY, `${a}/${b}`, nowSeconds() + 300, secureLink ? 'hmac-sha256' : 'secure-link-md5'))}`],
      ['a ticket signed with another key', () => `${a}/${b}${query(ticketFor(`${a}/${b}`, 300, WRONG_KEY))}`],
      ['an altered signature', () => `${a}/${b}${query(valid().replace(/.$/, (ch) => (ch === 'A' ? 'B' : 'A')))}`],
      ['an altered expiry (later)', () => `${a}/${b}${query(valid().replace(/^\d+/, (e) => String(Number(e) + 3600)))}`],
      ['an altered expiry (earlier, still future)', () => `${a}/${b}${query(valid().replace(/^\d+/, (e) => String(Number(e) - 1)))}`],
      ['the ticket of a subset', () => `${a}/${b}${query(ticketFor(a))}`],
      ['a ticket for a subset of its channels', () => `${a}${query(valid())}`],
      ['a ticket for a superset', () => `${a}/${b}${query(ticketFor(`${a}/${b}/${c}`))}`],
      ['the channels reordered', () => `${b}/${a}${query(valid())}`],
      ['an extra channel appended', () => `${a}/${b}/${c}${query(valid())}`],
      ['a channel named twice', () => `${a}/${b}/${b}${query(valid())}`],
      ['a trailing slash', () => `${a}/${b}/${query(valid())}`],
      ['a base64 padded signature', () => `${a}/${b}${query(`${valid()}=`)}`],
      ['the ticket percent-encoded', () => `${a}/${b}${query(valid().replace('.', '%2E'))}`],
      ['a wrong ticket first, the right one second', () => `${a}/${b}${query('1.x')}&${TICKET_QUERY_PARAMETER}=${valid()}`],
      ['the right ticket under another name', () => `${a}/${b}?tickets=${valid()}`],
    ];

    it.each(TRANSPORTS)('/%s/: the valid ticket opens (control)', async (transport) => {
      expect(await status(transport, `${a}/${b}${query(valid())}`)).toBe(OPEN_STATUS[transport]);
    });

    it('a refused ticket does not count against the per-address limit (checked before limit_req); valid ones do', async () => {
      const from = '127.7.0.1';
      const one = (target: string) => statusFrom(nginx.port, 'sub', target, from);
      // Past the shipped burst (30) of refusals from one address, then a valid ticket still opens.
      for (let i = 0; i < 60; i++) expect(await one(`${a}/${b}${query(ticketFor(a))}`)).toBe(403);
      expect(await one(`${a}/${b}${query(valid())}`)).toBe(200);
      // Valid ones are limited as in session mode: a burst of them from one address meets 429.
      const statuses: Array<number | null> = [];
      for (let i = 0; i < 60; i++) statuses.push(await one(`${a}/${b}${query(valid())}`));
      expect(statuses).toContain(429);
    });

    it.each(cases)('%s', async (_what, target) => {
      for (const transport of TRANSPORTS) expect([transport, await status(transport, target())]).toEqual([transport, 403]);
      expect(app.authRequests).toHaveLength(0);
    });
  });

  // HMAC only: the njs check strips `.b<n>`; secure-link refuses it (below).
  if (!secureLink) it('a `.b<n>` backtrack suffix needs no new ticket (push-stream sends the stored messages)', async () => {
    const [a, b] = [channel(), channel()];
    await push.publish(a, 'first');
    await push.publish(a, 'second');
    await push.publish(b, 'only');
    const ticket = ticketFor(`${a}/${b}`);
    // On Nchan `a.b2` is a channel of its own, with nothing stored: a long poll on it waits.
    for (const transport of server === 'nchan' ? TRANSPORTS.filter((t) => t !== 'lp') : TRANSPORTS) expect([transport, await status(transport, `${a}.b2/${b}.b1${query(ticket)}`)]).toEqual([transport, OPEN_STATUS[transport]]);
    // A ticket signed with the suffixes is the same ticket.
    expect(ticketFor(`${a}.b2/${b}.b1`)).toBe(ticket);
    if (server === 'push-stream') {
      const answer = await longPoll(`${nginx.baseUrl}/lp/${a}.b2/${b}.b1${query(ticket)}`);
      expect(jsonMessages(answer.body).map((m) => (m as { text: unknown }).text)).toEqual(['first', 'second', 'only']);
    }
    expect(app.authRequests).toHaveLength(0);
  });

  // Secure-link only: nginx cannot strip `.b<n>` without njs.
  if (secureLink) it('a `.b<n>` backtrack suffix is refused, even under a right MD5 (push-stream /lp/ with a position drops it first)', async () => {
    const [a, b] = [channel(), channel()];
    await push.publish(a, 'stored');
    await push.publish(b, 'stored');
    const plain = ticketFor(`${a}/${b}`);
    const suffixed = anyPathTicket(format, KEY, `${a}.b2/${b}.b1`, nowSeconds() + 300);
    expect(verify(suffixed, `${a}.b2/${b}.b1`)).toBe('invalid');
    for (const transport of TRANSPORTS) {
      // push-stream's /lp/, given If-Modified-Since, rewrites the suffixes away before the check:
      // what it subscribes to, and what the ticket must sign, is then `a/b`.
      const dropped = server === 'push-stream' && transport === 'lp';
      expect([transport, 'plain', await status(transport, `${a}.b2/${b}.b1${query(plain)}`)]).toEqual([transport, 'plain', dropped ? OPEN_STATUS[transport] : 403]);
      expect([transport, 'suffixed', await status(transport, `${a}.b2/${b}.b1${query(suffixed)}`)]).toEqual([transport, 'suffixed', 403]);
      expect([transport, 'one suffix', await status(transport, `${a}/${b}.b1${query(plain)}`)]).toEqual([transport, 'one suffix', dropped ? OPEN_STATUS[transport] : 403]);
    }
    // Not a suffix (".b" without digits, or more after them): another channel name, signed as is.
    expect(await status('sub', `${a}.b/${b}.b1x${query(ticketFor(`${a}.b/${b}.b1x`))}`)).toBe(200);
    expect(app.authRequests).toHaveLength(0);
  });

  if (secureLink) it('a ticket is still good during its expiry second (secure_link refuses only `expires < now`)', async () => {
    const a = channel();
    // Early in a second, so that nginx checks within the second the ticket was signed in.
    while (Date.now() % 1000 > 200) await new Promise((r) => setTimeout(r, 20));
    const ticket = ticketFor(a, 0);
    expect(verify(ticket, a)).toBe('valid');
    expect(await status('sub', `${a}${query(ticket)}`)).toBe(200);
  });

  describe(`property: ${REQUESTS} generated requests, nginx's answer equals verifyTicket()`, () => {
    const POOL = ['a', 'b', 'c', 'd', 'e', 'f'].map((t) => `tk_${t}_${run}_fuzz`);
    const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-';
    beforeAll(async () => {
      for (const ch of POOL) await push.publish(ch, 'stored');
    });

    type PathChange = 'same' | 'drop' | 'add' | 'rotate' | 'append' | 'case' | 'char' | 'backtrack-add' | 'backtrack-drop';
    type TicketChange =
      | 'none'
      | 'missing'
      | 'empty'
      | 'flip-signature'
      | 'expiry+1'
      | 'expiry-1'
      | 'expiry-leading-zero'
      | 'truncate'
      | 'pad'
      | 'encode-dot'
      | 'bad-first'
      | 'good-first'
      | 'name-case'
      | 'other-name'
      | 'extra-args';

    interface TicketCase {
      transport: Transport;
      /** Indexes into POOL (unique) of what the ticket signs, each with a backtrack suffix or not. */
      signed: Array<{ channel: number; backtrack: number | null }>;
      ttl: number | 'max';
      rightKey: boolean;
      pathChange: PathChange;
      ticketChange: TicketChange;
      /** Which request segment and character a change applies to, and a replacement character. */
      at: number;
      char: number;
      /** Percent-encode the first character of the segments set here (nginx decodes it). */
      encode: boolean[];
    }

    const caseArb: fc.Arbitrary<TicketCase> = fc.record({
      transport: fc.constantFrom(...TRANSPORTS),
      // Secure-link: a suffix in the signed path always ends in a refusal, so rarely one.
      signed: fc.uniqueArray(fc.record({ channel: fc.nat(POOL.length - 1), backtrack: secureLink ? fc.oneof({ arbitrary: fc.constant(null), weight: 8 }, { arbitrary: fc.integer({ min: 0, max: 30 }), weight: 1 }) : fc.option(fc.integer({ min: 0, max: 30 }), { freq: 3 }) }), {
        minLength: 1,
        maxLength: 4,
        selector: (s) => s.channel,
      }),
      // Never within a minute of now: nginx reads the clock a moment after the oracle does. Except
      // the last refused second, which stays refused when the clock moves on: the expiry second
      // itself for HMAC, the one before for secure-link (still valid during its expiry second).
      ttl: fc.oneof(
        { arbitrary: fc.integer({ min: 60, max: 365 * 86400 }), weight: 6 },
        { arbitrary: fc.integer({ min: -365 * 86400, max: -60 }), weight: 2 },
        { arbitrary: fc.constant(secureLink ? -1 : 0), weight: 1 },
        { arbitrary: fc.constant('max' as const), weight: 1 },
      ),
      rightKey: fc.oneof({ arbitrary: fc.constant(true), weight: 4 }, { arbitrary: fc.constant(false), weight: 1 }),
      pathChange: fc.oneof(
        { arbitrary: fc.constant<PathChange>('same'), weight: 8 },
        { arbitrary: fc.constantFrom<PathChange>('drop', 'add', 'rotate', 'append', 'case', 'char', 'backtrack-add', 'backtrack-drop'), weight: 8 },
      ),
      ticketChange: fc.oneof(
        { arbitrary: fc.constant<TicketChange>('none'), weight: 10 },
        {
          arbitrary: fc.constantFrom<TicketChange>(
            'missing',
            'empty',
            'flip-signature',
            'expiry+1',
            'expiry-1',
            'expiry-leading-zero',
            'truncate',
            'pad',
            'encode-dot',
            'bad-first',
            'good-first',
            'name-case',
            'other-name',
            'extra-args',
          ),
          weight: 10,
        },
      ),
      at: fc.nat(1000),
      char: fc.nat(ALPHABET.length - 1),
      encode: fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
    });

    /** The request a case makes: the target as sent, and the channel path nginx captures from it. */
    function build(c: TicketCase): { target: string; channelPath: string; search: string; transport: Transport } {
      const seg = (s: { channel: number; backtrack: number | null }) => `${POOL[s.channel]}${s.backtrack === null ? '' : `.b${s.backtrack}`}`;
      const signedPath = c.signed.map(seg).join('/');
      const expiresAt = c.ttl === 'max' ? 999_999_999_999 : nowSeconds() + c.ttl;
      const ticket = anyPathTicket(format, c.rightKey ? KEY : WRONG_KEY, signedPath, expiresAt);

      let segments = c.signed.map(seg);
      const i = c.at % segments.length;
      const unused = POOL.filter((ch) => !c.signed.some((s) => POOL[s.channel] === ch));
      const other = unused.length > 0 ? unused[c.at % unused.length] : POOL[c.at % POOL.length];
      switch (c.pathChange) {
        case 'drop':
          segments = segments.filter((_s, k) => k !== i);
          break;
        case 'add':
          segments.splice(i, 0, other);
          break;
        case 'rotate':
          segments = [...segments.slice(i + 1), ...segments.slice(0, i + 1)];
          break;
        case 'append':
          segments.push(POOL[c.at % POOL.length]);
          break;
        case 'case': {
          const s = segments[i];
          const k = c.at % s.length;
          segments[i] = `${s.slice(0, k)}${s[k] === s[k].toUpperCase() ? s[k].toLowerCase() : s[k].toUpperCase()}${s.slice(k + 1)}`;
          break;
        }
        case 'char': {
          const s = segments[i];
          const k = c.at % s.length;
          segments[i] = `${s.slice(0, k)}${ALPHABET[c.char]}${s.slice(k + 1)}`;
          break;
        }
        case 'backtrack-add':
          segments[i] = `${segments[i]}.b${c.char}`;
          break;
        case 'backtrack-drop':
          segments[i] = segments[i].replace(/\.b\d+$/, '');
          break;
        case 'same':
          break;
      }
      const channelPath = segments.join('/');
      const sent = segments.map((s, k) => (c.encode[k] && s !== '' ? `%${s.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}${s.slice(1)}` : s)).join('/');

      const dot = ticket.indexOf('.');
      const sig = ticket.slice(dot + 1);
      const k = c.at % sig.length;
      const name = TICKET_QUERY_PARAMETER;
      const search = ((): string => {
        switch (c.ticketChange) {
          case 'none':
            return `?${name}=${ticket}`;
          case 'missing':
            return '';
          case 'empty':
            return `?${name}=`;
          case 'flip-signature':
            return `?${name}=${ticket.slice(0, dot + 1)}${sig.slice(0, k)}${sig[k] === ALPHABET[c.char] ? (sig[k] === 'A' ? 'B' : 'A') : ALPHABET[c.char]}${sig.slice(k + 1)}`;
          case 'expiry+1':
            return `?${name}=${expiresAt + 1}${ticket.slice(dot)}`;
          case 'expiry-1':
            return `?${name}=${expiresAt - 1}${ticket.slice(dot)}`;
          case 'expiry-leading-zero':
            return `?${name}=0${ticket}`;
          case 'truncate':
            return `?${name}=${ticket.slice(0, -1)}`;
          case 'pad':
            return `?${name}=${ticket}=`;
          case 'encode-dot':
            return `?${name}=${ticket.replace('.', '%2E')}`;
          case 'bad-first':
            return `?${name}=${ticket.slice(0, -1)}&${name}=${ticket}`;
          case 'good-first':
            return `?${name}=${ticket}&${name}=garbage`;
          case 'name-case':
            return `?${name.toUpperCase()}=${ticket}`;
          case 'other-name':
            return `?x${name}=${ticket}`;
          case 'extra-args':
            return `?foo=1&${name}=${ticket}&bar=${ticket}`;
        }
      })();
      // Nchan has no .b<n> history: such a channel has no stored message, so a long poll on it
      // would wait instead of answering. Those cases subscribe in stream mode instead.
      const transport = server === 'nchan' && c.transport === 'lp' && /\.b\d+(\/|$)/.test(channelPath) ? 'sub' : c.transport;
      return { target: `${sent}${search}`, channelPath: captured(transport, channelPath), search, transport };
    }

    /**
     * $push_channels for a request path (decoded). push-stream's /lp/, given a position (our
     * If-Modified-Since), first drops every segment-final .bN, stacked ones too, one per rewrite
     * pass (push-stream.conf.template); the ticket is checked on what is left, which is what the
     * module subscribes to.
     */
    function captured(transport: Transport, path: string): string {
      if (server !== 'push-stream' || transport !== 'lp') return path;
      let p = path;
      for (let pass = 0; pass < 10 && /\.b\d+(\/|$)/.test(p); pass++) p = p.replace(/^(.*?)\.b\d+(\/.*)?$/, '$1$2');
      return p;
    }

    it('the check sees a leak: a request nginx opens, judged against an oracle that refuses it, is reported (negative control)', async () => {
      const path = `${POOL[0]}/${POOL[1]}`;
      for (const transport of TRANSPORTS) {
        const answer = await status(transport, `${path}${query(ticketFor(path))}`);
        expect(disagreement(true, transport, answer)).toBeNull();
        // The same request, with the oracle's key wrong, is the leak the run must catch.
        const oracle = verify(ticketFor(path), path, WRONG_KEY) === 'valid';
        expect(disagreement(oracle, transport, answer)).toMatch(/^OPENED/);
      }
      expect(disagreement(true, 'sub', 403)).toMatch(/^refused a valid ticket/);
    });

    it('never disagrees (fast-check; nginx answers each with 101/200 or 403 as verifyTicket says)', async () => {
      const seen = { opened: {} as Record<string, number>, refused: {} as Record<string, number> };
      console.log(`subscription tickets on ${server}, ${format}: TICKET_FUZZ_SEED=${SEED} TICKET_FUZZ_REQUESTS=${REQUESTS}`);
      const started = Date.now();
      await fc.assert(
        fc.asyncProperty(caseArb, async (c) => {
          const req = build(c);
          const valid = verify(ticketArgument(req.search) ?? '', req.channelPath) === 'valid';
          const answer = await status(req.transport, req.target);
          const problem = disagreement(valid, req.transport, answer);
          if (problem !== null) throw new Error(`${problem}: /${req.transport}/${req.target} (nginx captures ${req.channelPath})`);
          const tally = valid ? seen.opened : seen.refused;
          tally[req.transport] = (tally[req.transport] ?? 0) + 1;
        }),
        { numRuns: REQUESTS, seed: SEED, endOnFailure: true },
      );
      console.log(`subscription tickets on ${server}, ${format}: ${REQUESTS} requests in ${((Date.now() - started) / 1000).toFixed(1)} s; opened ${JSON.stringify(seen.opened)}, refused ${JSON.stringify(seen.refused)}`);
      // Both verdicts on every location: the run was not all refusals (or all openings).
      if (REQUESTS >= 1000) {
        for (const t of TRANSPORTS) expect([t, (seen.opened[t] ?? 0) > 0, (seen.refused[t] ?? 0) > 0]).toEqual([t, true, true]);
      }
      expect(app.authRequests).toHaveLength(0);
    }, 60_000 + REQUESTS * 30);
  });

  it('the app was never asked, while the same stub is asked by a session-mode nginx (the counter works)', async () => {
    expect(app.authRequests).toHaveLength(0);
    const sessionNginx = await NginxTestServer.start({ server, appUpstream: app.upstream });
    try {
      const ch = channel();
      expect(await statusOfOn(sessionNginx.port, 'sub', ch)).toBe(200);
      expect(app.authRequests.map((h) => h['x-push-stream-channels'])).toEqual([ch]);
    } finally {
      await sessionNginx.dispose();
      app.authRequests.splice(0);
    }
  });
});

/** The status nginx on `port` answers `target` on `transport` with (null: none within the bound); the connection is then closed. */
function statusOfOn(port: number, transport: Transport, target: string): Promise<number | null> {
  return statusFrom(port, transport, target, nextAddress());
}

async function statusFrom(port: number, transport: Transport, target: string, localAddress: string): Promise<number | null> {
  const sub = new RawSubscription(port, { path: `/${transport}/${target}`, headers: HEADERS[transport], localAddress });
  try {
    await sub.until(() => sub.status !== null, BOUND_MS);
    return sub.status;
  } finally {
    sub.close();
  }
}
