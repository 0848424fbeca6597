// The sample chat (sample-app/, built with tsc and run as a child process) behind a real nginx,
// driven by Debian's chromium through playwright-core: two browser contexts are two visitors.
// Runs on every server of SERVERS: Nchan and the Push Stream Module. The app runs with AUTH_PORT
// and nginx sends its auth subrequests there (authUpstream): the package's auth listener decides
// every subscription of these suites, reading the sample's MemoryStore. The Redis suite below
// starts the app without AUTH_PORT (its Express endpoint), then restarts it with the listener.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Test, type TestingModule } from '@nestjs/testing';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { createClient } from 'redis';
import { PushStreamModule, PushStreamService } from '../../lib/index.js';
import { findFreePort, isListening, NginxTestServer } from '../../lib/testing/index.js';
import { ensureBuilt, REPO_ROOT, runNode } from '../support/build.js';
import { SERVERS } from '../support/servers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// Every run saves its picture under test-results/; UPDATE_SCREENSHOT=1 refreshes the README's one.
const SCREENSHOT_DIR = process.env.UPDATE_SCREENSHOT === '1' ? join(REPO_ROOT, 'docs') : join(REPO_ROOT, 'test-results');
const SCREENSHOT = join(SCREENSHOT_DIR, 'screenshot.png');
const SECRET = 'sample-e2e-secret-0123456789';
const WAIT = 15_000;
// The sample's limits (sample-app/src/throttling.ts), as a visitor meets them.
const CHAT_BURST = 10;
const TASKS_PER_MINUTE = 3;
const LOGINS_PER_MINUTE = 10;

/** What the page exposes as `window.sample` (sample-app/public/app.js). */
interface Received {
  channel: string;
  data: { kind?: string; id?: string; text?: string; percent?: number } | string;
  eventId?: string;
  eventType?: string;
}
interface Boot {
  server: string;
  pageId: string;
  pageTicket: string;
  csrfToken: string;
  session: boolean;
  displayName: string | null;
  subscribe: string[];
  channels: { all: string; session?: string; page: string; authorized?: string; user?: string };
  user: { id: string; name: string } | null;
  rooms: Array<{ name: string; channel: string; member: boolean }>;
  listen: { stream: string; websocket: string } | null;
}

/** The sample app as a user runs it: `node sample-app/dist/main.js` with its environment. */
class SampleApp {
  output = '';
  private constructor(private readonly child: ChildProcess) {
    child.stdout?.setEncoding('utf8').on('data', (c: string) => (this.output += c));
    child.stderr?.setEncoding('utf8').on('data', (c: string) => (this.output += c));
  }

  static start(env: Record<string, string>): SampleApp {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'sample-app', 'dist', 'main.js')], {
      cwd: REPO_ROOT,
      env: { ...process.env, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new SampleApp(child);
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  get exitCode(): number | null {
    return this.child.exitCode;
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const done = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await done;
    clearTimeout(timer);
  }
}

/** Pids of the worker processes of the nginx master `masterPid`. */
function workersOf(masterPid: string): string[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')[1] === masterPid;
      } catch {
        return false;
      }
    });
}

