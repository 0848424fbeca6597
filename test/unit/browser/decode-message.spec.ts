import { isRecord, num, splitJsonObjects, str } from '../../../lib/browser/decode-message.js';
import { recording } from './support/wire.js';

describe('splitJsonObjects', () => {
  it('recording 20 (stream mode): four concatenated objects, incl. the invalid-JSON notice, nothing left', () => {
    const { objects, rest } = splitJsonObjects(recording('20-sub-stream-backtrack.txt').body);
    expect(rest).toBe('');
    expect(objects).toHaveLength(4);
  });

  it('recording 20 cut every 7 bytes splits the same', () => {
    const { body } = recording('20-sub-stream-backtrack.txt');
    const whole = splitJsonObjects(body).objects;
    for (let cut = 0; cut <= body.length; cut += 7) {
      const a = splitJsonObjects(body.slice(0, cut));
      const b = splitJsonObjects(a.rest + body.slice(cut));
      expect([...a.objects, ...b.objects]).toEqual(whole);
    }
  });

  it('strings with braces and escaped quotes split correctly; an incomplete tail is the rest', () => {
    const a = JSON.stringify({ id: 1, channel: 'c', text: { s: '}{"\\' }, tag: 0 });
    const { objects } = splitJsonObjects(`${a}\n${a}{"id"`);
    expect(objects).toEqual([a, a]);
    expect(splitJsonObjects(`${a}{"id"`).rest).toBe('{"id"');
  });
});

describe('field readers', () => {
  it('read loosely typed JSON fields', () => {
    expect([isRecord({}), isRecord([]), isRecord(null), isRecord('x')]).toEqual([true, false, false, false]);
    expect([str('a'), str(undefined), str(null), str(3)]).toEqual(['a', '', '', '3']);
    expect([num(3), num('-2'), num('x'), num(Number.NaN), num(undefined)]).toEqual([3, -2, undefined, undefined, undefined]);
  });
});
