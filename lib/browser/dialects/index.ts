import type { BrowserServerDialect, PushStreamServerKind } from './browser-server-dialect.js';
import { NchanBrowserDialect } from './nchan.dialect.js';
import { PushStreamBrowserDialect } from './push-stream.dialect.js';

/** The only place that maps a server kind to its dialect. Dialects are stateless: one each. */
const DIALECTS: Readonly<Record<PushStreamServerKind, BrowserServerDialect>> = {
  nchan: new NchanBrowserDialect(),
  'push-stream': new PushStreamBrowserDialect(),
};

/** The dialect of `server`; a TypeError for anything else (the option comes from plain JS too). */
export function browserDialect(server: unknown): BrowserServerDialect {
  if (typeof server === 'string' && Object.prototype.hasOwnProperty.call(DIALECTS, server)) {
    return DIALECTS[server as PushStreamServerKind];
  }
  const known = Object.keys(DIALECTS).map((k) => `'${k}'`).join(' or ');
  throw new TypeError(`PushStreamClient: server must be ${known}, got ${String(server)}`);
}

export type { BrowserServerDialect, PushStreamServerKind } from './browser-server-dialect.js';
