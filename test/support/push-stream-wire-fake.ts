/**
 * A protocol fake of the Nginx Push Stream Module's publisher (`/pub`) and statistics
 * (`/channels-stats`) locations, built from the wire recordings in test/fixtures/push-stream-wire.
 *
 * The Push Stream Module cannot run in CI, so this is what the push-stream dialect is tested
 * against. It does not invent its answers: the header lists (names, order, static values), the
 * explain texts, the 413 page and the JSON layouts are all read from the recorded files at load
 * time, and test/integration/push-stream-wire-fake.spec.ts replays every recorded publisher/stats command
 * against it and compares the answers with the files.
 *
 * Not recorded, so modelled (and marked so below): the 500 of a full shared memory (status and
 * "no explain" are documented; the page is nginx's error page, like 07), 405 for other methods,
 * answers to stats of a missing channel and to a multi-channel GET.
 */
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** test/fixtures/push-stream-wire, resolved from this file so tests may run from any cwd. */
export const WIRE_FIXTURE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'push-stream-wire');

// ---------------------------------------------------------------------------------------------
// Reading the recordings
// ---------------------------------------------------------------------------------------------

export type HeaderList = Array<[name: string, value: string]>;

/** The request a recorded curl command line made. */
export interface RecordedRequest {
  method: string;
  /** Absolute URL as written on the command line (e.g. `http://127.0.0.1:19080/pub?id=room1`). */
  url: string;
  /** Headers given with -H, in order, as written. */
  headers: HeaderList;
  /** -d / --data-binary payload, or undefined. */
  body?: Buffer;
}

/** A raw HTTP/1.1 response, split into its parts. */
export interface RawResponse {
  statusLine: string;
  status: number;
  reason: string;
  headers: HeaderList;
  body: Buffer;
}

export interface Recording {
  /** File name, e.g. `01-publish-new-channel.txt`. */
  file: string;
  /** The `$ curl ...` line, or null for the subscriber recordings that have none. */
  command: string | null;
  request: RecordedRequest | null;
  response: RawResponse;
  /** The response bytes exactly as in the file (without the recorder's trailing LF when the length is known). */
  raw: Buffer;
}

/** Recording file names, sorted. */
export function recordingFiles(): string[] {
  return readdirSync(WIRE_FIXTURE_DIR)
    .filter((f) => /^\d\d-.*\.txt$/.test(f))
    .sort();
}

const recordingCache = new Map<string, Recording>();

/** Loads a recording by number (`'01'`) or file name. */
export function loadRecording(id: string): Recording {
  const file = recordingFiles().find((f) => f === id || f.startsWith(`${id}-`));
  if (!file) throw new Error(`no recording ${id} in ${WIRE_FIXTURE_DIR}`);
  const cached = recordingCache.get(file);
  if (cached) return cached;
  const bytes = readFileSync(join(WIRE_FIXTURE_DIR, file));
  let command: string | null = null;
  let rest = bytes;
  if (bytes.subarray(0, 2).toString('latin1') === '$ ') {
    const nl = bytes.indexOf(0x0a);
    command = bytes.subarray(2, nl).toString('utf8');
    rest = bytes.subarray(nl + 1);
  }
  const response = parseRawResponse(rest);
  const headerEnd = rest.indexOf('\r\n\r\n') + 4;
  const recording: Recording = {
    file,
    command,
    request: command === null ? null : parseCurlCommand(command),
    response,
    raw: rest.subarray(0, headerEnd + response.body.length),
  };
  recordingCache.set(file, recording);
  return recording;
}

/**
 * Parses a raw HTTP/1.1 response. With Content-Length, the body is exactly that many bytes;
 * otherwise it is everything after the header block.
 */
