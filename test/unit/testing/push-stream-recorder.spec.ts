// PushStreamRecorder behind PushStreamService on both servers: every service operation works
// against it, read and answered through the configured server's dialect. No sockets.
import 'reflect-metadata';
import { Test, type TestingModule } from '@nestjs/testing';
import { PushStreamService, PushStreamTimeoutError, type PushStreamServerKind } from '../../../lib/index.js';
import { pushStreamMatchers, PushStreamRecorder, PushStreamTestingModule, type PushStreamTestingModuleOptions } from '../../../lib/testing/index.js';

expect.extend(pushStreamMatchers);

let moduleRef: TestingModule | undefined;
afterEach(async () => {
  await moduleRef?.close();
  moduleRef = undefined;
});

async function setup(options: PushStreamTestingModuleOptions): Promise<{ push: PushStreamService; recorder: PushStreamRecorder }> {
  moduleRef = await Test.createTestingModule({ imports: [PushStreamTestingModule.forRoot(options)] }).compile();
  return { push: moduleRef.get(PushStreamService), recorder: moduleRef.get(PushStreamRecorder) };
}

describe.each(['push-stream', 'nchan'] as PushStreamServerKind[])('PushStreamRecorder (%s)', (server) => {
  it('records one entry per channel of a publishMany, with the event id and type', async () => {
    const { push, recorder } = await setup({ server });
    const [a, b] = [push.channels.custom('room', 1), push.channels.custom('room', 2)];
    const result = await push.publishMany([a, b], [1, 'two'], { eventId: 'e-1', eventType: 'tick' });
    expect(result).toMatchObject({ channels: [a, b], subscribers: 0 });
    expect(recorder.publishes).toEqual([
      { channel: a, data: [1, 'two'], eventId: 'e-1', eventType: 'tick', channels: [a, b], publisherUrl: 'http://push-stream.test/pub' },
      { channel: b, data: [1, 'two'], eventId: 'e-1', eventType: 'tick', channels: [a, b], publisherUrl: 'http://push-stream.test/pub' },
    ]);
    expect(recorder.publishesTo(b)).toHaveLength(1);
  });

  it('keeps channels like nginx: created by a publish, counted, gone when deleted', async () => {
    const { push, recorder } = await setup({ server });
    const room = push.channels.custom('room', 1);
    expect(await push.channelInfo(room)).toBeNull();
    await push.publish(room, 'a');
    await push.publish(room, 'b');
    expect(await push.channelInfo(room)).toMatchObject({ channel: room, subscribers: 0, storedMessages: 2 });
    expect(await push.stats()).toMatchObject({ server, channels: 1, publishedMessages: 2, storedMessages: 2 });

    expect(await push.deleteChannel(room)).toBe(true);
    expect(await push.channelInfo(room)).toBeNull();
    expect(await push.deleteChannel(room)).toBe(false);
    expect(recorder.deletions[0]).toBe(room);
    // The in-band deleted notice (Nchan) is not one of the application's messages.
    expect(recorder.publishes.map((p) => p.data)).toEqual(['a', 'b']);
  });

  it('records revocations, and says whether the channel existed', async () => {
    const { push, recorder } = await setup({ server });
    await push.publish(push.channels.user(7), { hi: 1 });
    expect(await push.revokeUser(7)).toMatchObject({ channel: 'my-app__user__7', existed: true });
    expect(await push.revokeSession('s-1')).toMatchObject({ existed: false });
    expect(recorder.deletions).toEqual(['my-app__user__7', push.channels.session('s-1')]);
  });

  it('answers health() as a healthy server', async () => {
    const { push } = await setup({ server });
    const report = await push.health();
    expect(report).toMatchObject({ healthy: true, server });
    expect(report.checks.map((c) => [c.name, c.ok])).toEqual([
      ['stats', true],
      ['channel-info', true],
    ]);
  });

  it('records each publish once per publisher, each nginx with its own channels', async () => {
    const { push, recorder } = await setup({ server, publisherUrl: ['http://a.test/pub', 'http://b.test/pub'] });
    const room = push.channels.custom('room', 1);
    await push.publish(room, 1);
    expect(recorder.publishes.map((p) => p.publisherUrl).sort()).toEqual(['http://a.test/pub', 'http://b.test/pub']);
    expect(await push.channelInfo(room)).toMatchObject({ storedMessages: 1 });
  });

  it('failNextPublish: queued failures, one publish each; deletions and their notices are not publishes', async () => {
    const { push, recorder } = await setup({ server });
    const room = push.channels.custom('room', 1);
    await push.publish(room, 'kept');
    const first = new PushStreamTimeoutError('http://push-stream.test/pub', 5000);
    const second = new Error('anything');
    recorder.failNextPublish(first);
    recorder.failNextPublish(second);
    expect(await push.deleteChannel(room)).toBe(true);
    await expect(push.publish(room, 1)).rejects.toBe(first);
    await expect(push.publish(room, 2)).rejects.toBe(second);
    await push.publish(room, 3);
    expect(recorder.publishes.map((p) => p.data)).toEqual(['kept', 3]);
    expect(() => recorder.failNextPublish('boom' as unknown as Error)).toThrow(TypeError);
  });

  it('reset() forgets publishes, deletions, channels and pending failures', async () => {
    const { push, recorder } = await setup({ server });
    const room = push.channels.custom('room', 1);
    await push.publish(room, 1);
    await push.revokeUser(1);
    recorder.failNextPublish(new Error('pending'));
    recorder.reset();
    expect([recorder.publishes, recorder.deletions]).toEqual([[], []]);
    expect(await push.channelInfo(room)).toBeNull();
    await expect(push.publish(room, 2)).resolves.toMatchObject({ channel: room });
  });

  it('hands out copies: a test cannot rewrite the record by accident', async () => {
    const { push, recorder } = await setup({ server });
    await push.publish(push.channels.all(), 1);
    (recorder.publishes as unknown[]).length = 0;
    (recorder.deletions as unknown[]).push('x');
    expect(recorder.publishes).toHaveLength(1);
    expect(recorder.deletions).toEqual([]);
  });
});
