/** `s` without the spaces and tabs around it: what the `cookie` package trims (not String#trim's other white space). */
function trimSpaces(s: string): string {
  let from = 0;
  let to = s.length;
  while (from < to && (s.charCodeAt(from) === 0x20 || s.charCodeAt(from) === 0x09)) from++;
  while (to > from && (s.charCodeAt(to - 1) === 0x20 || s.charCodeAt(to - 1) === 0x09)) to--;
  return s.slice(from, to);
}

/** A cookie value without its surrounding double quotes, percent-decoded when it can be (else as sent). */
function cookieValue(raw: string): string {
  const value = raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw;
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * The `name=value` pairs of a Cookie header, in order, as the `cookie` package (express-session's
 * parser) reads them: name and value trimmed of spaces and tabs, the value unquoted and
 * percent-decoded. A part without `=` is no pair.
 */
export function* cookiePairs(header: string | string[] | undefined): Generator<[name: string, value: string]> {
  const text = Array.isArray(header) ? header.join(';') : header;
  if (text === undefined) return;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf(';', start);
    if (end < 0) end = text.length;
    const eq = text.indexOf('=', start);
    if (eq >= start && eq < end) yield [trimSpaces(text.slice(start, eq)), cookieValue(trimSpaces(text.slice(eq + 1, end)))];
    start = end + 1;
  }
}