export function parseRawResponse(bytes: Buffer): RawResponse {
  const headerEnd = bytes.indexOf('\r\n\r\n');
  if (headerEnd < 0) throw new Error('not an HTTP response: no CRLFCRLF');
  const lines = bytes.subarray(0, headerEnd).toString('latin1').split('\r\n');
  const statusLine = lines[0];
  const m = /^HTTP\/1\.[01] (\d{3}) (.*)$/.exec(statusLine);
  if (!m) throw new Error(`not an HTTP status line: ${JSON.stringify(statusLine)}`);
  const headers: HeaderList = lines.slice(1).map((line) => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon), line.slice(colon + 1).trim()];
  });
  const length = headers.find(([k]) => k.toLowerCase() === 'content-length');
  const bodyStart = headerEnd + 4;
  const body = length ? bytes.subarray(bodyStart, bodyStart + Number(length[1])) : bytes.subarray(bodyStart);
  return { statusLine, status: Number(m[1]), reason: m[2], headers, body };
}

/**
 * Parses a recorded curl line (shell quoting already removed by the recorder):
 * `curl [-X METHOD] URL [-H Name: value]... [-d DATA | --data-binary @N-byte-file ...]`.
 * `-d` takes the rest of the line; `@N-byte-file` stands for N bytes (the file's content was not kept).
 */
export function parseCurlCommand(command: string): RecordedRequest {
  let rest = command.replace(/^curl\s+/, '');
  let method: string | undefined;
  let url: string | undefined;
  const headers: HeaderList = [];
  let body: Buffer | undefined;
  while (rest.length > 0) {
    let m: RegExpExecArray | null;
    if ((m = /^-X (\S+)\s*/.exec(rest))) {
      method = m[1];
    } else if ((m = /^-H ([^:]+): (.*?)(?: (?=-[XHd] |--data)|$)/.exec(rest))) {
      headers.push([m[1], m[2]]);
    } else if ((m = /^--data-binary @(\d+)-byte-file.*$/.exec(rest))) {
      body = Buffer.alloc(Number(m[1]), 'a');
    } else if ((m = /^-d (.*)$/.exec(rest))) {
      body = Buffer.from(m[1], 'utf8');
    } else if ((m = /^(https?:\/\/\S+)\s*/.exec(rest))) {
      url = m[1];
    } else {
      throw new Error(`cannot parse curl command at ${JSON.stringify(rest)}`);
    }
    rest = rest.slice(m[0].length).trimStart();
  }
  if (!url) throw new Error(`no URL in ${JSON.stringify(command)}`);
  return { method: method ?? (body ? 'POST' : 'GET'), url, headers, body };
}

/** Case-insensitive header lookup. */
export function headerValue(headers: HeaderList, name: string): string | undefined {
  return headers.find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
}

// ---------------------------------------------------------------------------------------------
// Templates taken from the recordings
// ---------------------------------------------------------------------------------------------

/** Turns `"key": value` pairs of a recorded JSON line into `~key~` placeholders. */
function templatize(recorded: string): string {
  return recorded.replace(/"(\w+)": ("[^"]*"|-?\d+)/g, (_m, key: string, value: string) =>
    value.startsWith('"') ? `"${key}": "~${key}~"` : `"${key}": ~${key}~`,
  );
}

function fill(template: string, values: Record<string, string | number>): string {
  return template.replace(/~(\w+)~/g, (_m, key: string) => {
    if (!(key in values)) throw new Error(`template value ${key} missing`);
    return String(values[key]);
  });
}

/** Splits a recorded list body (`head[\r\n` item `,\r\n` item `\r\n]}\r\n`) into templates. */
function listTemplate(body: string): { head: string; item: string; separator: string; tail: string } {
  const open = body.indexOf('[\r\n') + 3;
  const close = body.lastIndexOf('\r\n]}');
  const items = body.slice(open, close);
  const firstEnd = items.indexOf('}') + 1;
  const secondStart = items.indexOf('{', firstEnd);
  return {
    head: templatize(body.slice(0, open)),
    item: templatize(items.slice(0, firstEnd)),
    separator: secondStart < 0 ? ',\r\n' : items.slice(firstEnd, secondStart),
    tail: body.slice(close),
  };
}

