import {
  CHANNEL_NAME_ALPHABET,
  CHANNEL_NAME_PATTERN,
  DEFAULT_MAX_CHANNEL_NAME_LENGTH,
  DEFAULT_MAX_CHANNELS_PER_SUBSCRIPTION,
  MAX_CHANNELS_PER_REQUEST,
  RESERVED_CHANNEL_NAMES,
} from '../shared/push-stream-protocol.js';
import type { BrowserServerDialect } from './dialects/browser-server-dialect.js';

/** The application's limits, as the module options the auth endpoint enforces. */
export interface ChannelSetLimits {
  /** auth.maxChannelsPerRequest. Default 16, at most 255. */
  maxChannels?: number;
  /** maxChannelNameLength. Default 128. */
  maxChannelNameLength?: number;
}

/** A name safe and short enough for an error message. */
function describe(name: unknown): string {
  const text = JSON.stringify(name) ?? String(name);
  return text.length > 60 ? `${text.slice(0, 57)}…"` : text;
}

function limit(name: keyof ChannelSetLimits, value: number | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new RangeError(`PushStreamClient: ${name} must be a whole number from 1 to ${max}, got ${String(value)}`);
  }
  return value;
}

/**
 * The de-duplicated channels of a subscription, or an error before any request is made for a set
 * that would only be refused later, with a 403 from the auth endpoint or from nginx after the
 * application approved it: a name outside the alphabet or reserved (TypeError), more channels or
 * a longer name than the application allows, or a set over the server's own limit (RangeError).
 */
export function subscribableChannels(channels: unknown, dialect: BrowserServerDialect, limits: ChannelSetLimits = {}): string[] {
  if (!Array.isArray(channels) || channels.length === 0) {
    throw new TypeError('PushStreamClient: channels must be a non-empty array');
  }
  const maxChannels = limit('maxChannels', limits.maxChannels, DEFAULT_MAX_CHANNELS_PER_SUBSCRIPTION, MAX_CHANNELS_PER_REQUEST);
  const maxLength = limit('maxChannelNameLength', limits.maxChannelNameLength, DEFAULT_MAX_CHANNEL_NAME_LENGTH, Number.MAX_SAFE_INTEGER);
  for (const c of channels as unknown[]) {
    if (typeof c !== 'string' || !CHANNEL_NAME_PATTERN.test(c)) {
      throw new TypeError(`PushStreamClient: invalid channel name ${describe(c)} (allowed: ${CHANNEL_NAME_ALPHABET})`);
    }
    if (RESERVED_CHANNEL_NAMES.includes(c)) {
      throw new TypeError(`PushStreamClient: channel name ${describe(c)} is reserved by the servers`);
    }
    if (c.length > maxLength) {
      throw new RangeError(
        `PushStreamClient: channel ${describe(c)} has ${c.length} characters, more than maxChannelNameLength (${maxLength}): ` +
          'the auth endpoint would refuse it',
      );
    }
  }
  const unique = [...new Set(channels as string[])];
  if (unique.length > maxChannels) {
    throw new RangeError(
      `PushStreamClient: ${unique.length} channels, more than maxChannels (${maxChannels}): the auth endpoint refuses ` +
        'more than its auth.maxChannelsPerRequest in one subscription',
    );
  }
  dialect.assertSubscribable(unique);
  return unique;
}
