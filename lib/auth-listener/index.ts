// Entry point `nestjs-push-stream/auth-listener`, exported by name: nginx's auth subrequests
// answered outside Express (opt-in; the auth endpoint stays the default).
export { PushStreamAuthListenerModule } from './push-stream-auth-listener.module.js';
export { PushStreamAuthListener } from './push-stream-auth-listener.js';
export { PushStreamSessionReader, type ReadSession } from './push-stream-session-reader.js';
export { ExpressSessionReader, type ExpressSessionReaderOptions, type SessionStoreLike } from './express-session-reader.js';
export type { PushStreamAuthListenerOptions } from './push-stream-auth-listener-options.interface.js';
