import { jest } from '@jest/globals';
import { subscribableChannels } from '../../../lib/browser/channel-set.js';
import type { BrowserServerDialect } from '../../../lib/browser/dialects/browser-server-dialect.js';
import { browserDialect } from '../../../lib/browser/dialects/index.js';
import { DEFAULT_MAX_CHANNELS_PER_SUBSCRIPTION, MAX_CHANNELS_PER_REQUEST } from '../../../lib/shared/push-stream-protocol.js';

describe('subscribableChannels', () => {
  it('de-duplicates in first-seen order and hands the result to the dialect', () => {
    const dialect = browserDialect('nchan');
    const assert = jest.spyOn(dialect, 'assertSubscribable');
    try {
      expect(subscribableChannels(['b', 'a', 'b'], dialect)).toEqual(['b', 'a']);
      expect(assert).toHaveBeenCalledWith(['b', 'a']);
    } finally {
      assert.mockRestore();
    }
  });

  it('checks names before counting, and the app limits before the server one', () => {
    const strict: BrowserServerDialect = Object.assign(Object.create(browserDialect('push-stream')) as BrowserServerDialect, {
      assertSubscribable: () => {
        throw new RangeError('server');
      },
    });
    const many = Array.from({ length: DEFAULT_MAX_CHANNELS_PER_SUBSCRIPTION + 1 }, (_, i) => `c${i}`);
    expect(() => subscribableChannels([...many, 'bad name'], strict)).toThrow(TypeError);
    expect(() => subscribableChannels(many, strict)).toThrow(/maxChannels/);
    expect(() => subscribableChannels(['a'], strict)).toThrow('server');
  });

  it(`accepts maxChannels up to ${MAX_CHANNELS_PER_REQUEST} (Nchan multiplexes no more)`, () => {
    const names = Array.from({ length: MAX_CHANNELS_PER_REQUEST }, (_, i) => `c${i}`);
    expect(subscribableChannels(names, browserDialect('push-stream'), { maxChannels: MAX_CHANNELS_PER_REQUEST })).toHaveLength(MAX_CHANNELS_PER_REQUEST);
    expect(() => subscribableChannels(names, browserDialect('push-stream'), { maxChannels: MAX_CHANNELS_PER_REQUEST + 1 })).toThrow(RangeError);
  });

  it('describes a long bad name briefly', () => {
    const long = `${'x'.repeat(100)} y`;
    expect(() => subscribableChannels([long], browserDialect('nchan'))).toThrow(/^PushStreamClient: invalid channel name "x{56}…" \(allowed/);
  });
});
