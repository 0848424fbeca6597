// Messages out of order under concurrent publishes (the fault suite's "eight publishes at once").
// The Push Stream Module with 2 workers (the shipped `worker_processes auto` on 2 cores) numbers a
// channel's messages under one lock but delivers them through each worker's queue: publishes that
// arrive at once on different workers (a publisher's pool of keep-alive connections) may reach a
// subscriber as 6 before 5. The browser client (lib/browser/resume-tracker.ts) delivers the late
// one, announces no gap for it, and still drops repeats. Nchan (1 worker, as shipped) is the
// control: it never reorders.
//
// Several real clients (lib/browser/push-stream-client.ts run in Node, test/support/
// node-browser-clients.ts) on WebSocket and long polling; BURSTS bursts of BURST publishes at once
// with event ids through PushStreamService on an undici pool of BURST connections. Asserted: every
// client got every message exactly once, and no `gap`. Printed: how often the server sent a
// WebSocket connection's messages out of order (`wireOutOfOrder`), and how often a client
// delivered a message numbered below one it had delivered before (`deliveredLate`). Nchan's long
// polling loses messages under bursts (see the test): there only the announcement is asserted.
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { PushStreamModule, PushStreamService } from '../../lib/index.js';
import type { PushStreamServerKind } from '../../lib/options/push-stream-options.interface.js';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NGINX_CONFIG_DIR, NginxTestServer } from '../../lib/testing/index.js';
import { REORDER_WAIT_MS } from '../../lib/browser/resume-tracker.js';
import { parseNchanMessageId } from '../../lib/browser/dialects/nchan.dialect.js';
import { arrivalOrder } from '../support/arrival-order.js';
import { AuthStubServer } from '../support/auth-stub-server.js';
import { E2E_SECRET, eventually, uniqueChannel } from '../support/e2e-helpers.js';
import { lostAndDoubled, NodeBrowserGlobals, RecordedClient } from '../support/node-browser-clients.js';
import { SERVERS } from '../support/servers.js';

const PREFIX = 'reorder';
/** REORDER_BURSTS=<n> for a longer measurement. */
const BURSTS = Number(process.env.REORDER_BURSTS ?? 20);
const BURST = 8;
const TRANSPORTS = ['websocket', 'websocket', 'websocket', 'websocket', 'longpolling', 'longpolling'] as const;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A message id as a number that grows within a channel (push-stream `~id~`; Nchan time and tag). */
function idOrder(server: PushStreamServerKind, id: string): number | null {
  if (server === 'push-stream') return /^\d+$/.test(id) ? Number(id) : null;
  const parsed = parseNchanMessageId(id);
  return parsed ? parsed.time * 1e6 + (parsed.tags[parsed.active] ?? 0) : null;
}

/** The id of a WebSocket frame (push-stream: the template's `id`; Nchan: the ws+meta `id:` line), or null for pings and notices. */
function frameId(server: PushStreamServerKind, frame: string): string | null {
  if (server === 'push-stream') {
    try {
      const id = (JSON.parse(frame) as { id?: unknown }).id;
      return typeof id === 'number' && id > 0 ? String(id) : null;
    } catch {
      return null;
    }
  }
  return /^id: (\S+)/.exec(frame)?.[1] ?? null;
}

/** Among `ids` in arrival order: how many came after a higher one (out of order), and how many twice. */
function orderOf(server: PushStreamServerKind, ids: readonly string[]): { outOfOrder: number; repeated: number } {
  return arrivalOrder(ids.map((id) => idOrder(server, id)));
}

