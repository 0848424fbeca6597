// expect(recorder).toHavePublished(...): what passes, what fails, and what a failure says.
import 'reflect-metadata';
import { Test, type TestingModule } from '@nestjs/testing';
import { PushStreamService } from '../../../lib/index.js';
import { pushStreamMatchers, PushStreamRecorder, PushStreamTestingModule } from '../../../lib/testing/index.js';

expect.extend(pushStreamMatchers);

let moduleRef: TestingModule;
let push: PushStreamService;
let recorder: PushStreamRecorder;

beforeAll(async () => {
  moduleRef = await Test.createTestingModule({ imports: [PushStreamTestingModule.forRoot()] }).compile();
  push = moduleRef.get(PushStreamService);
  recorder = moduleRef.get(PushStreamRecorder);
});
afterAll(() => moduleRef.close());
afterEach(() => recorder.reset());

/** The message of a failed expectation. */
function failure(assertion: () => void): string {
  try {
    assertion();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('the expectation passed');
}

describe('toHavePublished', () => {
  it('matches on channel, data (deep, asymmetric matchers too) and event fields, each optional', async () => {
    await push.publish('my-app__room__1', { text: 'hi', at: 17 }, { eventId: 'e-9', eventType: 'chat' });
    expect(recorder).toHavePublished();
    expect(recorder).toHavePublished('my-app__room__1');
    expect(recorder).toHavePublished('my-app__room__1', { text: 'hi', at: 17 });
    expect(recorder).toHavePublished('my-app__room__1', expect.objectContaining({ text: 'hi' }));
    expect(recorder).toHavePublished(undefined, { text: 'hi', at: 17 });
    expect(recorder).toHavePublished('my-app__room__1', undefined, { eventType: 'chat' });
    expect(recorder).toHavePublished('my-app__room__1', { text: 'hi', at: 17 }, { eventId: 'e-9', eventType: expect.any(String) });

    expect(recorder).not.toHavePublished('my-app__room__2');
    expect(recorder).not.toHavePublished('my-app__room__1', { text: 'hi' });
    expect(recorder).not.toHavePublished('my-app__room__1', undefined, { eventType: 'other' });
  });

  it('.not.toHavePublished() with no argument: nothing at all was published', async () => {
    expect(recorder).not.toHavePublished();
    await push.publish(push.channels.all(), 1);
    expect(failure(() => expect(recorder).not.toHavePublished())).toMatch(/Expected no publish\.[\s\S]*Matching publishes:\n {2}my-app__all__: 1/);
  });

  it('a failure names what was wanted and lists what was published', async () => {
    await push.publish('my-app__room__1', { text: 'hi' }, { eventType: 'chat' });
    await push.publish('my-app__room__2', 'x'.repeat(300));
    const message = failure(() => expect(recorder).toHavePublished('my-app__room__1', { text: 'bye' }));
    expect(message).toContain('Expected a publish to');
    expect(message).toContain('my-app__room__1');
    expect(message).toContain('"bye"');
    expect(message).toContain('Published:\n  my-app__room__1: {"text":"hi"} eventType chat\n  my-app__room__2: "');
    expect(message).toContain('…');
  });

  it('says so when nothing was published', () => {
    expect(failure(() => expect(recorder).toHavePublished('my-app__room__1'))).toContain('Nothing was published.');
  });

  it('lists at most ten publishes', async () => {
    for (let i = 0; i < 12; i++) await push.publish(`my-app__room__${i}`, i);
    expect(failure(() => expect(recorder).toHavePublished('my-app__room__99'))).toContain('… and 2 more');
  });

  it('refuses anything but a PushStreamRecorder', () => {
    expect(() => expect({ publishes: [] }).toHavePublished()).toThrow(/expected a PushStreamRecorder/);
  });
});
