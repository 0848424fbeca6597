// nestjs-push-stream: signed subscription tickets, checked by nginx itself (njs 0.7.9 or later).
// Loaded by the rendered config in ticket mode (`nestjs-push-stream nginx-config --auth ticket`):
//
//   js_import push_stream_ticket from <this file>;
//   js_var $push_stream_ticket_key <64 hex characters: deriveTicketKey(secret)>;
//   js_set $push_stream_ticket_ok push_stream_ticket.verify;
//
// and every subscriber location answers 403 unless $push_stream_ticket_ok is "1". The same rule as
// verifyTicket() in lib/tickets/subscription-ticket.ts: ?ticket=<expiry>.<base64url HMAC-SHA256 of
// "<expiry>:<channel path>" under the key>, the channel path being $push_channels (what the
// server module subscribes to) with push-stream's `.b<n>` backtrack suffixes removed.
//
// No regular expressions: njs has no garbage collector, so whatever verify() allocates stays until
// the subscriber's connection ends, and a RegExp match costs about 5 KiB of it per subscriber.
// No loop over characters either: njs interprets, and the 100 or so charCodeAt() steps the shape
// checks and a constant-time comparison took cost more than an HMAC (measured with one worker:
// 73-84 µs of nginx CPU per check with them, 45-55 µs without, 31-34 µs for a js_set returning "1").
var crypto = require('crypto');

/**
 * Whether s is 1 to 12 ASCII digits (ticketExpiry's `\d{1,12}`): a whole number of at least 0
 * which, written back in decimal and padded with the zeros s may start with, gives s again. A
 * sign, space, point, exponent, hex prefix or "Infinity" fails one of the three.
 */
function isExpiry(s) {
  if (s.length < 1 || s.length > 12) return false;
  var n = Number(s);
  return n >= 0 && Number.isInteger(n) && String(n).padStart(s.length, '0') === s;
}

/** `path` without a `.b<digits>` at the end of any "/"-separated segment (ticketChannelPath). */
function withoutBacktrack(path) {
  if (path.indexOf('.b') < 0) return path;
  var out = '';
  for (var start = 0; start <= path.length; ) {
    var end = path.indexOf('/', start);
    if (end < 0) end = path.length;
    var segment = path.substring(start, end);
    var dot = segment.lastIndexOf('.b');
    if (dot >= 0 && isDigits(segment.substring(dot + 2))) segment = segment.substring(0, dot);
    out += (start === 0 ? '' : '/') + segment;
    start = end + 1;
  }
  return out;
}

/** Whether s is one or more ASCII digits, of any length (a `.b<n>` count). */
function isDigits(s) {
  if (s.length < 1) return false;
  if (s.length <= 12) return isExpiry(s);
  return isExpiry(s.substring(0, 12)) && isDigits(s.substring(12));
}

/**
 * Whether a and b are the same text, in time independent of where they differ: the HMACs of both
 * under the key are compared instead, so a difference in timing tells nothing about a or b.
 */
function sameText(key, a, b) {
  return crypto.createHmac('sha256', key).update(a).digest('base64url') === crypto.createHmac('sha256', key).update(b).digest('base64url');
}

/** "1" when the request's ticket signs its channel path and has not expired, else "". */
function verify(r) {
  var key = r.variables.push_stream_ticket_key;
  var channels = r.variables.push_channels;
  // $arg_ticket: the first `ticket` argument, as sent (a percent-encoded ticket does not match).
  var ticket = r.variables.arg_ticket;
  if (!key || channels === undefined || !ticket) return '';
  // <1 to 12 digits>.<43 base64url characters> (ticketExpiry in lib/shared/push-stream-protocol.ts).
  // The signature's own shape needs no check: only the expected one, 43 base64url characters, matches.
  var dot = ticket.indexOf('.');
  if (dot < 1 || dot > 12 || ticket.length !== dot + 44) return '';
  var expiry = ticket.substring(0, dot);
  if (!isExpiry(expiry)) return '';
  var expiresAt = Number(expiry);
  var expected = crypto.createHmac('sha256', key).update(expiresAt + ':' + withoutBacktrack(channels)).digest('base64url');
  if (!sameText(key, ticket.substring(dot + 1), expected)) return '';
  return expiresAt > Math.floor(Date.now() / 1000) ? '1' : '';
}

export default { verify: verify };
