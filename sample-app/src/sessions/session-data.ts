import type { DemoUser } from '../sample.config.js';

// What the sample keeps in express-session. A session is stored only once a visitor writes (a chat
// line, a session start, a log-in: SessionsService); reading the chat stores nothing.
declare module 'express-session' {
  interface SessionData {
    /** The key nestjs-push-stream's auth endpoint reads by default (option auth.sessionUserKey). */
    user?: DemoUser;
    /** Chosen at random once, when the session is created: what this visitor's lines are signed with. */
    guestName?: string;
  }
}

export {};
