// The generator of test/e2e/subscription-fuzz.e2e.spec.ts: subscription requests over the four
// transports, from sessions of every kind, for channel sets mixing allowed ids, forbidden ones (the
// canaries) in spellings that keep naming them, and mangled ids. Each request carries a verdict
// the run checks nginx's status against; what a subscription receives is checked separately.
import type { Prng } from './fuzz-prng.js';

export type Transport = 'sub' | 'ws' | 'ev' | 'lp';
export const TRANSPORTS: readonly Transport[] = ['sub', 'ws', 'ev', 'lp'];

export type SessionKind =
  | 'none'
  | 'anonymous'
  | 'user-a'
  | 'user-b'
  /** A logged-in session the store has expired: correctly signed, loads nothing. */
  | 'expired'
  /** User A's session id with a wrong signature. */
  | 'forged'
  /** User A's session id without the `s:` signature at all. */
  | 'unsigned'
  /** A forged cookie for user A first, then the anonymous session's valid one. */
  | 'forged-then-valid'
  /** Junk: bad encodings, control characters, oversized cookies. */
  | 'garbage';

export const SESSION_KINDS: readonly SessionKind[] = [
  'none',
  'anonymous',
  'user-a',
  'user-b',
  'expired',
  'forged',
  'unsigned',
  'forged-then-valid',
  'garbage',
];

export interface FuzzIdentity {
  /** The logged-in user id the session carries, if any. */
  user: string | null;
  /** The `__session__` channel of the session the app loads, if any. */
  sessionChannel: string | null;
}

export interface FuzzSession {
  kind: SessionKind;
  /** Cookie header lines, each sent as its own `Cookie:` header. */
  cookies: string[];
  /** What the app may grant this session at most: deciding must-refuse from it is always sound. */
  identity: FuzzIdentity;
  /**
   * Whether the app certainly loads `identity` (so its channels must open); false where it
   * depends on the cookie parser (which of two cookies wins) or on junk.
   */
  certain: boolean;
}

/** A channel one party may read and others may not; canary messages are published to it. */
export interface Canary {
  label: string;
  channel: string;
  allowed(identity: FuzzIdentity): boolean;
}

export interface FuzzWorld {
  server: 'nchan' | 'push-stream';
  /** Channel name prefix: `<prefix>__<kind>__<value>`. */
  prefix: string;
  sessions: Record<SessionKind, FuzzSession>;
  canaries: readonly Canary[];
  /** Page channels (`__uuid__`), allowed for anyone; a fixed pool so that runs create few channels. */
  pages: readonly string[];
  /** auth.maxChannelsPerRequest of the app. */
  maxChannels: number;
}

/**
 * - `must-refuse`: it names a canary its session may not read, in a spelling that still names it
 *   after nginx's and the module's decoding: any 2xx/101 is a leak.
 * - `must-open`: only allowed ids, plainly: anything but 2xx/101 or 429 is a false refusal.
 * - `any`: only "never 5xx" and the canary check apply.
 */
export type Verdict = 'must-refuse' | 'must-open' | 'any';

export interface FuzzRequest {
  index: number;
  transport: Transport;
  session: SessionKind;
  /** Request target as sent (latin1). */
  path: string;
  headers: Array<[string, string]>;
  verdict: Verdict;
  /** Canaries named in a spelling that still names them (must-refuse comes from these). */
  forbidden: number[];
  /** Negative control: the canary this deliberately allowed subscription must receive. */
  control: number | null;
  /** The same id twice after nginx's decoding (Nchan's multiplexer mishandles these, see the suite). */
  duplicateIds: boolean;
  /** Closed as soon as the status is known, opened or not: the hit-and-run teardown path. */
  closeEarly: boolean;
  /** Closed right after it is sent, before any answer. */
  abandon: boolean;
  /** What the generator did, for the report. */
  notes: string[];
}

/** Channels the session may certainly open. */
function allowedPool(world: FuzzWorld, session: FuzzSession): string[] {
  const pool = [`${world.prefix}__all__`, ...world.pages];
  if (!session.certain) return pool;
  for (const c of world.canaries) if (c.allowed(session.identity)) pool.push(c.channel);
  return pool;
}

const HEX = '0123456789ABCDEF';
const pct = (ch: string) => `%${HEX[ch.charCodeAt(0) >> 4]}${HEX[ch.charCodeAt(0) & 15]}`;

/**
 * Percent-encodes 1-3 characters. Once: nginx decodes them back into $uri, the name is unchanged.
 * Twice: $uri keeps one level, which push-stream decodes again and Nchan keeps.
 */
