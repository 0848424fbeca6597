// The chat page. No build step: a plain ES module, with the package's browser client served by the
// app from nestjs-push-stream/browser. The page only subscribes; every message is sent to the app,
// which validates it and publishes it through nginx.
import { PushStreamClient } from '/assets/push-stream/push-stream-client.js';

const $ = (id) => document.getElementById(id);
const log = $('log');

/** For people poking around in the console (and the end-to-end test): every message received. */
const sample = { boot: null, client: null, received: [], states: [], deleted: [], denied: [] };
window.sample = sample;

function showError(text) {
  $('error').textContent = text;
  $('error').hidden = !text;
}

async function post(path, body = {}) {
  const res = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', 'x-csrf-token': sample.boot.csrfToken },
    body: JSON.stringify(body),
  });
  const answer = await res.json().catch(() => ({}));
  if (!res.ok) {
    // A 429 says what was limited and when to try again (Retry-After, in seconds, says it too).
    const message = Array.isArray(answer.message) ? answer.message.join('; ') : answer.message;
    throw new Error(message || `${res.status} ${res.statusText}`);
  }
  showError('');
  return answer;
}

function addLine(kind, parts, { id, channel, at }) {
  const li = document.createElement('li');
  li.className = `msg-${kind}`;
  li.dataset.kind = kind;
  if (id) li.dataset.id = id;
  li.dataset.channel = channel;
  if (at) {
    const time = document.createElement('time');
    time.dateTime = at;
    time.textContent = new Date(at).toLocaleTimeString();
    li.append(time);
  }
  for (const [cls, text] of parts) {
    const span = document.createElement('span');
    if (cls) span.className = cls;
    span.textContent = text; // never innerHTML: messages are other people's text
    li.append(span);
  }
  const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 20;
  log.append(li);
  if (atBottom) log.scrollTop = log.scrollHeight;
}

function onProgress(data) {
  $('task-progress').value = data.percent;
  $('task-percent').textContent = `${data.percent}%`;
  if (data.done) $('long-task').disabled = false;
}

function onMessage(detail) {
  sample.received.push(detail);
  const { channel } = detail;
  let data = detail.data;
  if (typeof data === 'string') {
    try {
      data = JSON.parse(data);
    } catch {
      /* plain text */
    }
  }
  const kind = data && typeof data === 'object' && typeof data.kind === 'string' ? data.kind : detail.eventType;
  const meta = { id: data?.id ?? detail.eventId ?? detail.id, channel, at: data?.at };
  switch (kind) {
    case 'chat':
      return addLine('chat', [['from', data.from], ['text', data.text]], meta);
    case 'private':
      return addLine('private', [['from', `${data.from} → ${data.to} (private)`], ['text', data.text]], meta);
    case 'notice':
      return addLine('notice', [['from', 'Session notice'], ['text', data.text]], meta);
    case 'joined':
      return addLine('joined', [['text', `${data.name} logged in`]], meta);
    case 'room':
      return addLine('room', [['from', `#${data.room} · ${data.from}`], ['text', data.text]], meta);
    case 'progress':
      if (channel === sample.boot.channels.page) onProgress(data);
      return undefined;
    default:
      // Anything else, e.g. published with the CLI: shown as it came.
      return addLine('other', [['from', channel], ['text', JSON.stringify(data)]], meta);
  }
}

function setState(state) {
  sample.states.push(state);
  const el = $('state');
  el.textContent = state;
  el.dataset.state = state;
  el.className = `state state-${state}`;
}

function renderWhoami(boot) {
  $('whoami').textContent = boot.user
    ? boot.user.name
    : boot.displayName
      ? `${boot.displayName} (anonymous)`
      : 'a reader (your first line gives you a guest name)';
}

/**
 * "This session": a page only subscribes to its session's channel when the session existed when
 * it loaded. A reader has no session (nothing is stored for reading): it starts with the first
 * line, a log-in, or the button, and the page reloads to subscribe to it.
 */
function renderSession(boot) {
  const subscribed = Boolean(boot.channels.session);
  $('notify-session').hidden = !subscribed;
  $('start-session').hidden = subscribed;
  $('start-session').textContent = boot.session ? 'Receive my session\'s notices' : 'Start my session';
  $('session-note').textContent = subscribed
    ? ''
    : boot.session
      ? 'Your session has started: reload the page to receive its notices.'
      : 'You have no session yet: reading the chat stores nothing.';
}

function renderIdentity(boot) {
  renderWhoami(boot);
  renderSession(boot);
  $('login-form').hidden = Boolean(boot.user);
  $('logout').hidden = !boot.user;
  $('private').hidden = !boot.user;
  for (const select of [$('login-user'), $('private-to')]) {
    select.replaceChildren(
      ...boot.users.map((u) => {
        const option = document.createElement('option');
        option.value = u.id;
        option.textContent = u.name;
        return option;
      }),
    );
  }
  renderRooms(boot);
  $('server').textContent = `via ${boot.server === 'nchan' ? 'Nchan' : 'Nginx Push Stream Module'}`;
  $('channels').replaceChildren(
    ...boot.subscribe.map((name) => {
      const li = document.createElement('li');
      li.textContent = name;
      return li;
    }),
  );
  // The URL PushStreamService.subscriberUrls() gave, when the app knows nginx's public address.
  $('listen').hidden = !boot.listen;
  $('listen-stream').textContent = boot.listen ? `curl -N '${boot.listen.stream}'` : '';
}

