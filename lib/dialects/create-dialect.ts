import type { PushStreamServerKind } from '../options/push-stream-options.interface.js';
import { NchanDialect } from './nchan.dialect.js';
import type { PushStreamDialect } from './push-stream-dialect.interface.js';
import { PushStreamModuleDialect } from './push-stream.dialect.js';

/** The one place that maps a server kind to its dialect; everything else asks the dialect. */
const DIALECTS: Readonly<Record<PushStreamServerKind, (channelDelimiter: string) => PushStreamDialect>> = {
  'push-stream': (channelDelimiter) => new PushStreamModuleDialect(channelDelimiter),
  nchan: (channelDelimiter) => new NchanDialect(channelDelimiter),
};

/** Every server kind, in the order error messages list them. */
export const SERVER_KINDS = Object.keys(DIALECTS) as readonly PushStreamServerKind[];

export function isServerKind(value: unknown): value is PushStreamServerKind {
  return typeof value === 'string' && Object.hasOwn(DIALECTS, value);
}

/** The kinds for an error message: `"push-stream" or "nchan"`. */
export function describeServerKinds(): string {
  return SERVER_KINDS.map((k) => JSON.stringify(k)).join(' or ');
}

/**
 * The dialect of `server` with nginx splitting channel ids on `channelDelimiter`. A dialect
 * refuses a delimiter its server cannot use with a PushStreamConfigError.
 */
export function createDialect(server: PushStreamServerKind, channelDelimiter = '/'): PushStreamDialect {
  if (!isServerKind(server)) throw new TypeError(`server must be ${describeServerKinds()}, got ${JSON.stringify(server)}`);
  return DIALECTS[server](channelDelimiter);
}