describe.each(SERVERS)('%s: bursts of concurrent publishes on pooled keep-alive connections', (server) => {
  // The Push Stream Module with 2 workers (what `auto` gives on 2 cores); Nchan as shipped, 1.
  const workers = server === 'push-stream' ? 2 : 1;
  let app: AuthStubServer;
  let nginx: NginxTestServer;
  let context: INestApplicationContext;
  let service: PushStreamService;
  let globals: NodeBrowserGlobals;
  let configDir: string | undefined;
  const clients: RecordedClient[] = [];

  beforeAll(async () => {
    app = await AuthStubServer.start();
    if (server === 'push-stream') {
      // `reuseport` on both listeners: the kernel spreads connections over the two workers. Without
      // it (the shipped config) one worker took nearly all of them here (13 of 14 subscribers, 7 of
      // 8 publisher connections), and publishes on two workers at once are what reorders.
      configDir = await mkdtemp(join(tmpdir(), 'reorder-e2e-config-'));
      await cp(NGINX_CONFIG_DIR, configDir, { recursive: true });
      const file = join(configDir, 'push-stream.conf.template');
      const shipped = await readFile(file, 'utf8');
      const edited = shipped
        .replace('listen ${NGINX_LISTEN};', 'listen ${NGINX_LISTEN} reuseport;')
        .replace('listen ${NGINX_PUB_LISTEN};', 'listen ${NGINX_PUB_LISTEN} reuseport;');
      if (!edited.includes('${NGINX_LISTEN} reuseport;') || !edited.includes('${NGINX_PUB_LISTEN} reuseport;')) throw new Error(`${file}: listen directives not found`);
      await writeFile(file, edited);
    }
    nginx = await NginxTestServer.start({ server, appUpstream: app.upstream, workers, configDir });
    context = await NestFactory.createApplicationContext(
      PushStreamModule.forRoot({
        server,
        publisherUrl: nginx.publisherUrl,
        statsUrl: nginx.statsUrl,
        prefix: PREFIX,
        secret: E2E_SECRET,
        authRoute: false,
        // One keep-alive connection per publish of a burst: they land on both workers.
        undici: { connections: BURST },
      }),
      { logger: false, abortOnError: false },
    );
    service = context.get(PushStreamService);
    globals = new NodeBrowserGlobals({ addressPrefix: '127.26.0', addressCount: 10, keepFrames: true });
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await globals?.restore();
    await context?.close();
    await nginx?.dispose();
    await app?.close();
    if (configDir) await rm(configDir, { recursive: true, force: true });
  });

  it(`${BURSTS} bursts of ${BURST} publishes at once: every client gets each message once, and no gap`, async () => {
    const channel = uniqueChannel(PREFIX, 'burst');
    for (const transport of TRANSPORTS) {
      const c = new RecordedClient({ url: nginx.baseUrl, server, channels: [channel], transports: [transport] });
      clients.push(c);
      c.connect();
    }
    await eventually('every client subscribed', async () => (await service.channelInfo(channel))?.subscribers === clients.length, 10_000);
    // A first message, so that every client (long polling included) is open and has a position.
    await service.publish(channel, { warmup: true }, { eventId: 'warmup' });
    await eventually('every client has the first message', async () => clients.every((c) => c.messages.length >= 1), 10_000);

    const sent: string[] = [];
    for (let b = 0; b < BURSTS; b++) {
      const ids = Array.from({ length: BURST }, (_, k) => `r-${b}-${k}`);
      await Promise.all(ids.map((id) => service.publish(channel, { id }, { eventId: id })));
      sent.push(...ids);
      await sleep(50);
    }
    await service.publish(channel, { marker: true }, { eventId: 'marker' });
    await eventually('every client has the marker', async () => clients.every((c) => c.messages.some((m) => m.eventId === 'marker')), 10_000);
    // Past the wait after which a number still missing would be announced.
    await sleep(REORDER_WAIT_MS + 500);

    const streams = clients.filter((_, i) => TRANSPORTS[i] === 'websocket');
    const polls = clients.filter((_, i) => TRANSPORTS[i] === 'longpolling');
    const ws = lostAndDoubled(streams, () => sent);
    const lp = lostAndDoubled(polls, () => sent);
    const wire = globals.frames.map((frames) => orderOf(server, frames.map((f) => frameId(server, f)).filter((id): id is string => id !== null)));
    const delivered = clients.map((c) => orderOf(server, c.messages.map((m) => m.id)));
    const gapsOf = (cs: RecordedClient[]) => cs.flatMap((c) => c.gaps);
    const summary = {
      server,
      workers,
      clients: `${streams.length} websocket, ${polls.length} longpolling`,
      published: sent.length,
      websocket: { lost: ws.lost, doubled: ws.doubled, gaps: gapsOf(streams).length },
      longpolling: { lost: lp.lost, lostBy: lp.lostBy, doubled: lp.doubled, gaps: gapsOf(polls).length, missedAnnounced: gapsOf(polls).reduce((n, g) => n + (g.missed ?? 0), 0) },
      wireOutOfOrder: wire.reduce((n, w) => n + w.outOfOrder, 0),
      wireOutOfOrderConnections: `${wire.filter((w) => w.outOfOrder > 0).length}/${wire.length}`,
      wireRepeated: wire.reduce((n, w) => n + w.repeated, 0),
      deliveredLate: delivered.map((d) => d.outOfOrder),
      deliveredTwice: delivered.reduce((n, d) => n + d.repeated, 0),
      errors: clients.flatMap((c) => c.errors).slice(0, 5),
    };
    console.log(`reorder ${server}: ${JSON.stringify(summary)}`);
    expect(summary).toMatchObject({ websocket: { lost: 0, doubled: 0, gaps: 0 }, deliveredTwice: 0 });
    expect(gapsOf(streams)).toEqual([]);
    if (server === 'push-stream') {
      expect(summary).toMatchObject({ longpolling: { lost: 0, doubled: 0, gaps: 0 } });
    } else {
      // The control: Nchan with one worker keeps a channel's messages in order.
      expect(summary).toMatchObject({ wireOutOfOrder: 0, longpolling: { doubled: 0 } });
      // Nchan 1.3.6 long polling under bursts (not an ordering matter): a poll that arrives while
      // publishes are under way waits, and is answered with a later message, skipping the ones
      // published meanwhile (?last_event_id= is honoured when they are stored: seen in a probe).
      // The client announces each such loss with a certain gap (its counts are lower bounds: a skip
      // to the first message of a later second shows no count, see nchan.dialect.ts).
      polls.forEach((c, i) => {
        const announced = c.gaps.some((g) => g.certain);
        expect({ client: i, lost: lp.lostBy[i], announced: announced || lp.lostBy[i] === 0 }).toEqual({ client: i, lost: lp.lostBy[i], announced: true });
      });
    }
  }, 60_000 + BURSTS * 200);
});