/**
 * Rooms (`__room__<name>`): nginx lets only their logged-in members subscribe (the app's
 * RoomChannelRule). Joining reloads the page, whose one connection then includes the room.
 */
function renderRooms(boot) {
  const joined = boot.rooms.filter((r) => r.member);
  $('rooms-note').textContent = boot.user ? (joined.length ? '' : 'Join a room to read and write in it.') : 'Log in to join a room: only its members may subscribe.';
  $('room-list').replaceChildren(
    ...boot.rooms.map((room) => {
      const li = document.createElement('li');
      const name = document.createElement('span');
      name.textContent = `#${room.name}`;
      li.append(name);
      if (room.member) {
        const badge = document.createElement('span');
        badge.className = 'member';
        badge.textContent = 'member';
        li.append(badge);
      } else if (boot.user) {
        const join = document.createElement('button');
        join.type = 'button';
        join.dataset.join = room.name;
        join.textContent = 'Join';
        li.append(join);
      }
      return li;
    }),
  );
  $('room-form').hidden = joined.length === 0;
  $('room-to').replaceChildren(
    ...joined.map((room) => {
      const option = document.createElement('option');
      option.value = room.name;
      option.textContent = `#${room.name}`;
      return option;
    }),
  );
}

function wireForms() {
  $('chat-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const input = $('chat-input');
    const text = input.value.trim();
    if (!text) return;
    try {
      const message = await post('/api/messages', { text });
      input.value = '';
      if (!sample.boot.session) {
        // This first line started the session, and chose the name it is signed with.
        sample.boot.session = true;
        sample.boot.displayName = message.from;
        renderIdentity(sample.boot);
      }
    } catch (err) {
      showError(err.message);
    }
  });
  $('login-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await post('/api/login', { username: $('login-user').value });
      location.reload(); // a new session: subscribe again with its channels
    } catch (err) {
      showError(err.message);
    }
  });
  $('logout').addEventListener('click', async () => {
    try {
      sample.client?.close(); // stop receiving __authorized__ and __user__ at once
      await post('/api/logout');
      location.reload();
    } catch (err) {
      showError(err.message);
    }
  });
  $('private-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await post('/api/private', { to: $('private-to').value, text: $('private-text').value });
      $('private-text').value = '';
    } catch (err) {
      showError(err.message);
    }
  });
  $('room-list').addEventListener('click', async (event) => {
    const room = event.target instanceof HTMLElement ? event.target.dataset.join : undefined;
    if (!room) return;
    try {
      await post('/api/rooms/join', { room });
      location.reload(); // subscribe again, with the room's channel
    } catch (err) {
      showError(err.message);
    }
  });
  $('room-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await post('/api/rooms/messages', { room: $('room-to').value, text: $('room-text').value });
      $('room-text').value = '';
    } catch (err) {
      showError(err.message);
    }
  });
  $('notify-session').addEventListener('click', () => post('/api/notify-session').catch((err) => showError(err.message)));
  $('start-session').addEventListener('click', async () => {
    try {
      await post('/api/session');
      location.reload(); // subscribe again, with the session's channel
    } catch (err) {
      showError(err.message);
    }
  });
  $('long-task').addEventListener('click', async () => {
    $('long-task').disabled = true;
    onProgress({ percent: 0, done: false });
    try {
      await post('/api/tasks', { pageId: sample.boot.pageId, pageTicket: sample.boot.pageTicket });
    } catch (err) {
      $('long-task').disabled = false;
      showError(err.message);
    }
  });
}

async function start() {
  wireForms();
  const res = await fetch('/api/page', { credentials: 'same-origin', cache: 'no-store' });
  if (!res.ok) throw new Error(`GET /api/page: ${res.status}`);
  const boot = await res.json();
  sample.boot = boot;
  renderIdentity(boot);

  const client = new PushStreamClient({
    url: location.origin,
    server: boot.server,
    channels: boot.subscribe,
    backtrack: boot.backtrack,
    eventTypes: boot.eventTypes,
  });
  sample.client = client;
  client.addEventListener('message', (e) => onMessage(e.detail));
  client.addEventListener('state', (e) => setState(e.detail.state));
  // Logging out (or in) in another window ends this page's session channels: Nchan closes the
  // connection and refuses it when the client comes back; push-stream closes those channels only.
  const own = [boot.channels.session, boot.channels.user].filter(Boolean);
  client.addEventListener('denied', (e) => {
    sample.denied.push(e.detail.status);
    showError('The server refused this page\'s channels (logged out in another window?): reload the page.');
  });
  client.addEventListener('channel-deleted', (e) => {
    const channel = e.detail?.channel ?? '';
    sample.deleted.push(channel);
    showError(own.includes(channel) ? 'Your session ended in another window: reload the page.' : `Channel deleted: ${channel}`);
  });
  window.addEventListener('pagehide', () => client.close());
  client.connect();
  document.body.dataset.ready = 'true';
}

start().catch((err) => {
  setState('closed');
  showError(`Could not start: ${err.message}`);
});
