// The sample chat (sample-app/, built with tsc and run as a child process) behind a real nginx,
// driven by Debian's chromium through playwright-core: two browser contexts are two visitors.
// Runs on every server of SERVERS: Nchan and the Push Stream Module.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { findFreePort, isListening, NginxTestServer } from '../../lib/testing/index.js';
import { ensureBuilt, REPO_ROOT, runNode } from '../support/build.js';
import { SERVERS } from '../support/servers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// Every run saves its picture under test-results/; UPDATE_SCREENSHOT=1 refreshes the README's one.
const SCREENSHOT_DIR = process.env.UPDATE_SCREENSHOT === '1' ? join(REPO_ROOT, 'docs') : join(REPO_ROOT, 'test-results');
const SCREENSHOT = join(SCREENSHOT_DIR, 'screenshot.png');
const SECRET = 'sample-e2e-secret-0123456789';
const WAIT = 15_000;

/** What the page exposes as `window.sample` (sample-app/public/app.js). */
interface Received {
  channel: string;
  data: { kind?: string; id?: string; text?: string; percent?: number } | string;
  eventId?: string;
  eventType?: string;
}
interface Boot {
  pageId: string;
  csrfToken: string;
  subscribe: string[];
  channels: { all: string; session: string; page: string; authorized?: string; user?: string };
  user: { id: string; name: string } | null;
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

beforeAll(async () => {
  await ensureBuilt();
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const build = await runNode([tsc, '-p', join(REPO_ROOT, 'sample-app', 'tsconfig.json')], { boundMs: 120_000 });
  if (build.code !== 0) throw new Error(`sample-app build failed:\n${build.stdout}${build.stderr}`);
}, 240_000);

describe.each(SERVERS)('sample chat in chromium, on %s', (server) => {
  let nginx: NginxTestServer;
  let app: SampleApp;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];
  let run = 0;
  let appPort: number;

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

  beforeAll(async () => {
    appPort = await findFreePort();
    nginx = await NginxTestServer.start({ server, appUpstream: `127.0.0.1:${appPort}` });
    app = SampleApp.start({
      HOST: '127.0.0.1',
      PORT: String(appPort),
      NGINX_PUSH_STREAM_SERVER: server,
      NGINX_PUSH_STREAM_PUB_URL: nginx.publisherUrl,
      NGINX_PUSH_STREAM_SECRET: SECRET,
      DEMO_USERS: 'alice,bob,carol',
      TASK_DURATION_MS: '2000',
    });
    await waitFor('app answering through nginx', async () => !app.exited && (await fetch(`${nginx.baseUrl}/api/health`)).ok, 30_000).catch(
      (err: Error) => {
        throw new Error(`${err.message}\n--- app output ---\n${app.output}`);
      },
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  }, 60_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await app?.stop();
    await nginx?.dispose();
  }, 30_000);

  afterEach(() => {
    // An exception in the page is a failure even when the assertions passed.
    expect(pageErrors.splice(0)).toEqual([]);
  });

  // Shared by the tests below, in order: two visitors, A and B.
  let a: { context: BrowserContext; page: Page };
  let b: { context: BrowserContext; page: Page };

  it('a line typed in one window appears in the other', async () => {
    a = await visitor();
    b = await visitor();
    const text = `hello from A ${Date.now()}`;
    await say(a.page, text);
    await shows(b.page, text);
    await shows(a.page, text);
    // Published by the app: signed with A's guest name, which B did not choose.
    const line = (await logTexts(b.page)).find((t) => t.includes(text));
    expect(line).toContain((await boot(a.page)).channels.session.slice(-32, -26));
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
    // Another session cannot drive A's bar: the page id was not issued to it.
    const pageId = (await boot(a.page)).pageId;
    const status = await b.page.evaluate(async (id) => {
      const token = (window as unknown as { sample: { boot: { csrfToken: string } } }).sample.boot.csrfToken;
      const res = await fetch('/api/tasks', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': token }, body: JSON.stringify({ pageId: id }) });
      return res.status;
    }, pageId);
    expect(status).toBe(403);
    await a2.close();
  }, 60_000);

  it('logged-in users get "who joined" and private messages; anonymous and logged-out pages never get __authorized__', async () => {
    // C logs in as bob, then logs out: its page is anonymous again.
    const c = await visitor();
    await login(c.page, 'bob');
    await Promise.all([c.page.waitForEvent('load'), c.page.click('#logout')]);
    await connected(c.page);
    const cBoot = await boot(c.page);
    expect(cBoot.user).toBeNull();
    expect(cBoot.subscribe).not.toContain('my-app__authorized__');

    // D is carol, logged in: she sees who joins.
    const d = await visitor();
    await login(d.page, 'carol');
    expect((await boot(d.page)).subscribe).toEqual(expect.arrayContaining(['my-app__authorized__', 'my-app__user__carol']));

    // A logs in as alice: a "joined" notice on __authorized__.
    await login(a.page, 'alice');
    await shows(d.page, 'Alice logged in');

    // Alice writes to carol only.
    await a.page.selectOption('#private-to', 'carol');
    await a.page.fill('#private-text', 'for carol only');
    await a.page.click('#private-form button[type=submit]');
    await shows(d.page, 'for carol only');

    await barrier(a.page, [b.page, c.page, d.page]);
    for (const p of [b.page, c.page]) {
      const msgs = await received(p);
      expect(msgs.filter((m) => m.channel === 'my-app__authorized__' || m.channel.startsWith('my-app__user__'))).toEqual([]);
      expect((await logTexts(p)).some((t) => t.includes('logged in') || t.includes('for carol only'))).toBe(false);
    }
    // nginx refuses the logged-out page if it asks for __authorized__ itself.
    const status = await c.page.evaluate(async () => {
      const ctl = new AbortController();
      const res = await fetch('/sub/my-app__authorized__', { signal: ctl.signal });
      ctl.abort();
      return res.status;
    });
    expect(status).toBe(403);
  }, 90_000);

  it('keeps receiving across an nginx reload, without a lost or doubled message', async () => {
    const tag = `reload-${Date.now()}`;
    const total = 30;
    // Sent straight to the app (not through the nginx being reloaded), one at a time: each is
    // published exactly once, so a missing or doubled line can only come from the delivery.
    const cookies = (await a.context.cookies(nginx.baseUrl)).map((c) => `${c.name}=${c.value}`).join('; ');
    const token = (await boot(a.page)).csrfToken;
    const sendOne = async (i: number) => {
      const res = await fetch(`http://127.0.0.1:${appPort}/api/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': token, cookie: cookies },
        body: JSON.stringify({ text: `${tag} #${i}` }),
      });
      expect(res.status).toBe(201);
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
});


// docker-compose.yml keeps sessions in Redis (connect-redis): the same app, run with REDIS_URL.
describe('sample app with REDIS_URL (sessions in Redis, as in Docker)', () => {
  let redis: ChildProcess;
  let redisPort: number;

  beforeAll(async () => {
    // npm's pretest installs redis-server: a missing one is a failure, not a silent skip.
    if (spawnSync('redis-server', ['--version']).status !== 0) throw new Error('redis-server is missing: run npm test (its pretest installs it)');
    redisPort = await findFreePort();
    redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await waitFor('redis listening', () => isListening(redisPort));
  }, 30_000);

  afterAll(async () => {
    redis?.kill('SIGTERM');
  });

  it('keeps a logged-in session across an app restart', async () => {
    const appPort = await findFreePort();
    const env = {
      HOST: '127.0.0.1',
      PORT: String(appPort),
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      SESSION_SECRET: 'redis-e2e-session-secret-0123456789',
      NGINX_PUSH_STREAM_SERVER: 'nchan',
      // No nginx here: the "who joined" notice fails, quickly, and must not fail the login.
      NGINX_PUSH_STREAM_PUB_URL: `http://127.0.0.1:${await findFreePort()}/pub`,
      NGINX_PUSH_STREAM_RETRY_ATTEMPTS: '1',
      NGINX_PUSH_STREAM_SECRET: SECRET,
    };
    const base = `http://127.0.0.1:${appPort}`;
    const started = async (app: SampleApp) =>
      waitFor('app up', async () => !app.exited && (await fetch(`${base}/api/health`)).ok, 30_000).catch((err: Error) => {
        throw new Error(`${err.message}\n${app.output}`);
      });

    const first = SampleApp.start(env);
    await started(first);
    expect(first.output).toContain(`sessions in Redis at redis://127.0.0.1:${redisPort}`);
    const page = await fetch(`${base}/api/page`);
    const cookie = page.headers.get('set-cookie')!.split(';')[0];
    const { csrfToken } = (await page.json()) as Boot;
    const login = await fetch(`${base}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken, cookie },
      body: JSON.stringify({ username: 'bob' }),
    });
    expect(login.status).toBe(200);
    const loggedIn = login.headers.get('set-cookie')!.split(';')[0]; // regenerated on login
    expect(loggedIn).not.toBe(cookie);
    await first.stop();

    const second = SampleApp.start(env);
    try {
      await started(second);
      const again = (await (await fetch(`${base}/api/page`, { headers: { cookie: loggedIn } })).json()) as Boot;
      expect(again.user).toEqual({ id: 'bob', name: 'Bob' });
      expect(again.subscribe).toContain('my-app__user__bob');
      // The session from before the login is gone (regenerated), not logged in.
      const old = (await (await fetch(`${base}/api/page`, { headers: { cookie } })).json()) as Boot;
      expect(old.user).toBeNull();
    } finally {
      await second.stop();
    }
  }, 90_000);
});
