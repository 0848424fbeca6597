import type { PublishOptions } from '../dialects/push-stream-result.interface.js';
import { PushStreamRecorder, type RecordedPublish } from './push-stream-recorder.js';

/**
 * The parts of Jest's matcher context (`this` in a matcher) these matchers use. Structural, so that
 * the package needs no Jest types at run time or to compile.
 */
export interface PushStreamMatcherContext {
  equals(a: unknown, b: unknown): boolean;
  utils: { printExpected(value: unknown): string; printReceived(value: unknown): string };
}

export interface PushStreamMatcherResult {
  pass: boolean;
  message: () => string;
}

/** The matchers `expect.extend(pushStreamMatchers)` adds, for a PushStreamRecorder. */
export interface PushStreamMatchers<R> {
  /**
   * The recorder holds a publish to `channel` (any channel when omitted) whose data equals `data`
   * (any data when omitted; asymmetric matchers such as `expect.objectContaining` work), with the
   * event id and type of `event` when given. `.not.toHavePublished()`: nothing was published.
   */
  toHavePublished(channel?: string, data?: unknown, event?: PublishOptions): R;
}

declare global {
  // Jest's global `expect` (@types/jest) gains the matchers once pushStreamMatchers is imported.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace jest {
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type, @typescript-eslint/no-unused-vars
    interface Matchers<R, T = {}> extends PushStreamMatchers<R> {}
  }
}

const MAX_LISTED = 10;

function describePublish(p: RecordedPublish): string {
  const data = JSON.stringify(p.data) ?? String(p.data);
  const event = [p.eventId === undefined ? '' : ` eventId ${p.eventId}`, p.eventType === undefined ? '' : ` eventType ${p.eventType}`].join('');
  return `  ${p.channel}: ${data.length > 200 ? `${data.slice(0, 200)}…` : data}${event}`;
}

function toHavePublished(
  this: PushStreamMatcherContext,
  received: unknown,
  channel?: string,
  data?: unknown,
  event: PublishOptions = {},
): PushStreamMatcherResult {
  if (!(received instanceof PushStreamRecorder)) {
    throw new TypeError(`toHavePublished: expected a PushStreamRecorder, got ${this.utils.printReceived(received)}`);
  }
  const matches = (p: RecordedPublish): boolean =>
    (channel === undefined || p.channel === channel) &&
    (data === undefined || this.equals(p.data, data)) &&
    (event.eventId === undefined || this.equals(p.eventId, event.eventId)) &&
    (event.eventType === undefined || this.equals(p.eventType, event.eventType));
  const publishes = received.publishes;
  const pass = publishes.some(matches);

  const wanted = [
    channel === undefined ? 'publish' : `publish to ${this.utils.printExpected(channel)}`,
    data === undefined ? '' : ` with data ${this.utils.printExpected(data)}`,
    event.eventId === undefined ? '' : ` with eventId ${this.utils.printExpected(event.eventId)}`,
    event.eventType === undefined ? '' : ` with eventType ${this.utils.printExpected(event.eventType)}`,
  ].join('');
  // A failing .not lists what matched; a failing positive lists everything that was published.
  const listed = pass ? publishes.filter(matches) : publishes;
  const list =
    listed.length === 0
      ? 'Nothing was published.'
      : [
          pass ? 'Matching publishes:' : 'Published:',
          ...listed.slice(0, MAX_LISTED).map(describePublish),
          ...(listed.length > MAX_LISTED ? [`  … and ${listed.length - MAX_LISTED} more`] : []),
        ].join('\n');
  return {
    pass,
    message: () => `Expected ${pass ? 'no' : 'a'} ${wanted}.\n\n${list}`,
  };
}

/**
 * Jest matchers for PushStreamRecorder. Once, in a test file or a setup file:
 *
 *   expect.extend(pushStreamMatchers);
 *   expect(recorder).toHavePublished('my-app__room__42', { text: 'hi' });
 *
 * With `@jest/globals` instead of @types/jest, add the types yourself:
 * `declare module 'expect' { interface Matchers<R extends void | Promise<void>, T = unknown> extends PushStreamMatchers<R> {} }`.
 */
export const pushStreamMatchers = { toHavePublished };