interface Templates {
  channelHeaders: HeaderList; // 01: a JSON answer of the publisher location
  statsHeaders: HeaderList; // 10: a JSON answer of the statistics location (adds Tag/Commit)
  notFound: RawResponse; // 04
  noId: RawResponse; // 05
  emptyBody: RawResponse; // 06
  tooLarge: RawResponse; // 07
  deleted: RawResponse; // 15
  deleteMissing: RawResponse; // 16
  notAuthorized: RawResponse; // 18
  channel: string; // 01 body line
  channelLineEnd: string; // what follows it
  group: ReturnType<typeof listTemplate>; // 08
  summary: ReturnType<typeof listTemplate>; // 10
}

let templates: Templates | undefined;

function loadTemplates(): Templates {
  if (templates) return templates;
  const r = (id: string): RawResponse => loadRecording(id).response;
  const single = r('01').body.toString('utf8');
  const lineEnd = single.slice(single.lastIndexOf('}') + 1);
  templates = {
    channelHeaders: r('01').headers,
    statsHeaders: r('10').headers,
    notFound: r('04'),
    noId: r('05'),
    emptyBody: r('06'),
    tooLarge: r('07'),
    deleted: r('15'),
    deleteMissing: r('16'),
    notAuthorized: r('18'),
    channel: templatize(single.slice(0, single.length - lineEnd.length)),
    channelLineEnd: lineEnd,
    group: listTemplate(r('08').body.toString('utf8')),
    summary: listTemplate(r('10').body.toString('utf8')),
  };
  return templates;
}

// ---------------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------------

/** What the fake sends: status line parts, headers in order (Date and Content-Length are refreshed), body. */
export interface FakeAnswer {
  status: number;
  reason: string;
  headers: HeaderList;
  body: Buffer | string;
}

/** A recorded response, to be replayed as is (Date refreshed). */
export function recordedAnswer(id: string): FakeAnswer {
  const { status, reason, headers, body } = loadRecording(id).response;
  return { status, reason, headers, body };
}

/**
 * The answer when the shared memory is full ("unable to allocate message in shared memory").
 * Recorded facts: status 500 and no X-Nginx-PushStream-Explain. Modelled: nginx's own error page,
 * built from the recorded 413 page (07) with the status swapped, and Connection: close as nginx
 * sends with a 500.
 */
export function sharedMemoryFullAnswer(): FakeAnswer {
  const page = loadTemplates().tooLarge;
  const reason = 'Internal Server Error';
  return {
    status: 500,
    reason,
    headers: page.headers,
    body: page.body.toString('latin1').replaceAll(`${page.status} ${page.reason}`, `500 ${reason}`),
  };
}

function withStatus(template: RawResponse, status: number, reason: string): FakeAnswer {
  return { status, reason, headers: template.headers, body: template.body };
}

// ---------------------------------------------------------------------------------------------
// The fake server
// ---------------------------------------------------------------------------------------------

export interface ReceivedRequest {
  method: string;
  /** Path and query exactly as sent, e.g. `/pub?id=a/b`. */
  url: string;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: string;
  bodyBytes: number;
}

export interface ChannelCounters {
  published_messages: number;
  stored_messages: number;
  subscribers: number;
}

export interface PushStreamWireFakeOptions {
  /** Value of "hostname" in group and stats answers. Default os.hostname(). */
  hostname?: string;
  /** nginx's client_max_body_size in the recorded config: 64k. */
  maxBodyBytes?: number;
  /** push_stream_max_messages_stored_per_channel in the recorded config: 20. */
  maxStoredMessages?: number;
  publisherPath?: string;
  statsPath?: string;
}

type Scripted = { remaining: number; answer: FakeAnswer | 'hang' };

