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
var crypto = require('crypto');

/** Whether s[from..] is one or more ASCII digits. */
function digitsFrom(s, from) {
  if (from >= s.length) return false;
  for (var i = from; i < s.length; i++) {
    var c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** Whether s is 43 base64url characters (a SHA-256 digest). */
function isDigest(s) {
  if (s.length !== 43) return false;
  for (var i = 0; i < 43; i++) {
    var c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 95)) return false;
  }
  return true;
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
    if (dot >= 0 && digitsFrom(segment, dot + 2)) segment = segment.substring(0, dot);
    out += (start === 0 ? '' : '/') + segment;
    start = end + 1;
  }
  return out;
}

/** Compares two strings in time independent of where they differ. */
function sameText(a, b) {
  if (a.length !== b.length) return false;
  var diff = 0;
  for (var i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** "1" when the request's ticket signs its channel path and has not expired, else "". */
function verify(r) {
  var key = r.variables.push_stream_ticket_key;
  var channels = r.variables.push_channels;
  // $arg_ticket: the first `ticket` argument, as sent (a percent-encoded ticket does not match).
  var ticket = r.variables.arg_ticket;
  if (!key || channels === undefined || !ticket) return '';
  // <1 to 12 digits>.<43 base64url characters> (ticketExpiry in lib/shared/push-stream-protocol.ts).
  var dot = ticket.indexOf('.');
  if (dot < 1 || dot > 12 || !digitsFrom(ticket.substring(0, dot), 0)) return '';
  var signature = ticket.substring(dot + 1);
  if (!isDigest(signature)) return '';
  var expiresAt = Number(ticket.substring(0, dot));
  var expected = crypto.createHmac('sha256', key).update(expiresAt + ':' + withoutBacktrack(channels)).digest('base64url');
  if (!sameText(signature, expected)) return '';
  return expiresAt > Math.floor(Date.now() / 1000) ? '1' : '';
}

export default { verify: verify };