async function waitFor(what: string, check: () => Promise<boolean>, boundMs = WAIT): Promise<void> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${boundMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const received = (page: Page): Promise<Received[]> => page.evaluate(() => (window as unknown as { sample: { received: Received[] } }).sample.received);
const boot = (page: Page): Promise<Boot> => page.evaluate(() => (window as unknown as { sample: { boot: Boot } }).sample.boot);
const logTexts = (page: Page): Promise<string[]> => page.locator('#log li').allTextContents();
const states = (page: Page): Promise<string[]> => page.evaluate(() => (window as unknown as { sample: { states: string[] } }).sample.states);
const state = (page: Page): Promise<string | null> => page.locator('#state').getAttribute('data-state');
/** Channels the client reported deleted ('channel-deleted'), and the statuses of its 'denied' events. */
const deleted = (page: Page): Promise<string[]> => page.evaluate(() => (window as unknown as { sample: { deleted: string[] } }).sample.deleted);
const deniedStatuses = (page: Page): Promise<number[]> => page.evaluate(() => (window as unknown as { sample: { denied: number[] } }).sample.denied);
/** What the client is still subscribed to (channels it was told were deleted are dropped). */
const subscribed = (page: Page): Promise<string[]> =>
  page.evaluate(() => [...(window as unknown as { sample: { client: { subscribedChannels: string[] } } }).sample.client.subscribedChannels]);
const errorText = (page: Page): Promise<string> => page.locator('#error').innerText();
/**
 * Subscribes `page` to `channels` alone, with the package's browser client (as the page loads it),
 * and answers the status of the client's 'denied' event, or 'open' when nginx let it in.
 */
const subscribeAlone = (page: Page, channels: string[]): Promise<number | 'open'> =>
  page.evaluate(async (channels) => {
    const clientUrl = '/assets/push-stream/push-stream-client.js';
    const { PushStreamClient } = (await import(clientUrl)) as { PushStreamClient: new (options: object) => EventTarget & { connect(): void; close(): void } };
    const { server } = (window as unknown as { sample: { boot: Boot } }).sample.boot;
    const client = new PushStreamClient({ server, channels });
    try {
      return await new Promise<number | 'open'>((resolve) => {
        client.addEventListener('denied', (e) => resolve((e as CustomEvent<{ status: number }>).detail.status));
        client.addEventListener('state', (e) => {
          if ((e as CustomEvent<{ state: string }>).detail.state === 'open') resolve('open');
        });
        client.connect();
      });
    } finally {
      client.close();
    }
  }, channels);
const cookieNames = async (context: BrowserContext): Promise<string[]> => (await context.cookies()).map((c) => c.name).sort();

/** `name=value` of one cookie from a response's Set-Cookie headers. */
function setCookie(res: Response, name: string): string | undefined {
  return res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .find((c) => c.startsWith(`${name}=`));
}

/** The app started with SESSION_SECRET equal to NGINX_PUSH_STREAM_SECRET. */
let misconfigured: SampleApp;

beforeAll(async () => {
  await ensureBuilt();
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const build = await runNode([tsc, '-p', join(REPO_ROOT, 'sample-app', 'tsconfig.json')], { boundMs: 120_000 });
  if (build.code !== 0) throw new Error(`sample-app build failed:\n${build.stdout}${build.stderr}`);
  // Started now, checked at the end ('sample app configuration'): its seconds overlap the others.
  misconfigured = SampleApp.start({
    HOST: '127.0.0.1',
    PORT: String(await findFreePort()),
    SESSION_SECRET: SECRET,
    NGINX_PUSH_STREAM_SECRET: SECRET,
    NGINX_PUSH_STREAM_SERVER: 'nchan',
    NGINX_PUSH_STREAM_PUB_URL: 'http://127.0.0.1:9/pub',
  });
}, 240_000);

afterAll(async () => {
  await misconfigured?.stop();
});

describe.each(SERVERS)('sample chat in chromium, on %s', (server) => {
  let nginx: NginxTestServer;
  let app: SampleApp;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];
  let run = 0;
  let appPort: number;
  /** The app's loopback-only internal listener (health, metrics). */
  let internalPort: number;
  /** The app's auth listener (AUTH_PORT), where nginx sends its auth subrequests. */
  let authPort: number;
  /** The package's publisher in the test itself, on the app's nginx: publishes past the app's rate limits. */
  let publisherModule: TestingModule;
  let push: PushStreamService;

  /** A fresh visitor (own cookies) with one page open on the chat, connected. */
  async function visitor(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
    contexts.push(context);
    const page = await openPage(context);
    return { context, page };
  }

  async function openPage(context: BrowserContext): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(`${page.url()}: ${err.message}`));
    await page.goto(`${nginx.baseUrl}/`);
    await connected(page);
    return page;
  }

  async function connected(page: Page): Promise<void> {
    await waitFor('page connected (state "open")', async () => (await state(page)) === 'open');
  }

  async function say(page: Page, text: string): Promise<void> {
    await page.fill('#chat-input', text);
    await page.press('#chat-input', 'Enter');
  }

  /** Waits until `page` shows a chat line containing `text`. */
  async function shows(page: Page, text: string): Promise<void> {
    await waitFor(`"${text}" on ${page.url()}`, async () => (await logTexts(page)).some((t) => t.includes(text)));
  }

  /**
   * A chat line every page must receive, sent after the messages under test: once a page has it,
   * anything published before on its one connection has arrived too, so "did not receive" can be
   * asserted without sleeping.
   */
  async function barrier(sender: Page, pages: Page[]): Promise<void> {
    const text = `barrier-${++run}-${Date.now()}`;
    await say(sender, text);
    for (const p of pages) await shows(p, text);
  }

  async function login(page: Page, user: string): Promise<void> {
    await page.selectOption('#login-user', user);
    await Promise.all([page.waitForEvent('load'), page.click('#login-form button[type=submit]')]);
    await connected(page);
    expect((await boot(page)).user?.id).toBe(user);
  }

  async function logout(page: Page): Promise<void> {
    await Promise.all([page.waitForEvent('load'), page.click('#logout')]);
    await connected(page);
    expect((await boot(page)).user).toBeNull();
  }

  /** A private message from the logged-in `sender` to `to`, sent with the page's form. */
  async function sendPrivate(sender: Page, to: string, text: string): Promise<void> {
    await sender.selectOption('#private-to', to);
    await sender.fill('#private-text', text);
    await sender.click('#private-form button[type=submit]');
  }

  const got = async (page: Page, text: string): Promise<boolean> => (await received(page)).some((m) => typeof m.data === 'object' && m.data.text === text);

  beforeAll(async () => {
    appPort = await findFreePort();
    internalPort = await findFreePort();
    authPort = await findFreePort();
    nginx = await NginxTestServer.start({ server, appUpstream: `127.0.0.1:${appPort}`, authUpstream: `127.0.0.1:${authPort}` });
    app = SampleApp.start({
      HOST: '127.0.0.1',
      PORT: String(appPort),
      INTERNAL_PORT: String(internalPort),
      AUTH_PORT: String(authPort),
      NGINX_PUSH_STREAM_SERVER: server,
      NGINX_PUSH_STREAM_PUB_URL: nginx.publisherUrl,
      NGINX_PUSH_STREAM_SECRET: SECRET,
      DEMO_USERS: 'alice,bob,carol',
      TASK_DURATION_MS: '2000',
      // nginx's public address, for PushStreamService.subscriberUrls() (the page's "From a terminal").
      NGINX_PUSH_STREAM_SUB_HOST: '127.0.0.1',
      NGINX_PUSH_STREAM_SUB_PORT: new URL(nginx.baseUrl).port,
    });
    await waitFor('app answering through nginx', async () => !app.exited && (await fetch(`${nginx.baseUrl}/api/health`)).ok, 30_000).catch(
      (err: Error) => {
        throw new Error(`${err.message}\n--- app output ---\n${app.output}`);
      },
    );
    publisherModule = await Test.createTestingModule({
      imports: [PushStreamModule.forRoot({ server, publisherUrl: nginx.publisherUrl, secret: SECRET })],
    }).compile();
    push = publisherModule.get(PushStreamService);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  }, 60_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await publisherModule?.close();
    await app?.stop();
    await nginx?.dispose();
  }, 30_000);

  afterEach(() => {
    // An exception in the page is a failure even when the assertions passed.
    expect(pageErrors.splice(0)).toEqual([]);
  });

  // Shared by the tests below, in order: two visitors, A and B; D is carol from the log-in test on.
  let a: { context: BrowserContext; page: Page };
  let b: { context: BrowserContext; page: Page };
  let d: { context: BrowserContext; page: Page };

  it("nginx asks the app's auth listener (AUTH_PORT) before each subscription, not the app's Express endpoint", async () => {
    expect(app.output).toContain(`auth listener on http://127.0.0.1:${authPort}/push-stream/auth`);
    // The rendered config: auth subrequests go to the listener only, the rest to the app.
    const serverConf = /include (\S+);/.exec(readFileSync(nginx.configFile, 'utf8'))![1];
    const upstream = (name: string) => new RegExp(`upstream ${name} \\{([^}]*)\\}`).exec(readFileSync(serverConf, 'utf8'))?.[1].match(/server \S+;/g);
    expect(upstream('push_stream_auth')).toEqual([`server 127.0.0.1:${authPort};`]);
    expect(upstream('push_stream_app')).toEqual([`server 127.0.0.1:${appPort};`]);
    // The listener answers nginx's subrequest (as nginx sends it) and nothing else.
    const ask = (path: string, channels: string) => fetch(`http://127.0.0.1:${authPort}${path}`, { headers: { 'x-push-stream-channels': channels } });
    expect((await ask('/push-stream/auth', 'my-app__all__')).status).toBe(204);
    expect((await ask('/push-stream/auth', 'my-app__room__nestjs')).status).toBe(401);
    expect((await ask('/api/page', 'my-app__all__')).status).toBe(404);
  });

  it('a line typed in one window appears in the other; reading stores no session, the first line starts one', async () => {
    a = await visitor();
    b = await visitor();
    // Readers: no session cookie (express-session stored nothing), only the CSRF nonce; no session channel.
    for (const v of [a, b]) {
      expect(await cookieNames(v.context)).toEqual(['sample.csrf']);
      const bootstrap = await boot(v.page);
      expect({ session: bootstrap.session, displayName: bootstrap.displayName }).toEqual({ session: false, displayName: null });
      expect(bootstrap.subscribe).toEqual([bootstrap.channels.all, bootstrap.channels.page]);
    }
    const text = `hello from A ${Date.now()}`;
    await say(a.page, text);
    await shows(b.page, text);
    await shows(a.page, text);
    // Published by the app: signed with the random guest name A's session got, which B did not choose.
    await waitFor("A's guest name on its page", async () => (await boot(a.page)).displayName !== null);
    const name = (await boot(a.page)).displayName!;
    expect(name).toMatch(/^guest-[0-9a-f]{6}$/);
    expect(await a.page.locator('#whoami').textContent()).toBe(`${name} (anonymous)`);
    const line = (await logTexts(b.page)).find((t) => t.includes(text));
    expect(line).toContain(name);
    // A's first line stored A's session; B, who only read, still has none.
    expect(await cookieNames(a.context)).toEqual(['sample.csrf', 'sample.sid']);
    expect(await cookieNames(b.context)).toEqual(['sample.csrf']);
    expect((await boot(a.page)).subscribe).not.toContain('my-app__authorized__');
  }, 60_000);

  it('refuses a message without the CSRF token, or an invalid one, and publishes nothing', async () => {
    const before = (await received(b.page)).length;
    const status = await a.page.evaluate(async () => {
      const post = (body: unknown, headers: Record<string, string>) =>
        fetch('/api/messages', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }).then((r) => r.status);
      const token = (window as unknown as { sample: { boot: { csrfToken: string } } }).sample.boot.csrfToken;
      return {
        noToken: await post({ text: 'forged' }, {}),
        badToken: await post({ text: 'forged' }, { 'x-csrf-token': 'x'.repeat(43) }),
        tooLong: await post({ text: 'y'.repeat(281) }, { 'x-csrf-token': token }),
        notString: await post({ text: 42 }, { 'x-csrf-token': token }),
        empty: await post({ text: '   ' }, { 'x-csrf-token': token }),
      };
    });
    expect(status).toEqual({ noToken: 403, badToken: 403, tooLong: 400, notString: 400, empty: 400 });
    await barrier(a.page, [b.page]);
    const after = await received(b.page);
    expect(after.slice(before).map((m) => (typeof m.data === 'object' ? m.data.text : m.data))).toEqual([expect.stringMatching(/^barrier-/)]);
  }, 60_000);

  it('a reload shows the history, each line once', async () => {
    const text = `history line ${Date.now()}`;
    await say(a.page, text);
    await shows(b.page, text);
    await b.page.reload();
    await connected(b.page);
    await shows(b.page, text);
    const lines = (await logTexts(b.page)).filter((t) => t.includes(text));
    expect(lines).toHaveLength(1);
    // A new page in a new context is not empty either.
    const c = await visitor();
    await shows(c.page, text);
  }, 60_000);

  it('"notify only my session" reaches every page of that session and no other', async () => {
    // A's page loaded before A's first line started the session: it has no session channel, and
    // offers to subscribe to it (the session exists: the button starts none, it reloads the page).
    expect((await boot(a.page)).channels.session).toBeUndefined();
    expect(await a.page.locator('#notify-session').isVisible()).toBe(false);
    await Promise.all([a.page.waitForEvent('load'), a.page.click('#start-session')]);
    await connected(a.page);
    expect((await boot(a.page)).subscribe).toContain((await boot(a.page)).channels.session);
    const a2 = await openPage(a.context); // same cookies: same session, another page
    await a.page.click('#notify-session');
    await shows(a.page, 'Only your session sees this');
    await shows(a2, 'Only your session sees this');
    await barrier(a.page, [b.page, a2]);
    expect((await logTexts(b.page)).some((t) => t.includes('Only your session'))).toBe(false);
    expect((await received(b.page)).filter((m) => m.channel.includes('__session__') || m.eventType === 'notice')).toEqual([]);
    await a2.close();
  }, 60_000);

  it("the long task's progress bar reaches 100% on its page only", async () => {
    const a2 = await openPage(a.context); // same session, another page: must not move
    await a.page.click('#long-task');
    await waitFor('progress 100% on the page that started the task', async () => (await a.page.locator('#task-percent').textContent()) === '100%');
    expect(await a.page.locator('#task-progress').evaluate((el) => (el as HTMLProgressElement).value)).toBe(100);
    const steps = (await received(a.page)).filter((m) => typeof m.data === 'object' && m.data.kind === 'progress').map((m) => (m.data as { percent: number }).percent);
    expect(steps).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    await barrier(a.page, [b.page, a2]);
    for (const other of [a2, b.page]) {
      expect(await other.locator('#task-percent').textContent()).toBe('0%');
      expect((await received(other)).filter((m) => m.channel.includes('__uuid__'))).toEqual([]);
    }
    // Another browser cannot drive A's bar: the page id was not issued to it, and A's ticket is
    // bound to A's browser (its CSRF nonce), so knowing both does not help.
    const { pageId, pageTicket } = await boot(a.page);
    const statuses = await b.page.evaluate(
      async ({ pageId, aTicket }) => {
        const { csrfToken, pageTicket } = (window as unknown as { sample: { boot: Boot } }).sample.boot;
        const start = async (ticket: string) =>
          (await fetch('/api/tasks', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken }, body: JSON.stringify({ pageId, pageTicket: ticket }) })).status;
        return { ownTicket: await start(pageTicket), aTicket: await start(aTicket) };
      },
      { pageId, aTicket: pageTicket },
    );
    expect(statuses).toEqual({ ownTicket: 403, aTicket: 403 });
    await a2.close();
  }, 60_000);

  it('throttles a burst of chat lines (429 past the limit: subscribers get only the accepted ones) and of long tasks', async () => {
    // E, a new visitor: its first line starts its session, whose budget the burst then uses up.
    const e = await visitor();
    const tag = `burst-${Date.now()}`;
    await say(e.page, `${tag} first`);
    await shows(b.page, `${tag} first`);
    // B can show the line before E's page has the answer that set its session cookie: a burst sent
    // then would count against the address (where E's first line already is), not E's session.
    await waitFor("E's page has its session", async () => (await boot(e.page)).session);
    const burst = 15;
    const answers = await e.page.evaluate(
      async ({ tag, burst }) => {
        const { csrfToken } = (window as unknown as { sample: { boot: Boot } }).sample.boot;
        const post = async (i: number) => {
          const res = await fetch('/api/messages', {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken },
            body: JSON.stringify({ text: `${tag} #${i}` }),
          });
          return { status: res.status, retryAfter: res.headers.get('retry-after'), message: ((await res.json()) as { message?: string }).message };
        };
        return Promise.all(Array.from({ length: burst }, (_, i) => post(i)));
      },
      { tag, burst },
    );
    const accepted = answers.filter((r) => r.status === 201);
    const refused = answers.filter((r) => r.status === 429);
    expect({ accepted: accepted.length, refused: refused.length }).toEqual({ accepted: CHAT_BURST, refused: burst - CHAT_BURST });
    for (const r of refused) {
      expect(r.message).toMatch(/^Too many messages: try again in \d+ s$/);
      expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
    }
    // The page says so when the visitor types one more.
    await say(e.page, `${tag} one more`);
    await waitFor('the 429 shown on the page', async () => /^Too many messages: try again in \d+ s$/.test(await errorText(e.page)));

    // What everyone got: the first line and the accepted ones, once each (B's barrier: E is still refused).
    await barrier(a.page, [b.page]);
    const lines = (await logTexts(b.page)).filter((t) => t.includes(tag));
    expect(lines).toHaveLength(1 + CHAT_BURST);
    expect(lines.some((t) => t.includes(`${tag} one more`))).toBe(false);

    // Long tasks: a few a minute per session, then 429 (E has a session: its own budget).
    const tasks = await e.page.evaluate(async (n) => {
      const { csrfToken, pageId, pageTicket } = (window as unknown as { sample: { boot: Boot } }).sample.boot;
      const statuses: number[] = [];
      for (let i = 0; i < n; i++) {
        const res = await fetch('/api/tasks', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken }, body: JSON.stringify({ pageId, pageTicket }) });
        statuses.push(res.status);
      }
      return statuses;
    }, TASKS_PER_MINUTE + 1);
    expect(tasks).toEqual([...Array<number>(TASKS_PER_MINUTE).fill(202), 429]);
  }, 60_000);

  it('logged-in users get "who joined" and private messages; anonymous and logged-out pages never get __authorized__', async () => {
    // C logs in as bob, then logs out: its page is anonymous again.
    const c = await visitor();
    await login(c.page, 'bob');
    await logout(c.page);
    const cBoot = await boot(c.page);
    expect(cBoot.user).toBeNull();
    expect(cBoot.subscribe).not.toContain('my-app__authorized__');

    // D is carol, logged in: she sees who joins.
    d = await visitor();
    await login(d.page, 'carol');
    expect((await boot(d.page)).subscribe).toEqual(expect.arrayContaining(['my-app__authorized__', 'my-app__user__carol']));

    // A logs in as alice: a "joined" notice on __authorized__.
    await login(a.page, 'alice');
    await shows(d.page, 'Alice logged in');

    // Alice writes to carol only.
    await sendPrivate(a.page, 'carol', 'for carol only');
    await shows(d.page, 'for carol only');

    await barrier(a.page, [b.page, c.page, d.page]);
    for (const p of [b.page, c.page]) {
      const msgs = await received(p);
      expect(msgs.filter((m) => m.channel === 'my-app__authorized__' || m.channel.startsWith('my-app__user__'))).toEqual([]);
      expect((await logTexts(p)).some((t) => t.includes('logged in') || t.includes('for carol only'))).toBe(false);
    }
    // nginx refuses the logged-out page if it asks for __authorized__ itself: 401, since logging
    // out deleted the session and its cookie (a reader has no session).
    const status = await c.page.evaluate(async () => {
      const ctl = new AbortController();
      const res = await fetch('/sub/my-app__authorized__', { signal: ctl.signal });
      ctl.abort();
      return res.status;
    });
    expect(status).toBe(401);
    expect(await cookieNames(c.context)).toEqual(['sample.csrf']);
  }, 90_000);

  it('a room, the sample\'s own @PushStreamChannelRule: its members get its lines; nginx refuses a non-member (403) and a visitor (401)', async () => {
    const tag = `room-${Date.now()}`;
    const room = (await boot(d.page)).rooms.find((r) => r.name === 'nestjs')!;
    expect(room).toEqual({ name: 'nestjs', channel: 'my-app__room__nestjs', member: false });
    // Nobody has joined yet: carol (D, logged in) is refused; B (a reader, no session) is told to log in.
    expect(await Promise.all([subscribeAlone(d.page, [room.channel]), subscribeAlone(b.page, [room.channel])])).toEqual([403, 401]);

    // Alice (A) and carol (D) join with the page's button; each page reloads, the room in its connection.
    for (const p of [a.page, d.page]) {
      await Promise.all([p.waitForEvent('load'), p.click('[data-join="nestjs"]')]);
      await connected(p);
      const joined = await boot(p);
      expect(joined.rooms.find((r) => r.name === 'nestjs')?.member).toBe(true);
      expect(joined.subscribe).toContain(room.channel);
    }

    // Alice writes in the room: both members get it on the room's channel, B neither gets it nor may write there.
    await a.page.selectOption('#room-to', 'nestjs');
    await a.page.fill('#room-text', `${tag} for members`);
    await a.page.click('#room-form button[type=submit]');
    for (const p of [a.page, d.page]) await shows(p, `${tag} for members`);
    expect((await received(d.page)).filter((m) => typeof m.data === 'object' && m.data.text === `${tag} for members`).map((m) => m.channel)).toEqual([room.channel]);
    const bWrites = await b.page.evaluate(async () => {
      const { csrfToken } = (window as unknown as { sample: { boot: Boot } }).sample.boot;
      const res = await fetch('/api/rooms/messages', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken },
        body: JSON.stringify({ room: 'nestjs', text: 'not a member' }),
      });
      return res.status;
    });
    expect(bWrites).toBe(403);
    await barrier(a.page, [b.page]);
    expect((await received(b.page)).filter((m) => m.channel === room.channel)).toEqual([]);

    // The page's terminal hint comes from PushStreamService.subscriberUrls(): the seed's curl URL.
    expect((await boot(b.page)).listen).toEqual({ stream: `${nginx.baseUrl}/sub/my-app__all__`, websocket: `${nginx.baseUrl.replace(/^http/, 'ws')}/ws/my-app__all__` });
  }, 60_000);

  it('logging in ends the old session\'s streams; logging out ends the session\'s and the user\'s (revokeSession, revokeUser)', async () => {
    const tag = `revoke-${Date.now()}`;
    // L: one browser, two pages. Its first line starts an anonymous session; L2 then subscribes to it.
    const l = await visitor();
    await say(l.page, `${tag} L's first line`);
    await waitFor("L's session started", async () => (await boot(l.page)).session);
    const l2 = await openPage(l.context);
    const anonymous = (await boot(l2)).channels.session!;
    expect(anonymous).toBeDefined();

    // L logs in as carol in its first page: the anonymous session is gone, and so are its streams.
    let mark = (await states(l2)).length;
    await login(l.page, 'carol');
    if (server === 'nchan') {
      // Every connection that named the channel is closed; the client comes back and is refused.
      await waitFor('L2 refused', async () => (await state(l2)) === 'denied');
      expect((await states(l2)).slice(mark)).toEqual(['reconnecting', 'denied']);
      expect(await deniedStatuses(l2)).toEqual([403]);
    } else {
      // The channel is closed with a notice; the connection stays open on the others.
      await waitFor('L2 told its session channel is closed', async () => (await deleted(l2)).includes(anonymous));
      expect(await deleted(l2)).toEqual([anonymous]);
      expect(await state(l2)).toBe('open');
    }
    expect(await errorText(l2)).toMatch(/reload the page/);

    // Carol, logged in in both pages of L and in another browser (M: D, carol since the log-in test).
    await l2.reload();
    await connected(l2);
    const carol = await boot(l2);
    expect(carol.subscribe).toEqual(expect.arrayContaining([carol.channels.session, 'my-app__authorized__', 'my-app__user__carol']));
    const m = d;
    expect((await boot(m.page)).user?.id).toBe('carol');
    await sendPrivate(a.page, 'carol', `${tag} before`);
    for (const p of [l2, m.page]) await shows(p, `${tag} before`);

    // L logs out in its first page; L2 is left open.
    mark = (await states(l2)).length;
    const markM = (await states(m.page)).length;
    await logout(l.page);
    if (server === 'nchan') {
      // L2: closed, back without a session, refused. M (carol elsewhere): closed too, back, let in.
      await waitFor('L2 refused', async () => (await state(l2)) === 'denied');
      expect((await states(l2)).slice(mark)).toEqual(['reconnecting', 'denied']);
      expect(await deniedStatuses(l2)).toEqual([401]);
      await waitFor('M back', async () => (await states(m.page)).slice(markM).join() === 'reconnecting,open');
    } else {
      // L2: its session and user channels are closed, nothing else; M loses carol's channel.
      await waitFor('L2 told both channels are closed', async () => (await deleted(l2)).length === 2);
      expect([...(await deleted(l2))].sort()).toEqual([carol.channels.session, 'my-app__user__carol'].sort());
      await waitFor('M told carol\'s channel is closed', async () => (await deleted(m.page)).length === 1);
      expect(await deleted(m.page)).toEqual(['my-app__user__carol']);
      for (const p of [l2, m.page]) expect((await states(p)).slice(p === l2 ? mark : markM)).toEqual([]);
      // What push-stream does not end: the shared __authorized__ stays on L2's connection until
      // push_stream_subscriber_connection_ttl (15 min in the shipped config; README, Security).
      expect(await subscribed(l2)).toEqual(expect.arrayContaining(['my-app__authorized__']));
      expect(await subscribed(l2)).not.toContain('my-app__user__carol');
    }

    // A private line to carol now: never on L2; on M only where the server let it back in (Nchan).
    await sendPrivate(a.page, 'carol', `${tag} after`);
    if (server === 'nchan') {
      await shows(m.page, `${tag} after`);
      await barrier(a.page, [m.page]); // L2 is closed: nothing can reach it any more
    } else {
      await barrier(a.page, [l2, m.page]);
      expect(await got(m.page, `${tag} after`)).toBe(false);
    }
    expect(await got(l2, `${tag} after`)).toBe(false);
    expect(await got(l2, `${tag} before`)).toBe(true);
  }, 90_000);

  it('keeps receiving across an nginx reload, without a lost or doubled message', async () => {
    const tag = `reload-${Date.now()}`;
    const total = 30;
    // Published by the test as the app publishes a chat line (the app would refuse 30 lines in 3 s
    // from one visitor), one at a time: each is published exactly once, so a missing or doubled
    // line can only come from the delivery.
    const sendOne = async (i: number) => {
      const id = randomUUID();
      const message = { kind: 'chat', id, from: 'reload test', text: `${tag} #${i}`, at: new Date().toISOString() };
      await push.publish(push.channels.all(), message, { eventId: id, eventType: 'chat' });
    };
    const statesBefore = await Promise.all([b.page, a.page].map(async (p) => (await states(p)).length));
    const master = readFileSync(join(nginx.workDir, 'nginx.pid'), 'utf8').trim();
    const workersBefore = workersOf(master);
    for (let i = 1; i <= total; i++) {
      await sendOne(i);
      // Not waiting for the old workers: the pages reconnect at once, while old workers may still
      // take connections (see worker_shutdown_timeout in nginx.conf.template).
      if (i === 10 || i === 20) await nginx.reload({ waitForOldWorkers: false });
      // A steady stream, well below the 20 messages a channel stores per second: a page cut by an
      // old worker after 1 s resumes from the store.
      await new Promise((r) => setTimeout(r, 100));
    }
    const expected = Array.from({ length: total }, (_, i) => `${tag} #${i + 1}`);
    const linesOf = async (p: Page) => (await logTexts(p)).map((t) => /reload-\d+ #\d+/.exec(t)?.[0]).filter((t): t is string => Boolean(t));
    // The reload really replaced the worker that held the connections.
    await waitFor('old nginx worker gone', async () => workersOf(master).every((w) => !workersBefore.includes(w)));
    for (const [n, p] of [b.page, a.page].entries()) {
      await waitFor(`all ${total} messages on ${p.url()}`, async () => (await linesOf(p)).length >= total, 30_000).catch(async (err: Error) => {
        // Server message ids and states help tell a server-side loss from a client that dropped a message.
        const ids = (await received(p)).filter((m) => typeof m.data === 'object' && String(m.data.text).startsWith(tag)).map((m) => `${(m.data as { text: string }).text.slice(tag.length)}@${(m as { id?: string }).id}`);
        throw new Error(`${err.message}; got ${JSON.stringify(ids)}; states ${JSON.stringify(await states(p))}\n${await nginx.errorLog()}`);
      });
      // ...and the page noticed: its connection was closed and opened again.
      expect((await states(p)).slice(statesBefore[n])).toContain('reconnecting');
      await barrier(a.page, [p]);
      expect(await linesOf(p)).toEqual(expected);
      expect(await state(p)).toBe('open');
    }
  }, 120_000);

  it('looks like this (docs/screenshot.png)', async () => {
    // The picture shows a conversation, not the earlier tests' lines: A's log is emptied first.
    await a.page.evaluate(() => document.getElementById('log')!.replaceChildren());
    // Bob logs in on a new page: Alice (A) sees him join; then a short conversation.
    const bob = await visitor();
    await login(bob.page, 'bob');
    await shows(a.page, 'Bob logged in');
    const lines: Array<[Page, string]> = [
      [b.page, 'Anyone there? I am not logged in.'],
      [a.page, 'Hi! Every open page gets this line through nginx.'],
      [bob.page, 'Same here, the app published it, not the browser.'],
      [b.page, 'And a reload shows the last messages.'],
      [a.page, 'Try the long task button: its progress goes to this page only.'],
    ];
    for (const [p, text] of lines) {
      await say(p, text);
      await shows(a.page, text);
    }
    await a.page.click('#notify-session');
    await shows(a.page, 'Only your session sees this');
    await a.page.click('#long-task');
    await waitFor('progress 70% or more', async () => Number(await a.page.locator('#task-progress').evaluate((el) => (el as HTMLProgressElement).value)) >= 70);
    if (server === 'nchan') {
      mkdirSync(SCREENSHOT_DIR, { recursive: true });
      await a.page.screenshot({ path: SCREENSHOT, fullPage: false });
      expect(statSync(SCREENSHOT).size).toBeGreaterThan(10_000);
    }
    await waitFor('progress 100%', async () => (await a.page.locator('#task-percent').textContent()) === '100%');
    expect(await state(a.page)).toBe('open');
    expect(await a.page.locator('#login-form').isVisible()).toBe(false);
  }, 60_000);

  it('throttles log-ins per address: 429 past the limit, shown on the page, and no "who joined" for a refused one', async () => {
    // Straight through nginx, as a script would: a reader's CSRF cookie and token, no session.
    const page = await fetch(`${nginx.baseUrl}/api/page`);
    const csrfCookie = setCookie(page, 'sample.csrf')!;
    const { csrfToken } = (await page.json()) as Boot;
    const joinedBefore = (await received(a.page)).filter((m) => m.eventType === 'joined').length;
    const answers: Array<{ status: number; retryAfter: string | null; message?: string }> = [];
    // The earlier tests' log-ins count too; each attempt claims another address, which changes nothing:
    // the app trusts only nginx's hop of X-Forwarded-For (main.ts), not what the client put there.
    for (let i = 0; i <= LOGINS_PER_MINUTE && answers.at(-1)?.status !== 429; i++) {
      const res = await fetch(`${nginx.baseUrl}/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken, cookie: csrfCookie, 'x-forwarded-for': `203.0.113.${i + 1}` },
        body: JSON.stringify({ username: 'bob' }),
      });
      answers.push({ status: res.status, retryAfter: res.headers.get('retry-after'), message: ((await res.json()) as { message?: string }).message });
    }
    const accepted = answers.filter((r) => r.status === 200).length;
    expect(answers.slice(0, accepted).every((r) => r.status === 200)).toBe(true);
    expect(accepted).toBeLessThanOrEqual(LOGINS_PER_MINUTE);
    expect(answers.at(-1)).toEqual({ status: 429, retryAfter: expect.stringMatching(/^\d+$/), message: expect.stringMatching(/^Too many log-ins from your address: try again in \d+ s$/) });

    // The form says it too (B's browser, same address), and the page stays as it was.
    await b.page.selectOption('#login-user', 'carol');
    await b.page.click('#login-form button[type=submit]');
    await waitFor('the 429 shown on the page', async () => /^Too many log-ins from your address/.test(await errorText(b.page)));
    expect((await boot(b.page)).user).toBeNull();

    // Alice (logged in) got one "Bob logged in" per accepted log-in, none for a refused one.
    await barrier(a.page, [a.page]);
    expect((await received(a.page)).filter((m) => m.eventType === 'joined').length - joinedBefore).toBe(accepted);
  }, 60_000);

  it('serves health (@nestjs/terminus) and Prometheus metrics on its internal listener only', async () => {
    const internal = `http://127.0.0.1:${internalPort}/internal`;
    const health = await fetch(`${internal}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({
      status: 'ok',
      details: { 'push-stream': { status: 'up', server, checks: [{ name: 'stats', ok: true }, { name: 'channel-info', ok: true }] } },
    });
    const metrics = await fetch(`${internal}/metrics`);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await metrics.text();
    // What the earlier tests did: chat lines published, subscriptions allowed and refused (rooms: 401/403).
    const sample = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
    expect(sample(new RegExp(`^push_stream_publishes_total\\{server="${server}",outcome="ok"\\} (\\d+)$`, 'm'))).toBeGreaterThan(10);
    expect(sample(/^push_stream_auth_decisions_total\{decision="allowed",kind="all"\} (\d+)$/m)).toBeGreaterThan(0);
    expect(sample(/^push_stream_auth_decisions_total\{decision="refused",kind="room"\} (\d+)$/m)).toBeGreaterThan(0);
    expect(sample(/^push_stream_server_up (\d+)$/m)).toBe(1);
    expect(sample(/^push_stream_server_subscribers (\d+)$/m)).toBeGreaterThan(0);
    // Neither through nginx nor on the app's public port.
    for (const url of [`${nginx.baseUrl}/internal/metrics`, `${nginx.baseUrl}/internal/health`, `http://127.0.0.1:${appPort}/internal/metrics`]) {
      expect({ url, status: (await fetch(url)).status }).toEqual({ url, status: 404 });
    }
  });
});


// docker-compose.yml keeps sessions in Redis (connect-redis): the same app, run with REDIS_URL.
// No nginx here: every publish fails (quickly), which is what the secrets checks need. The first
// app has no AUTH_PORT (nginx would ask its Express endpoint); the restarted one has the auth
// listener, reading the same Redis store through the same client as express-session.
describe('sample app with REDIS_URL (sessions in Redis, as in Docker)', () => {
  const REDIS_PASSWORD = 'redis-e2e-password-42';
  const PUB_PASSWORD = 'pub-e2e-password-43';
  let redis: ChildProcess;
  let redisUrl: string;
  let keys: () => Promise<string[]>;
  let closeRedisClient: () => Promise<void>;
  // One app for both tests (the second restarts it): an app start is seconds.
  let env: Record<string, string>;
  let base: string;
  let first: SampleApp;

  beforeAll(async () => {
    // npm's pretest installs redis-server: a missing one is a failure, not a silent skip.
    if (spawnSync('redis-server', ['--version']).status !== 0) throw new Error('redis-server is missing: run npm test (its pretest installs it)');
    const redisPort = await findFreePort();
    redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', REDIS_PASSWORD], {
      stdio: 'ignore',
    });
    await waitFor('redis listening', () => isListening(redisPort));
    redisUrl = `redis://:${REDIS_PASSWORD}@127.0.0.1:${redisPort}`;
    const client = createClient({ url: redisUrl });
    await client.connect();
    keys = async () => (await client.keys('sample-sess:*')).sort();
    closeRedisClient = async () => {
      await client.close();
    };
    env = await appEnv();
    base = `http://127.0.0.1:${env.PORT}`;
    first = SampleApp.start(env);
    await started(first);
  }, 60_000);

  afterAll(async () => {
    await first?.stop();
    await closeRedisClient?.();
    redis?.kill('SIGTERM');
  });

  async function appEnv(): Promise<Record<string, string>> {
    return {
      HOST: '127.0.0.1',
      PORT: String(await findFreePort()),
      REDIS_URL: redisUrl,
      SESSION_SECRET: 'redis-e2e-session-secret-0123456789',
      NGINX_PUSH_STREAM_SERVER: 'nchan',
      // Nobody listens there; the URL carries a password the app must never show.
      NGINX_PUSH_STREAM_PUB_URL: `http://publisher:${PUB_PASSWORD}@127.0.0.1:${await findFreePort()}/pub`,
      NGINX_PUSH_STREAM_RETRY_ATTEMPTS: '1',
      NGINX_PUSH_STREAM_SECRET: SECRET,
    };
  }

  async function started(app: SampleApp): Promise<void> {
    await waitFor('app up', async () => !app.exited && (await fetch(`${base}/api/health`)).ok, 30_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${app.output}`);
    });
  }

  /**
   * The status of nginx's auth subrequest for `channels` (as the shipped configs send it: the
   * Cookie and the channels), asked of `origin`: the app's endpoint or the auth listener.
   */
  async function authorize(origin: string, channels: string[], cookie?: string): Promise<number> {
    const headers: Record<string, string> = { 'x-push-stream-channels': channels.join('/') };
    if (cookie) headers.cookie = cookie;
    const res = await fetch(`${origin}/push-stream/auth`, { headers });
    expect(res.headers.getSetCookie()).toEqual([]); // never a session, nor a cookie, from an auth answer
    return res.status;
  }

  /** A reader's bootstrap: its CSRF cookie and the page's token. */
  async function read(cookie?: string): Promise<{ res: Response; boot: Boot; csrf: string }> {
    const res = await fetch(`${base}/api/page`, cookie ? { headers: { cookie } } : {});
    const csrf = setCookie(res, 'sample.csrf') ?? cookie!.split('; ').find((c) => c.startsWith('sample.csrf='))!;
    return { res, boot: (await res.json()) as Boot, csrf };
  }

  function post(path: string, cookie: string, token: string, body: unknown = {}): Promise<Response> {
    return fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': token, cookie }, body: JSON.stringify(body) });
  }

  it('stores no session for readers, one from the first write, none after logout; says nothing of its secrets', async () => {
    // The Redis URL is logged without its password.
    expect(first.output).toContain(`sessions in Redis at redis://***@127.0.0.1:`);

    // 20 cookie-less page loads: a CSRF cookie each, no session cookie, nothing in Redis.
    const readers = await Promise.all(Array.from({ length: 20 }, () => read()));
    for (const r of readers) {
      expect(r.res.status).toBe(200);
      expect(r.res.headers.getSetCookie().map((c) => c.split('=')[0])).toEqual(['sample.csrf']);
      expect(r.boot.session).toBe(false);
    }
    expect(await keys()).toEqual([]);

    // One reader writes a line: its session is stored, whatever became of the line. Here nginx
    // is unreachable: a 503 that says what failed and nothing of where (the URL has a password).
    const { csrf, boot } = readers[0];
    const line = await post('/api/messages', csrf, boot.csrfToken, { text: 'hello' });
    expect(line.status).toBe(503);
    expect(await line.json()).toEqual({ statusCode: 503, error: 'Service Unavailable', message: 'The message could not be delivered' });
    const sid = setCookie(line, 'sample.sid')!;
    expect(sid).toBeDefined();
    expect(await keys()).toHaveLength(1);
    const again = await read(`${csrf}; ${sid}`);
    expect({ session: again.boot.session, displayName: again.boot.displayName }).toEqual({ session: true, displayName: expect.stringMatching(/^guest-[0-9a-f]{6}$/) });

    // Log in, then out: the session is replaced, then deleted; the logout succeeds although
    // nginx cannot be told to end the session's subscriptions (the app logs that it could not).
    const login = await post('/api/login', `${csrf}; ${sid}`, again.boot.csrfToken, { username: 'alice' });
    expect(login.status).toBe(200);
    const aliceSid = setCookie(login, 'sample.sid')!;
    expect(aliceSid).not.toBe(sid);
    expect(await keys()).toHaveLength(1);
    const alice = await read(`${csrf}; ${aliceSid}`);
    // Without AUTH_PORT the app's own endpoint (behind express-session) decides subscriptions.
    expect(first.output).not.toContain('auth listener on');
    expect(await authorize(base, alice.boot.subscribe, `${csrf}; ${aliceSid}`)).toBe(204);
    expect(await authorize(base, ['my-app__user__alice'])).toBe(401);
    const logout = await post('/api/logout', `${csrf}; ${aliceSid}`, alice.boot.csrfToken);
    expect(logout.status).toBe(200);
    expect(setCookie(logout, 'sample.sid')).toBe('sample.sid='); // cleared
    expect(await keys()).toEqual([]);
    await waitFor('the failed revocations logged', async () => (first.output.match(/could not end the subscriptions of/g) ?? []).length >= 3);
    // Failed publishes and revocations were logged, without either password.
    expect(first.output).toContain('publish to my-app__all__ failed');
    expect(first.output).not.toContain(PUB_PASSWORD);
    expect(first.output).not.toContain(REDIS_PASSWORD);
  }, 60_000);

  it('keeps a logged-in session across an app restart', async () => {
    const { csrf, boot: reader } = await read();
    // An anonymous session first (the session button), then the login replaces it.
    const start = await post('/api/session', csrf, reader.csrfToken);
    expect(start.status).toBe(200);
    const cookie = setCookie(start, 'sample.sid')!;
    const login = await post('/api/login', `${csrf}; ${cookie}`, reader.csrfToken, { username: 'bob' });
    // No nginx here: the "who joined" notice fails, quickly, and must not fail the login.
    expect(login.status).toBe(200);
    const loggedIn = setCookie(login, 'sample.sid')!; // regenerated on login
    expect(loggedIn).not.toBe(cookie);
    await first.stop();

    // Restarted with the auth listener: it reads the sessions the first app stored.
    const authPort = await findFreePort();
    const second = SampleApp.start({ ...env, AUTH_PORT: String(authPort) });
    try {
      await started(second);
      const again = (await read(`${csrf}; ${loggedIn}`)).boot;
      expect(again.user).toEqual({ id: 'bob', name: 'Bob' });
      expect(again.subscribe).toContain('my-app__user__bob');
      // The session from before the login is gone (regenerated), not logged in.
      const old = (await read(`${csrf}; ${cookie}`)).boot;
      expect({ user: old.user, session: old.session }).toEqual({ user: null, session: false });

      // The listener and the app's endpoint decide alike, from the same store, and no session is
      // added or removed (the listener writes nothing; express-session, saveUninitialized: false).
      expect(second.output).toContain(`auth listener on http://127.0.0.1:${authPort}/push-stream/auth`);
      const listener = `http://127.0.0.1:${authPort}`;
      const stored = await keys();
      const forged = `${loggedIn.slice(0, -1)}${loggedIn.endsWith('A') ? 'B' : 'A'}`; // another signature
      const cases: Array<[string[], string | undefined, number]> = [
        [again.subscribe, `${csrf}; ${loggedIn}`, 204], // bob's session, user and authorized channels
        [['my-app__user__bob'], `${csrf}; ${cookie}`, 401], // the session the log-in replaced
        [['my-app__user__bob'], `${csrf}; ${forged}`, 401],
        [['my-app__user__alice'], `${csrf}; ${loggedIn}`, 403], // someone else's
        [['my-app__all__'], undefined, 204],
      ];
      for (const [channels, cookieHeader, status] of cases) {
        const answers = { listener: await authorize(listener, channels, cookieHeader), app: await authorize(base, channels, cookieHeader) };
        expect({ channels, answers }).toEqual({ channels, answers: { listener: status, app: status } });
      }
      expect(await keys()).toEqual(stored);
    } finally {
      await second.stop();
    }
  }, 90_000);
});

describe('sample app configuration', () => {
  it('refuses to start when SESSION_SECRET is NGINX_PUSH_STREAM_SECRET', async () => {
    const app = misconfigured;
    await waitFor('the app to exit', async () => app.exited, 30_000);
    expect(app.exitCode).toBe(1);
    expect(app.output).toContain('SESSION_SECRET must differ from NGINX_PUSH_STREAM_SECRET');
    expect(app.output).not.toContain(SECRET);
  }, 40_000);
});
