// Server-to-client WebSocket frames, parsed by hand: the benchmark and soak clients are raw TCP so
// that a client costs the same against nginx and the socket.io gateway.

/**
 * Complete frames at the start of `buf`: `{ frames: [{ fin, opcode, payload, end }], used }`,
 * `end` being where each frame stops in `buf` and `used` where the last complete one does.
 * A masked payload (servers do not mask, but may) is unmasked.
 */
export function parseFrames(buf) {
  const frames = [];
  let i = 0;
  while (i + 2 <= buf.length) {
    const fin = (buf[i] & 0x80) !== 0;
    const opcode = buf[i] & 0x0f;
    let len = buf[i + 1] & 0x7f;
    let p = i + 2;
    if (len === 126) {
      if (p + 2 > buf.length) break;
      len = buf.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      if (p + 8 > buf.length) break;
      len = Number(buf.readBigUInt64BE(p));
      p += 8;
    }
    const masked = (buf[i + 1] & 0x80) !== 0;
    const key = masked ? buf.subarray(p, p + 4) : null;
    if (masked) p += 4;
    if (p + len > buf.length) break;
    let payload = buf.subarray(p, p + len);
    if (key) payload = Buffer.from(payload.map((b, k) => b ^ key[k & 3]));
    frames.push({ fin, opcode, payload, end: p + len });
    i = p + len;
  }
  return { frames, used: i };
}
