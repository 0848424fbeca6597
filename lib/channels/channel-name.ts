import { InvalidChannelNameError } from '../errors/push-stream.exception.js';
import { CHANNEL_NAME_PATTERN, RESERVED_CHANNEL_NAMES } from '../shared/push-stream-protocol.js';

// The alphabet is shared with the browser client (lib/shared); see there for why it is so narrow.
export { CHANNEL_NAME_PATTERN } from '../shared/push-stream-protocol.js';

/** A channel kind, the part between `__` markers: `room` in `my-app__room__42`. */
export const CHANNEL_KIND_PATTERN = /^[a-z][a-z0-9-]*$/;

/** A random version 4 UUID, lower or upper case, as crypto.randomUUID() makes. */
export const UUID_V4_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/** Throws InvalidChannelNameError unless `name` is safe to put in a URL for either server. */
export function assertValidChannelName(name: unknown, maxLength: number): asserts name is string {
  if (typeof name !== 'string') {
    throw new InvalidChannelNameError(String(name), `must be a string, got ${typeof name}`);
  }
  if (name.length === 0) throw new InvalidChannelNameError(name, 'is empty');
  if (name.length > maxLength) throw new InvalidChannelNameError(name, `is longer than ${maxLength} characters`);
  if (!CHANNEL_NAME_PATTERN.test(name)) {
    throw new InvalidChannelNameError(name, 'may only contain letters, digits, "_" and "-"');
  }
  // push-stream reserves ALL for its statistics of every channel.
  if (RESERVED_CHANNEL_NAMES.includes(name)) throw new InvalidChannelNameError(name, `${name} is reserved by the Push Stream Module`);
}