function encodeSome(rng: Prng, name: string, twice: boolean): string {
  const chars = name.split('');
  for (let n = rng.range(1, 3); n > 0 && chars.length > 0; n--) {
    const i = rng.int(chars.length);
    if (chars[i].length !== 1) continue;
    const once = pct(chars[i]);
    chars[i] = twice ? `%25${once.slice(1)}` : rng.chance(0.3) ? once.toLowerCase() : once;
  }
  return chars.join('');
}

/** A spelling of a forbidden channel that still names it, and the note saying how. */
function forbiddenSpelling(rng: Prng, name: string): [string, string] {
  return rng.weighted<() => [string, string]>([
    [4, () => [name, 'plain']],
    [2, () => [`${name}.b${rng.range(1, 20)}`, 'backtrack suffix']],
    [2, () => [encodeSome(rng, name, false), 'percent-encoded characters']],
    // push-stream decodes the channels again; the app must read the same name, Nchan keeps the `%`.
    [2, () => [encodeSome(rng, name, true), 'double-encoded characters']],
    [1, () => [`${encodeSome(rng, name, false)}.b${rng.range(1, 5)}`, 'encoded, with a backtrack suffix']],
  ])();
}

const SPECIAL_IDS = (prefix: string): string[] => [
  'ALL',
  '*',
  `${prefix}__room*`,
  `${prefix}__admin__`,
  'other-app__all__',
  'all',
  `${prefix}__all__evil`,
  `${prefix}__all`,
  `${prefix}__authorized__x`,
  `${prefix}__user__`,
  `${prefix}__session__`,
  '',
];

const INSERTS = ['\u00ff', '\u00e9', '%FF', '%C3%A9', '%00', '%0A', '%0D%0A', '%20', '%09', '%3F', '%23', '%7F', '%01', '%2A', '*', ';', ',', '.', '%2E', '%25', '%25zz', '%2500', '%250A', '%253F', '\u0001', '\\', '"', "'", '<', '>'];

/** An id that is not an allowed or forbidden name as written: no verdict follows from it. */
function mangled(rng: Prng, world: FuzzWorld, names: readonly string[]): [string, string] {
  const name = rng.pick(names);
  return rng.weighted<() => [string, string]>([
    [
      3,
      () => {
        const flipped = name
          .split('')
          .map((c) => (rng.chance(0.4) ? (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()) : c))
          .join('');
        return [flipped === name ? name.toUpperCase() : flipped, 'case changed'];
      },
    ],
    [2, () => [name.slice(0, rng.int(Math.max(1, name.length))), 'truncated']],
    [2, () => [`${name}${rng.pick(['x', '0', '_', '-', 'A', '__', '__x'])}`, 'extended']],
    [2, () => [`${name}${'x'.repeat(Math.max(1, rng.range(129, 300) - name.length))}`, 'over 128 characters']],
    [
      4,
      () => {
        const at = rng.int(name.length + 1);
        const insert = rng.pick(INSERTS);
        return [`${name.slice(0, at)}${insert}${name.slice(at)}`, `inserted ${JSON.stringify(insert)}`];
      },
    ],
    [3, () => [rng.pick(SPECIAL_IDS(world.prefix)), 'special id']],
    [1, () => [`${world.prefix}__uuid__${rng.pick(world.pages).split('__uuid__')[1].toUpperCase()}`, 'page id in upper case']],
    [1, () => [`${world.prefix}__session__${rng.hex(43)}`, 'made-up session token']],
  ])();
}

/** Separators between ids: `/` and its equivalents after nginx's decoding, or push-stream's second one. */
function separator(rng: Prng, clean: boolean): [string, boolean] {
  if (clean) return rng.weighted<[string, boolean]>([[12, ['/', true]], [1, ['//', true]], [1, ['%2F', true]], [1, ['%2f', true]]]);
  return rng.weighted<[string, boolean]>([
    [14, ['/', true]],
    [1, ['//', true]],
    [2, ['%2F', true]],
    // Decoded once by nginx into `%2F`: push-stream splits there, Nchan keeps the `%`: no must-open.
    [2, ['%252F', false]],
    [1, ['%25252F', false]],
    [1, ['/./', true]],
  ]);
}

