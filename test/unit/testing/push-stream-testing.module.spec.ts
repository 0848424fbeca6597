// PushStreamTestingModule as an application uses it: a service of its own (ChatService, the README's
// example under "Testing your application") tested without nginx, on both servers. No socket is
// opened: the recorder stands where the network was.
import 'reflect-metadata';
import net from 'node:net';
import { Injectable, Module } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { jest } from '@jest/globals';
import {
  PushStreamConnectionError,
  PushStreamError,
  PushStreamHttpClient,
  PushStreamHttpError,
  PushStreamService,
  type PushStreamServerKind,
} from '../../../lib/index.js';
import { pushStreamMatchers, PushStreamRecorder, PushStreamTestingModule } from '../../../lib/testing/index.js';

// ---- the application's own code -------------------------------------------------------------
@Injectable()
class ChatService {
  constructor(private readonly push: PushStreamService) {}

  /** Posts to a room; false when nginx could not be reached, so that the caller can try later. */
  async post(room: string, text: string): Promise<boolean> {
    try {
      await this.push.publish(this.push.channels.custom('room', room), { text }, { eventType: 'chat' });
      return true;
    } catch (err) {
      if (err instanceof PushStreamError && err.retryable) return false;
      throw err;
    }
  }
}

// ---- its test ---------------------------------------------------------------------------------
expect.extend(pushStreamMatchers);

const connects = jest.spyOn(net.Socket.prototype, 'connect');
const listens = jest.spyOn(net.Server.prototype, 'listen');
afterAll(() => {
  expect(connects).not.toHaveBeenCalled();
  expect(listens).not.toHaveBeenCalled();
  connects.mockRestore();
  listens.mockRestore();
});

describe.each(['push-stream', 'nchan'] as PushStreamServerKind[])('ChatService with PushStreamTestingModule (%s)', (server) => {
  let moduleRef: TestingModule;
  let chat: ChatService;
  let recorder: PushStreamRecorder;

  beforeEach(async () => {
    moduleRef = await Test.createTestingModule({
      imports: [PushStreamTestingModule.forRoot({ server })],
      providers: [ChatService],
    }).compile();
    chat = moduleRef.get(ChatService);
    recorder = moduleRef.get(PushStreamRecorder);
  });

  afterEach(() => moduleRef.close());

  it('publishes the message to the room', async () => {
    await expect(chat.post('42', 'hello')).resolves.toBe(true);
    expect(recorder).toHavePublished('my-app__room__42', { text: 'hello' }, { eventType: 'chat' });
    expect(recorder).not.toHavePublished('my-app__room__7');
    expect(recorder.publishes).toEqual([
      {
        channel: 'my-app__room__42',
        data: { text: 'hello' },
        eventType: 'chat',
        channels: ['my-app__room__42'],
        publisherUrl: 'http://push-stream.test/pub',
      },
    ]);
  });

  it('says "try later" when nginx cannot be reached', async () => {
    recorder.failNextPublish(new PushStreamConnectionError('http://push-stream.test/pub', new Error('ECONNREFUSED')));
    await expect(chat.post('42', 'hello')).resolves.toBe(false);
    expect(recorder).not.toHavePublished();
    // Only the next publish failed.
    await expect(chat.post('42', 'again')).resolves.toBe(true);
    expect(recorder).toHavePublished('my-app__room__42', { text: 'again' });
  });

  it('lets other failures through, as the exact error', async () => {
    const refused = new PushStreamHttpError('publish', 403);
    recorder.failNextPublish(refused);
    await expect(chat.post('42', 'hello')).rejects.toBe(refused);
  });

  it('still checks what the real module checks: names and sizes, before anything is recorded', async () => {
    await expect(chat.post('a/b', 'hello')).rejects.toMatchObject({ name: 'InvalidChannelNameError' });
    await expect(chat.post('42', 'x'.repeat(70_000))).rejects.toMatchObject({ name: 'MessageTooLargeError' });
    expect(recorder.publishes).toEqual([]);
  });

  it('reset() forgets what was published', async () => {
    await chat.post('42', 'hello');
    recorder.reset();
    expect(recorder).not.toHavePublished();
  });

  it('provides the recorder as the PushStreamHttpClient, and the service tells which server it plays', () => {
    expect(moduleRef.get(PushStreamHttpClient)).toBe(recorder);
    expect(moduleRef.get(PushStreamService).server).toBe(server);
  });
});

describe('PushStreamTestingModule.forRoot options', () => {
  it('takes the application options (prefix, retry) and validates them like the real module', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [PushStreamTestingModule.forRoot({ prefix: 'shop', retry: { attempts: 2 } })],
      providers: [ChatService],
    }).compile();
    try {
      const recorder = moduleRef.get(PushStreamRecorder);
      // With retries on, a retryable failure costs one attempt and the publish goes through.
      recorder.failNextPublish(new PushStreamConnectionError('http://push-stream.test/pub', new Error('ECONNRESET')));
      await expect(moduleRef.get(ChatService).post('1', 'hi')).resolves.toBe(true);
      expect(recorder).toHavePublished('shop__room__1', { text: 'hi' });
    } finally {
      await moduleRef.close();
    }
    await expect(
      Test.createTestingModule({ imports: [PushStreamTestingModule.forRoot({ secret: 'short' })] }).compile(),
    ).rejects.toMatchObject({ name: 'PushStreamConfigError', field: 'secret' });
  });

  it('is global unless told otherwise, like the usual isGlobal: true setup', async () => {
    // A feature module that does not import PushStreamModule, as in an app that registers it globally.
    @Module({ providers: [ChatService], exports: [ChatService] })
    class ChatModule {}
    const moduleRef = await Test.createTestingModule({ imports: [PushStreamTestingModule.forRoot(), ChatModule] }).compile();
    try {
      await moduleRef.get(ChatService).post('1', 'hi');
      expect(moduleRef.get(PushStreamRecorder)).toHavePublished('my-app__room__1');
    } finally {
      await moduleRef.close();
    }
    await expect(
      Test.createTestingModule({ imports: [PushStreamTestingModule.forRoot({ isGlobal: false }), ChatModule] }).compile(),
    ).rejects.toThrow(/ChatService/);
  });
});
