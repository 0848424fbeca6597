import type { PushStreamDialect } from '../dialects/push-stream-dialect.interface.js';
import { CHANNEL_NAME_PATTERN, MAX_CHANNELS_PER_REQUEST, RESERVED_CHANNEL_NAMES } from '../shared/push-stream-protocol.js';

/** Nchan refuses to multiplex more channels than this in one subscriber; push-stream gets the same limit. */
export const MAX_SUBSCRIBER_CHANNELS = MAX_CHANNELS_PER_REQUEST;

export interface SubscriberChannelPolicy {
  /** Longest channel id accepted (the module option maxChannelNameLength). */
  maxChannelNameLength: number;
  /** Id prefixes the server treats as wildcard channels; an id under one is refused unless `hasRule(id)`. */
  wildcardPrefixes: readonly string[];
  /** Whether a rule answers for this id; consulted only for ids under a wildcard prefix. */
  hasRule(id: string): boolean;
  /** Most channels in one request. Default MAX_SUBSCRIBER_CHANNELS. */
  maxChannels?: number;
}

export type SubscriberChannelsResult = { ok: true; ids: string[] } | { ok: false; reason: string };

function deny(reason: string): SubscriberChannelsResult {
  return { ok: false, reason };
}

/**
 * The channel ids of one subscription, from the value nginx gives the module, or a refusal.
 * The dialect splits the value exactly as its server does; every id must then be a plain name
 * of the safe alphabet, so anything the server could read differently from us is refused:
 * `%` (a second decoding), `*` and `ALL` (wildcards and push-stream's "every channel"),
 * empty ids (a stray delimiter) and characters outside `[A-Za-z0-9_-]`.
 */
export function parseSubscriberChannelIds(
  raw: unknown,
  dialect: Pick<PushStreamDialect, 'parseSubscriberChannels'>,
  policy: SubscriberChannelPolicy,
): SubscriberChannelsResult {
  // An absent header, or one sent twice (Node joins repeats into one string or an array), is malformed.
  if (typeof raw !== 'string') return deny('channels header is missing or repeated');
  if (raw === '') return deny('no channel named');
  const maxChannels = policy.maxChannels ?? MAX_SUBSCRIBER_CHANNELS;
  // Bound the work before splitting: every id is at most maxChannelNameLength plus a suffix and delimiter.
  if (raw.length > maxChannels * (policy.maxChannelNameLength + 16)) return deny('channels header is too long');

  let ids: string[] | null;
  try {
    ids = dialect.parseSubscriberChannels(raw);
  } catch {
    ids = null;
  }
  if (ids === null) return deny('channels header is malformed');
  if (ids.length === 0) return deny('no channel named');
  if (ids.length > maxChannels) return deny(`more than ${maxChannels} channels`);

  for (const id of ids) {
    const problem = idProblem(id, policy);
    if (problem) return deny(`channel ${describeId(id)} ${problem}`);
  }
  return { ok: true, ids };
}

function idProblem(id: string, policy: SubscriberChannelPolicy): string | null {
  if (id === '') return 'is empty';
  if (id.includes('%')) return 'is still percent-encoded';
  if (id.includes('*')) return 'is a wildcard';
  if (RESERVED_CHANNEL_NAMES.includes(id)) return 'is reserved';
  if (id.length > policy.maxChannelNameLength) return 'is too long';
  if (!CHANNEL_NAME_PATTERN.test(id)) return 'has characters outside [A-Za-z0-9_-]';
  if (policy.wildcardPrefixes.some((p) => id.startsWith(p)) && !policy.hasRule(id)) {
    return 'is under a wildcard prefix with no rule';
  }
  return null;
}

/** A channel id safe to put in a log line: quoted, escaped, truncated. */
export function describeId(id: string): string {
  return JSON.stringify(id.length > 80 ? `${id.slice(0, 80)}…` : id);
}
