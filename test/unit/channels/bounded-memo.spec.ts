import { BoundedMemo } from '../../../lib/channels/bounded-memo.js';

describe('BoundedMemo', () => {
  it('computes each input once while it is remembered, and answers what the function answered', () => {
    const calls: string[] = [];
    const memo = new BoundedMemo((s: string) => (calls.push(s), s.toUpperCase()), 3);
    expect([memo.get('a'), memo.get('a'), memo.get('b')]).toEqual(['A', 'A', 'B']);
    expect(calls).toEqual(['a', 'b']);
  });

  it('never remembers a null, so inputs that fail (forged cookies) cannot fill it or push out the others', () => {
    const calls: string[] = [];
    const memo = new BoundedMemo((s: string) => (calls.push(s), s.startsWith('bad') ? null : s), 2);
    expect([memo.get('a'), memo.get('bad1'), memo.get('bad1'), memo.get('bad2'), memo.get('bad3'), memo.get('a')]).toEqual(['a', null, null, null, null, 'a']);
    expect(calls).toEqual(['a', 'bad1', 'bad1', 'bad2', 'bad3']);
  });

  it('holds at most `capacity` inputs: the oldest is forgotten and computed again', () => {
    const calls: string[] = [];
    const memo = new BoundedMemo((s: string) => (calls.push(s), s.length), 2);
    for (const s of ['a', 'bb', 'ccc', 'bb', 'a']) memo.get(s);
    // 'ccc' pushed 'a' out; 'bb' was still there; 'a' is computed again.
    expect(calls).toEqual(['a', 'bb', 'ccc', 'a']);
  });
});
