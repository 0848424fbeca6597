/**
 * Remembers the results of a pure function of a string (an HMAC, here) for the most recent
 * `capacity` inputs: nginx asks about the same sessions again and again, and creating an HMAC
 * costs more than the rest of a decision. Only what the function returns is kept, and a null is
 * not: what anyone may send (a forged cookie) must not fill it. When full, the oldest entry goes.
 */
export class BoundedMemo<T> {
  private readonly entries = new Map<string, T>();

  constructor(
    private readonly compute: (input: string) => T,
    private readonly capacity = 4096,
  ) {}

  get(input: string): T {
    const known = this.entries.get(input);
    if (known !== undefined) return known;
    const value = this.compute(input);
    if (value === null) return value;
    if (this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(input, value);
    return value;
  }
}
