import { jest } from '@jest/globals';
import type { DecodedFrame } from '../../../../lib/browser/decode-message.js';
import type { BrowserServerDialect, FrameMeta } from '../../../../lib/browser/dialects/browser-server-dialect.js';
import type { TransportContext, TransportEnding } from '../../../../lib/browser/transports/transport.js';

/**
 * A dialect that records what transports ask of it: transports must get everything server-specific
 * (subprotocol, decoding, long-poll statuses and ids) from here.
 */
export function recordingDialect(overrides: Partial<BrowserServerDialect> = {}) {
  const calls: { decode: Array<[string, FrameMeta, readonly string[]]>; ws: Array<[string, string]> } = { decode: [], ws: [] };
  const frame = (raw: string): DecodedFrame => ({ kind: 'message', channel: 'c', data: raw, eventId: '', eventType: '', id: '' });
  const dialect: BrowserServerDialect = {
    kind: 'nchan',
    webSocketProtocol: 'test-protocol',
    resubscribeAfterChannelDeleted: false,
    assertSubscribable: () => undefined,
    subscriberPath: (channels) => channels.join('/'),
    createResumePositions: () => {
      throw new Error('not used by transports');
    },
    decode: (raw, meta, channels) => {
      calls.decode.push([raw, meta, channels]);
      return [frame(raw)];
    },
    decodeWebSocketFrame: (data, protocol) => {
      calls.ws.push([data, protocol]);
      return [frame(data)];
    },
    longPollAnswer: (status) => (status === 200 ? 'messages' : status === 299 ? 'no-message' : 'ended'),
    longPollMeta: (headers) => ({ id: headers.get('x-id') ?? '', eventType: '' }),
    ...overrides,
  };
  return { dialect, calls };
}

/** A context whose callbacks are spies; after onEnd isCurrent() is false, as in the client. */
export function fakeContext(
  dialect: BrowserServerDialect,
  options: { eventTypes?: string[]; pauseMs?: number; beforeNextRequest?: () => Promise<void> | undefined } = {},
) {
  let current = true;
  const ctx = {
    dialect,
    url: jest.fn(() => 'http://nginx.test/sub/c'),
    channels: () => ['c'],
    withCredentials: false,
    eventTypes: options.eventTypes ?? [],
    noMessagePauseMs: () => options.pauseMs ?? 100,
    beforeNextRequest: jest.fn((): Promise<void> | undefined => options.beforeNextRequest?.()),
    onOpen: jest.fn(),
    onFrame: jest.fn<(frame: DecodedFrame) => boolean>(() => true),
    onEnd: jest.fn((_ending: TransportEnding) => {
      current = false;
    }),
    isCurrent: jest.fn(() => current),
  } satisfies TransportContext;
  return ctx;
}
