import type { DemoUser } from './sample.config.js';

// What the sample keeps in express-session. `user` is the key nestjs-push-stream's auth endpoint
// reads by default (option auth.sessionUserKey).
declare module 'express-session' {
  interface SessionData {
    user?: DemoUser;
    /** Synchronizer token, checked on every POST (CsrfGuard). */
    csrfToken?: string;
    /** Page UUIDs handed to this session, newest last: a long task only reports to one of them. */
    pages?: string[];
  }
}

export {};