/** Undoes %XX escapes like nginx's ngx_unescape_uri: valid escapes become bytes, anything else stays. */
export function unescapeLikeNginx(raw: string): string {
  const bytes: number[] = [];
  const src = Buffer.from(raw, 'utf8');
  for (let i = 0; i < src.length; i++) {
    const hex = src.subarray(i + 1, i + 3).toString('latin1');
    if (src[i] === 0x25 && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(src[i]);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** `$arg_id`: the raw (still escaped) value of the first `id` argument, or undefined. */
function argId(url: string): string | undefined {
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  for (const pair of url.slice(q + 1).split('&')) {
    if (pair.startsWith('id=')) return pair.slice(3);
  }
  return undefined;
}

export class PushStreamWireFake {
  /** Every request received, in order, including the ones answered with scripted failures. */
  readonly requests: ReceivedRequest[] = [];
  /** `http://127.0.0.1:<port>`. */
  url = '';
  port = 0;

  private readonly channels = new Map<string, ChannelCounters>();
  private readonly scripted: Scripted[] = [];
  private readonly hostname: string;
  private readonly maxBodyBytes: number;
  private readonly maxStored: number;
  private readonly publisherPath: string;
  private readonly statsPath: string;
  private readonly startedAt = Date.now();
  private readonly server: Server;

  private constructor(options: PushStreamWireFakeOptions) {
    this.hostname = options.hostname ?? osHostname();
    this.maxBodyBytes = options.maxBodyBytes ?? 64 * 1024;
    this.maxStored = options.maxStoredMessages ?? 20;
    this.publisherPath = options.publisherPath ?? '/pub';
    this.statsPath = options.statsPath ?? '/channels-stats';
    loadTemplates();
    this.server = createServer((req, res) => this.handle(req, res));
  }

  /** Starts a fake on 127.0.0.1, on a free port. */
  static async start(options: PushStreamWireFakeOptions = {}): Promise<PushStreamWireFake> {
    const fake = new PushStreamWireFake(options);
    fake.server.listen(0, '127.0.0.1');
    await once(fake.server, 'listening');
    const address = fake.server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    fake.port = address.port;
    fake.url = `http://127.0.0.1:${address.port}`;
    return fake;
  }

  /** Answers the next `times` requests with `answer` (default: shared memory full, a 500 without explain). */
  failNext(times = Infinity, answer: FakeAnswer = sharedMemoryFullAnswer()): this {
    this.scripted.push({ remaining: times, answer });
    return this;
  }

  /** Accepts the next `times` requests and never answers them (a hung nginx). */
  hangNext(times = Infinity): this {
    this.scripted.push({ remaining: times, answer: 'hang' });
    return this;
  }

  /** Drops scripted failures and recorded requests; channels are kept. */
  clearScript(): this {
    this.scripted.length = 0;
    this.requests.length = 0;
    return this;
  }

  /** Counters of one channel, as the module holds them. */
  channel(name: string): ChannelCounters | undefined {
    const c = this.channels.get(name);
    return c && { ...c };
  }

  channelNames(): string[] {
    return [...this.channels.keys()];
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      this.requests.push({ method: req.method ?? '', url: req.url ?? '', headers, body: body.toString('utf8'), bodyBytes: body.length });

      const script = this.scripted[0];
      if (script) {
        script.remaining--;
        if (script.remaining <= 0) this.scripted.shift();
        if (script.answer === 'hang') return; // keep the socket open, answer nothing
        return this.send(res, script.answer, headers.connection);
      }
      this.send(res, this.answer(req.method ?? 'GET', req.url ?? '/', body), headers.connection);
    });
  }

  private answer(method: string, url: string, body: Buffer): FakeAnswer {
    const t = loadTemplates();
    const path = url.split('?')[0];
    if (path === this.statsPath) return this.stats(url);
    if (path !== this.publisherPath) return withStatus(t.notFound, 404, 'Not Found');

    // client_max_body_size is checked by nginx core before the module runs (07).
    if (body.length > this.maxBodyBytes) return recordedAnswer('07');
    const ids = this.ids(url);
    if (ids.length === 0) return t.noId; // 05
    if (ids.some((id) => id === 'ALL' || id.includes('*'))) return t.notAuthorized; // 18

    switch (method) {
      case 'POST':
      case 'PUT': {
        if (body.length === 0) return t.emptyBody; // 06
        for (const id of ids) {
          const c = this.channels.get(id) ?? { published_messages: 0, stored_messages: 0, subscribers: 0 };
          c.published_messages++;
          c.stored_messages = Math.min(c.stored_messages + 1, this.maxStored);
          this.channels.set(id, c);
        }
        return ids.length === 1 ? this.channelAnswer(t.channelHeaders, ids[0]) : this.groupAnswer(t.channelHeaders, ids); // 01, 14 / 08, 09
      }
      case 'GET': {
        const known = ids.filter((id) => this.channels.has(id));
        if (known.length === 0) return t.notFound; // 04
        return ids.length === 1 ? this.channelAnswer(t.channelHeaders, ids[0]) : this.groupAnswer(t.channelHeaders, known); // 03
      }
      case 'DELETE': {
        const known = ids.filter((id) => this.channels.has(id));
        if (known.length === 0) return t.deleteMissing; // 16
        for (const id of known) this.channels.delete(id);
        return t.deleted; // 15
      }
      default:
        return withStatus(t.notFound, 405, 'Not Allowed'); // not recorded
    }
  }

  private stats(url: string): FakeAnswer {
    const t = loadTemplates();
    const raw = argId(url);
    if (raw === undefined || raw === '') return this.summaryAnswer(); // 10
    const ids = this.ids(url);
    if (ids.length === 1 && ids[0] === 'ALL') return this.groupAnswer(t.statsHeaders, this.channelNames()); // 12
    if (ids.length === 1 && ids[0].endsWith('*')) {
      const prefix = ids[0].slice(0, -1);
      return this.groupAnswer(t.statsHeaders, this.channelNames().filter((n) => n.startsWith(prefix))); // 13
    }
    if (ids.length === 1) {
      // 11; a missing channel is not recorded: answered like 04 with the stats headers.
      return this.channels.has(ids[0]) ? this.channelAnswer(t.statsHeaders, ids[0]) : withStatus(t.notFound, 404, 'Not Found');
    }
    return this.groupAnswer(t.statsHeaders, ids.filter((id) => this.channels.has(id)));
  }

  /** Channel ids of the request: `$arg_id` percent-decoded once, then split on "/" (08). */
  private ids(url: string): string[] {
    const raw = argId(url);
    if (raw === undefined || raw === '') return [];
    return unescapeLikeNginx(raw)
      .split('/')
      .filter((id) => id !== '');
  }

  private channelJson(name: string): string {
    const c = this.channels.get(name)!;
    return fill(loadTemplates().channel, { channel: name, ...c });
  }

  private channelAnswer(headers: HeaderList, name: string): FakeAnswer {
    return { status: 200, reason: 'OK', headers, body: this.channelJson(name) + loadTemplates().channelLineEnd };
  }

  private common(): { hostname: string; time: string; uptime: number } {
    return {
      hostname: this.hostname,
      time: new Date().toISOString().slice(0, 19),
      uptime: Math.floor((Date.now() - this.startedAt) / 1000),
    };
  }

  private groupAnswer(headers: HeaderList, names: string[]): FakeAnswer {
    const g = loadTemplates().group;
    const head = fill(g.head, { ...this.common(), channels: this.channels.size, wildcard_channels: 0 });
    const body = head + names.map((n) => this.channelJson(n)).join(g.separator) + g.tail;
    return { status: 200, reason: 'OK', headers, body };
  }

  private summaryAnswer(): FakeAnswer {
    const t = loadTemplates();
    const s = t.summary;
    const all = [...this.channels.values()];
    const sum = (k: keyof ChannelCounters): number => all.reduce((n, c) => n + c[k], 0);
    const common = this.common();
    const head = fill(s.head, {
      ...common,
      channels: this.channels.size,
      wildcard_channels: 0,
      published_messages: sum('published_messages'),
      stored_messages: sum('stored_messages'),
      messages_in_trash: 0,
      channels_in_delete: 0,
      channels_in_trash: 0,
      subscribers: sum('subscribers'),
    });
    const worker = fill(s.item, { pid: process.pid, subscribers: sum('subscribers'), uptime: common.uptime });
    return { status: 200, reason: 'OK', headers: t.statsHeaders, body: head + worker + s.tail };
  }

  private send(res: ServerResponse, answer: FakeAnswer, requestConnection?: string): void {
    const body = typeof answer.body === 'string' ? Buffer.from(answer.body, 'utf8') : answer.body;
    const clientCloses = requestConnection?.toLowerCase() === 'close';
    const flat: string[] = [];
    for (const [name, value] of answer.headers) {
      const lower = name.toLowerCase();
      if (lower === 'date') flat.push(name, new Date().toUTCString());
      else if (lower === 'content-length') flat.push(name, String(body.length));
      else if (lower === 'connection' && clientCloses) flat.push(name, 'close'); // as nginx does
      else flat.push(name, value);
    }
    res.sendDate = false; // the recorded Date header is sent in its recorded place
    res.writeHead(answer.status, answer.reason, flat);
    res.end(body);
  }
}

// ---------------------------------------------------------------------------------------------
// A raw client, to see the fake's answers byte for byte
// ---------------------------------------------------------------------------------------------

/**
 * Sends one request over a fresh socket, as curl does (HTTP/1.1, keep-alive), reads one response
 * (by its Content-Length, or until the server closes) and returns its raw bytes.
 */
export async function rawExchange(
  baseUrl: string,
  req: { method: string; path: string; headers?: HeaderList; body?: Buffer },
): Promise<Buffer> {
  const { hostname, port } = new URL(baseUrl);
  const socket = connect(Number(port), hostname);
  await once(socket, 'connect');
  const lines = [`${req.method} ${req.path} HTTP/1.1`, `Host: ${hostname}:${port}`, 'User-Agent: curl/7.88.1', 'Accept: */*'];
  for (const [k, v] of req.headers ?? []) lines.push(`${k}: ${v}`);
  if (req.body) lines.push(`Content-Length: ${req.body.length}`);
  lines.push('', '');
  let received = Buffer.alloc(0);
  const complete = (): boolean => {
    const end = received.indexOf('\r\n\r\n');
    if (end < 0) return false;
    const m = /\r\ncontent-length: *(\d+)/i.exec(received.subarray(0, end).toString('latin1'));
    return m !== null && received.length >= end + 4 + Number(m[1]);
  };
  const done = new Promise<void>((resolve, reject) => {
    socket.on('data', (c: Buffer) => {
      received = Buffer.concat([received, c]);
      if (complete()) resolve();
    });
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
  socket.write(lines.join('\r\n'));
  if (req.body) socket.write(req.body);
  try {
    await done;
  } finally {
    socket.destroy();
  }
  return received;
}

/**
 * Replaces what legitimately differs between two runs of the module: Date, hostname, time,
 * uptime, worker pid; then Content-Length is recomputed from the normalised body.
 */
export function normaliseResponse(bytes: Buffer): string {
  const res = parseRawResponse(bytes);
  const body = res.body
    .toString('utf8')
    .replace(/"hostname": "[^"]*"/g, '"hostname": "<hostname>"')
    .replace(/"time": "[^"]*"/g, '"time": "<time>"')
    .replace(/"uptime": \d+/g, '"uptime": <uptime>')
    .replace(/"pid": "\d+"/g, '"pid": "<pid>"');
  const headers = res.headers.map(([k, v]) => {
    const lower = k.toLowerCase();
    if (lower === 'date') return `${k}: <date>`;
    if (lower === 'content-length') return `${k}: ${Buffer.byteLength(body, 'utf8')}`;
    return `${k}: ${v}`;
  });
  return [res.statusLine, ...headers, '', body].join('\r\n');
}
