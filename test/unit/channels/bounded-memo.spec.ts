import { BoundedMemo } from '../../../lib/channels/bounded-memo.js';

describe('BoundedMemo', () => {
  it('computes each input once while it is remembered, and answers what the function answered', () => {
    const calls: string[] = [];
    const memo = new BoundedMemo((s: string) => (calls.push(s), s === 'bad' ? null : s.toUpperCase()), 3);
    expect([memo.get('a'), memo.get('a'), memo.get('bad'), memo.get('bad'), memo.get('b')]).toEqual(['A', 'A', null, null, 'B']);
    expect(calls).toEqual(['a', 'bad', 'b']);
  });

  it('holds at most `capacity` inputs: the oldest is forgotten and computed again', () => {
    const calls: string[] = [];
    const memo = new BoundedMemo((s: string) => (calls.push(s), s.length), 2);
    for (const s of ['a', 'bb', 'ccc', 'bb', 'a']) memo.get(s);
    // 'ccc' pushed 'a' out; 'bb' was still there; 'a' is computed again.
    expect(calls).toEqual(['a', 'bb', 'ccc', 'a']);
  });
});