/** The path as nginx puts it in $uri, but for merging slashes and dot segments: decoded once. */
function decodedOnce(path: string): string {
  return path.replace(/%([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/** Whether nginx's own normalisation (one decoding, then `.` and `..` segments) can drop an id. */
export function hasDotSegment(path: string): boolean {
  return decodedOnce(path)
    .split('/')
    .some((s) => s === '..');
}

/** Whether an id appears twice (after nginx's decoding): Nchan refuses such a subscription with 400. */
function hasDuplicateIds(path: string): boolean {
  const ids = decodedOnce(path)
    .split('/')
    .slice(2)
    .filter((id) => id !== '');
  return new Set(ids).size !== ids.length;
}

function junkCookie(rng: Prng): [string[], string] {
  return rng.weighted<() => [string[], string]>([
    [2, () => [[`connect.sid=${encodeURIComponent(`s:${rng.hex(32)}.${rng.hex(43)}`)}`], 'random signed-looking cookie']],
    [1, () => [['connect.sid=%ZZ'], 'bad percent-encoding']],
    [1, () => [['connect.sid="s:abc.def"'], 'quoted']],
    [1, () => [['connect.sid='], 'empty']],
    [1, () => [['=;;;=; ;'], 'no names']],
    [1, () => [[`junk=a${String.fromCharCode(rng.pick([1, 8, 11, 12, 31, 127]))}b`], 'control character']],
    [1, () => [['junk=\u00ff\u00fe'], 'non-UTF-8 bytes']],
    [1, () => [[`junk=${'j'.repeat(rng.range(2000, 7900))}`], 'one long cookie']],
    [1, () => [[1, 2, 3].map((i) => `big${i}=${'x'.repeat(8000)}`), 'three 8,000-byte cookies']],
  ])();
}

function transportHeaders(rng: Prng, transport: Transport, clean: boolean, notes: string[]): { headers: Array<[string, string]>; sound: boolean } {
  switch (transport) {
    case 'ws':
      if (!clean && rng.chance(0.02)) {
        notes.push('no upgrade headers');
        return { headers: [], sound: false };
      }
      return {
        headers: [
          ['upgrade', 'websocket'],
          ['connection', 'Upgrade'],
          ['sec-websocket-key', Buffer.from(rng.hex(32), 'hex').toString('base64')],
          ['sec-websocket-version', '13'],
        ],
        sound: true,
      };
    case 'ev':
      return { headers: [['accept', 'text/event-stream']], sound: true };
    case 'lp':
      // nginx closes after the answer: the end of the socket is the end of the poll.
      return { headers: [['connection', 'close']], sound: true };
    default:
      return { headers: [], sound: true };
  }
}

function extraHeaders(rng: Prng, notes: string[]): { headers: Array<[string, string]>; sound: boolean } {
  const headers: Array<[string, string]> = [];
  let sound = true;
  if (rng.chance(0.2)) {
    headers.push(['x-forwarded-for', `203.0.113.${rng.range(1, 254)}`], ['x-real-ip', '203.0.113.7']);
    notes.push('spoofed forwarding headers');
  }
  if (rng.chance(0.08)) {
    headers.push(['authorization', `Bearer ${rng.hex(20)}`]);
    notes.push('authorization');
  }
  if (rng.chance(0.08)) {
    headers.push(['x-push-stream-channels', 'my-app__all__'], ['x-original-uri', '/sub/my-app__all__']);
    notes.push('own X-Push-Stream-Channels');
  }
  if (rng.chance(0.15)) {
    headers.push(
      ...rng.pick<Array<[string, string]>>([
        [['last-event-id', '0:0']],
        [['if-modified-since', 'Thu, 01 Jan 1970 00:00:01 GMT'], ['if-none-match', '0']],
        [['last-event-id', 'x']],
      ]),
    );
    notes.push('resume headers');
  }
  if (rng.chance(0.01)) {
    for (let i = 0; i < 300; i++) headers.push([`x-filler-${i}`, 'y'.repeat(60)]);
    notes.push('300 filler headers');
  }
  if (rng.chance(0.01)) {
    headers.push(['cookie', `extra=${'e'.repeat(8000)}`], ['cookie', `extra2=${'e'.repeat(8000)}`]);
    notes.push('16 KB of extra cookies');
    sound = false;
  }
  return { headers, sound };
}

function query(rng: Prng, notes: string[]): { text: string; sound: boolean } {
  return rng.weighted<() => { text: string; sound: boolean }>([
    [70, () => ({ text: '', sound: true })],
    [4, () => ({ text: '?last_event_id=0:0', sound: true })],
    [4, () => ({ text: '?tag=0&time=Thu,%2001%20Jan%201970%2000:00:01%20GMT', sound: true })],
    [3, () => ({ text: '?eventid=x', sound: true })],
    [
      2,
      () => {
        notes.push('callback');
        return { text: '?callback=alert(1)', sound: false };
      },
    ],
    [3, () => ({ text: `?a=%ZZ&b=${rng.hex(8)}`, sound: true })],
  ])();
}

/**
 * The next request of the run. `probe` is the batch's own page channel, appended to every request:
 * an opened subscription is on it, and the batch's closing message there tells the run that
 * everything published before has reached that subscription.
 */
export function generateRequest(rng: Prng, world: FuzzWorld, index: number, probe: string): FuzzRequest {
  const notes: string[] = [];
  const mode = rng.weighted<'clean' | 'attack' | 'many' | 'long' | 'control' | 'path'>([
    [25, 'clean'],
    [52, 'attack'],
    [6, 'many'],
    [5, 'long'],
    [3, 'control'],
    [9, 'path'],
  ]);
  notes.push(mode);
  const transport = rng.pick(TRANSPORTS);
  let kind = rng.pick(SESSION_KINDS);
  let control: number | null = null;
  let controlChannel: string | null = null;
  if (mode === 'control') {
    // Deliberately allowed: a session subscribing to a canary it owns.
    kind = rng.pick<SessionKind>(['anonymous', 'user-a', 'user-b']);
    const owned = world.canaries.map((c, i) => [c, i] as const).filter(([c]) => c.allowed(world.sessions[kind].identity));
    const [canary, i] = rng.pick(owned);
    control = i;
    controlChannel = canary.channel;
  }
  const session = world.sessions[kind];
  let sound = session.certain;
  const cookieLines = [...session.cookies];
  if (kind === 'garbage') {
    const [junk, note] = junkCookie(rng);
    cookieLines.push(...junk);
    notes.push(`cookie: ${note}`);
  }

  const allowed = allowedPool(world, session);
  const forbiddenCanaries = world.canaries.map((c, i) => [c, i] as const).filter(([c]) => !c.allowed(session.identity));
  const allNames = [...allowed, ...world.canaries.map((c) => c.channel)];
  const forbidden: number[] = [];
  const parts: string[] = [];
  let ids = 0;

  const addAllowed = () => {
    const name = rng.pick(allowed);
    parts.push(rng.chance(0.1) ? encodeSome(rng, name, false) : name);
    ids++;
  };
  const addForbidden = () => {
    const [canary, i] = rng.pick(forbiddenCanaries);
    const [text, note] = forbiddenSpelling(rng, canary.channel);
    parts.push(text);
    forbidden.push(i);
    notes.push(`forbidden ${canary.label}: ${note}`);
    ids++;
  };
  const addMangled = () => {
    const [text, note] = mangled(rng, world, allNames);
    parts.push(text);
    notes.push(`mangled: ${note}`);
    sound = false;
    ids++;
  };

  switch (mode) {
    case 'control':
      // A poll answers with one stored message at once: push-stream's the canary's last (.b1),
      // Nchan's the oldest of its channels, so there the canary goes alone (no probe).
      parts.push(transport === 'lp' && world.server === 'push-stream' ? `${controlChannel!}.b1` : controlChannel!);
      ids++;
      break;
    case 'clean':
      for (let n = rng.range(1, 4); n > 0; n--) addAllowed();
      break;
    case 'attack':
      for (let n: number = rng.weighted([[6, 1], [6, 2], [4, 3], [2, 5], [1, 12]] as const); n > 0; n--) {
        rng.weighted([[5, addAllowed], [3, addForbidden], [3, addMangled]] as const)();
      }
      break;
    case 'many': {
      const n = rng.weighted([[3, world.maxChannels], [3, rng.range(17, 40)], [2, 160], [1, 255], [1, 300]] as const);
      for (let i = 0; i < n; i++) {
        if (rng.chance(0.05)) addForbidden();
        else if (rng.chance(0.5)) {
          parts.push(`${world.prefix}__uuid__${rng.uuid()}`);
          ids++;
        } else addAllowed();
      }
      notes.push(`${n} ids`);
      sound = false;
      break;
    }
    case 'long': {
      // Another channel than the one it starts with: no verdict from the id itself.
      const length = rng.weighted([[3, 129], [2, 2100], [2, 7900], [1, 9000], [1, 16000]] as const);
      const base = rng.pick(allNames);
      parts.push(`${base}${'l'.repeat(Math.max(1, length - base.length))}`);
      notes.push(`one id of ${length} characters`);
      sound = false;
      ids++;
      if (rng.chance(0.5)) addForbidden();
      break;
    }
    case 'path': {
      sound = false;
      // [what goes before, the odd part, what goes after, note]: each side allowed (a) or forbidden (f).
      const [before, odd, after, note] = rng.weighted<readonly [string, string, string, string]>([
        [2, ['a', '..', 'f', 'dot segment']],
        [2, ['f', '..', 'a', 'dot segment after a forbidden id']],
        [1, ['f', '%2E%2E', 'a', 'encoded dot segment']],
        [1, ['a', '%252E%252E', 'f', 'double-encoded dot segment']],
        [2, ['a', '', '', 'empty id']],
        [1, ['', '', '', 'no id']],
        [1, ['a', '\u0001', 'f', 'raw control byte']],
        [1, ['a', '%00', 'f', 'encoded NUL']],
        [1, ['a', `x%0D%0AX-Push-Stream-Channels:%20${world.prefix}__all__`, 'f', 'encoded CR LF']],
        [1, ['f', '%3F', 'a', 'encoded ?']],
      ]);
      const add = (side: string) => (side === 'a' ? addAllowed() : side === 'f' ? addForbidden() : undefined);
      add(before);
      parts.push(odd);
      add(after);
      notes.push(note);
      break;
    }
  }

  let body = '';
  parts.forEach((p, i) => {
    if (i > 0) {
      const [sep, keeps] = separator(rng, mode === 'clean');
      if (!keeps) sound = false;
      body += sep;
    }
    body += p;
  });
  // The probe goes last, after a plain separator, so that an opened subscription is on it. A poll
  // must answer at once: Nchan replays the probe's stored message to it, push-stream needs `.b1`.
  const plain = mode === 'control';
  const probeSegment = transport !== 'lp' ? `/${probe}` : plain && world.server === 'nchan' ? '' : world.server === 'push-stream' ? (plain ? '' : `/${probe}.b1`) : `/${probe}`;
  const leading = !plain && rng.chance(0.03) ? '/' : '';
  const prefixPath = `/${transport}/${leading}`;
  const q = plain ? { text: '', sound: true } : query(rng, notes);
  if (!q.sound) sound = false;
  const path = `${prefixPath}${body}${probeSegment}${q.text}`;
  if (probeSegment !== '') ids++;

  const t = transportHeaders(rng, transport, plain, notes);
  const x = plain ? { headers: [], sound: true } : extraHeaders(rng, notes);
  if (!t.sound || !x.sound) sound = false;
  if (kind === 'garbage') sound = false;
  const headers: Array<[string, string]> = [
    ['host', !plain && rng.chance(0.03) ? rng.pick(['evil.example', `h${'o'.repeat(3000)}.example`, '127.0.0.1:1']) : '127.0.0.1'],
    ...t.headers,
    ...cookieLines.map((c): [string, string] => ['cookie', c]),
    ...x.headers,
  ];

  // Nchan's own answers to allowed ids: 400 for a message id that does not fit a multi-channel
  // subscription; the same id twice it takes, but not always whole (see the suite).
  const duplicateIds = hasDuplicateIds(path.split('?')[0]);
  if (world.server === 'nchan' && (duplicateIds || /last[-_]event[-_]id/i.test(`${q.text} ${x.headers.map(([k]) => k).join(' ')}`))) {
    sound = false;
  }
  let verdict: Verdict;
  if (hasDotSegment(path.split('?')[0])) verdict = 'any';
  else if (forbidden.length > 0) verdict = 'must-refuse';
  else if (sound && ids <= world.maxChannels) verdict = 'must-open';
  else verdict = 'any';
  const closeEarly = !plain && rng.chance(0.25);
  if (closeEarly) notes.push('closed once answered');
  const abandon = !plain && !closeEarly && rng.chance(0.03);
  if (abandon) notes.push('abandoned unanswered');
  return { index, transport, session: kind, path, headers, verdict, forbidden, control, duplicateIds, closeEarly, abandon, notes };
}

/** The request as one report line: nothing long, nothing binary. */
export function describeRequest(r: FuzzRequest): string {
  const short = (s: string, max: number) =>
    JSON.stringify(s.length > max ? `${s.slice(0, max)}…(${s.length} chars)` : s).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  const headers = r.headers.map(([k, v]) => `${k}: ${short(v, 60)}`).join('; ');
  return `#${r.index} ${r.transport} session=${r.session} verdict=${r.verdict}${r.control !== null ? ` control=${r.control}` : ''} path=${short(r.path, 240)} headers={${headers}} notes=[${r.notes.join(', ')}]`;
}
