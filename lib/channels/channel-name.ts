import { InvalidChannelNameError } from '../errors/push-stream.exception.js';

/**
 * The only characters a channel id may have. Both servers percent-decode and split ids
 * (push-stream on "/", Nchan on its delimiter), and neither JSON-escapes names, so anything
 * else could publish to, or subscribe to, a channel the caller did not name.
 */
export const CHANNEL_NAME_PATTERN = /^[A-Za-z0-9_-]+$/;

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
  if (name === 'ALL') throw new InvalidChannelNameError(name, 'ALL is reserved by the Push Stream Module');
}
