/**
 * The channel argument of a request the dialects built (`<publisher>?id=a/b`), as written, or
 * null when there is none (the stats location). Read raw rather than with URLSearchParams: the
 * builders do not escape it, and Nchan's delimiter may be any character outside the alphabet.
 */
export function channelIdArgument(url: string): string | null {
  const at = url.indexOf('?id=');
  return at === -1 ? null : url.slice(at + '?id='.length);
}
