import type { ExpressSessionReaderOptions } from './express-session-reader.js';
import type { PushStreamSessionReader } from './push-stream-session-reader.js';

export interface PushStreamAuthListenerOptions {
  /** Port of the listener; nginx's `--auth-app` (AUTH_SERVERS) points at it. 0 picks a free one (see `PushStreamAuthListener.address()`). */
  port: number;
  /** Address to listen on. Default `127.0.0.1`: only nginx asks, never the public. */
  host?: string;
  /** The path nginx's auth location proxies to. Default `/push-stream/auth`, as the shipped configs. */
  path?: string;
  /**
   * Where sessions come from: express-session's store, secret and cookie name (read by
   * ExpressSessionReader), or a PushStreamSessionReader of your own.
   */
  session: ExpressSessionReaderOptions | PushStreamSessionReader;
}
