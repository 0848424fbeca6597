import { PushStreamProtocolError } from '../errors/push-stream.exception.js';
import type { DialectRequest, ServerOperation } from './push-stream-dialect.interface.js';

/**
 * The channel argument of a request the dialects built (`<publisher>?id=a/b`), as written, or
 * null when there is none (the stats location). Read raw rather than with URLSearchParams: the
 * builders do not escape it, and Nchan's delimiter may be any character outside the alphabet.
 */
function channelIdArgument(url: string): string | null {
  const at = url.indexOf('?id=');
  return at === -1 ? null : url.slice(at + '?id='.length);
}

/**
 * What the shipped publisher location reads alike on both servers, from the method and `?id=`:
 * stats, channel info and delete; for a publish, the channel argument (`publishTo`), whose body
 * only the server's own dialect can read.
 */
export function decodeLocationRequest(req: DialectRequest): ServerOperation | { publishTo: string } {
  const id = channelIdArgument(req.url);
  if (id === null) {
    if (req.method === 'GET') return { op: 'stats' };
    throw new PushStreamProtocolError('decode request', `${req.method} without ?id=`);
  }
  if (req.method === 'GET') return { op: 'info', channel: id };
  if (req.method === 'DELETE') return { op: 'delete', channel: id };
  return { publishTo: id };
}
