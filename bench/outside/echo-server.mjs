// Echo server for the outside harness's client scenarios (client16, client1k, client64k): the peer
// of the client under test, the same for every client. Not a library and not a conforming server:
// raw `net`, hand-parsed upgrade (no extension is ever negotiated), every path echoes.
//
// Frames are streamed, never reassembled: each read is parsed as it comes (a frame header may be
// split across reads, a payload may span many) and answered at once with one write. Headers and
// payloads are unmasked straight from the read into one output buffer, in one pass. That buffer is
// reused for the next read (of any connection) whenever the write went out at once, which is the
// usual case; otherwise the socket keeps it and a new one is made. (bench/servers/minimal.mjs
// instead joins the unparsed rest of a read with the next read and gathers every reply in new
// memory: with 64 KiB frames it became the bottleneck of the clients it served.)
// Data and continuation frames are echoed with their opcode and FIN bit, pings answered with a
// pong, pongs dropped, a close frame echoed and then the socket ended.
// Usage: node echo-server.mjs PORT   (prints "listening on ws://127.0.0.1:PORT unmask=native|js")
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { endianness } from 'node:os';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node echo-server.mjs PORT');
  process.exit(2);
}
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

// Payloads of 64 bytes or more are unmasked by the bufferutil addon's mask(source, mask, output,
// offset, length) when it loads natively (a JavaScript word loop is about 6x slower here); else by
// JavaScript. The listening line says which (unmask=native|js); the same server serves every
// client either way. ECHO_JS_UNMASK=1 forces JavaScript (to test that path).
let nativeMask = null;
if (!process.env.ECHO_JS_UNMASK) {
  try {
    const require = createRequire(import.meta.url);
    const bu = require('bufferutil');
    if (Object.keys(require.cache).some((p) => /[\\/]bufferutil[\\/].*\.node$/.test(p))) nativeMask = bu.mask;
  } catch {
    // no bufferutil: JavaScript
  }
}
const LE = endianness() === 'LE';
const rotated = Buffer.alloc(4);

/** Writes src[from, to) XOR the mask into out at `at` (phase = the mask index of src[from]). */
function unmaskInto(src, from, to, out, at, m, phase) {
  const len = to - from;
  if (len >= 64) {
    for (let k = 0; k < 4; k++) rotated[k] = m[(phase + k) & 3];
    if (nativeMask) { nativeMask(src.subarray(from, to), rotated, out, at, len); return; }
    if (LE) {
      // in place a 32-bit word at a time over the aligned middle, then one copy
      let i = from, ph = phase;
      while (((src.byteOffset + i) & 3) !== 0) { src[i] ^= m[ph & 3]; ph++; i++; }
      const words = (to - i) >>> 2;
      const key = m[ph & 3] | (m[(ph + 1) & 3] << 8) | (m[(ph + 2) & 3] << 16) | (m[(ph + 3) & 3] << 24);
      const u32 = new Uint32Array(src.buffer, src.byteOffset + i, words);
      for (let w = 0; w < words; w++) u32[w] ^= key;
      for (i += words << 2; i < to; i++, ph++) src[i] ^= m[ph & 3];
      src.copy(out, at, from, to);
      return;
    }
  }
  for (let i = from; i < to; i++, phase++) out[at++] = src[i] ^ m[phase & 3];
}

// The output buffer, shared by all connections and reused while writes complete at once.
const SCRATCH = 256 * 1024;
let scratch = Buffer.allocUnsafeSlow(SCRATCH);

/** Length of a client frame header (with its 4 mask bytes) from its second byte. */
function headerSize(b1) {
  const l7 = b1 & 0x7f;
  return 2 + (l7 === 126 ? 2 : l7 === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
}

class Peer {
  constructor(socket) {
    this.socket = socket;
    this.open = false;
    this.head = null; // HTTP request bytes so far
    this.hdr = Buffer.alloc(14); // a frame header split across reads
    this.hlen = 0;
    this.left = 0; // payload bytes of the current frame still to come
    this.mask = Buffer.alloc(4);
    this.phase = 0;
    this.op = 0; // opcode of the current frame
    this.closing = false;
  }

  onData(chunk) {
    if (!this.open) {
      const buf = this.head ? Buffer.concat([this.head, chunk]) : chunk;
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buf.length > 16384) this.socket.destroy();
        else this.head = buf;
        return;
      }
      this.head = null;
      const key = /^sec-websocket-key:[ \t]*(\S+)/im.exec(buf.toString('latin1', 0, end))?.[1];
      if (!key) { this.socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n'); return; }
      const accept = createHash('sha1').update(key + WS_GUID).digest('base64');
      this.socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
      this.open = true;
      if (end + 4 === buf.length) return;
      chunk = buf.subarray(end + 4);
    }
    this.frames(chunk);
  }

  frames(chunk) {
    if (this.closing && this.left === 0) return; // after our close reply: ignore the rest
    const n = chunk.length;
    // The reply to a read is never longer than the read plus one header: a server header is the
    // client's minus the 4 mask bytes; only a header begun in an earlier read adds up to 10 bytes.
    const out = n + 14 <= SCRATCH ? (scratch ??= Buffer.allocUnsafeSlow(SCRATCH)) : Buffer.allocUnsafe(n + 14);
    let o = 0;
    let i = 0;
    while (i < n) {
      if (this.left > 0) {
        const take = Math.min(this.left, n - i);
        if (this.op !== 0xa) { unmaskInto(chunk, i, i + take, out, o, this.mask, this.phase); o += take; }
        this.phase = (this.phase + take) & 3;
        this.left -= take;
        i += take;
        if (this.left === 0 && this.closing) break;
        continue;
      }
      // a frame header: from this read when it is whole here, else gathered in this.hdr
      let h = chunk, at = i;
      if (this.hlen > 0 || n - i < 2 || n - i < headerSize(chunk[i + 1])) {
        const need = this.hlen < 2 ? 2 : headerSize(this.hdr[1]);
        const take = Math.min(need - this.hlen, n - i);
        chunk.copy(this.hdr, this.hlen, i, i + take);
        this.hlen += take;
        i += take;
        if (this.hlen < 2 || this.hlen < headerSize(this.hdr[1])) continue;
        h = this.hdr; at = 0;
        this.hlen = 0;
      }
      const b0 = h[at], l7 = h[at + 1] & 0x7f;
      let len = l7, p = at + 2;
      if (l7 === 126) { len = h.readUInt16BE(p); p += 2; }
      else if (l7 === 127) { len = Number(h.readBigUInt64BE(p)); p += 8; }
      if (h[at + 1] & 0x80) { h.copy(this.mask, 0, p, p + 4); p += 4; }
      else this.mask.fill(0);
      if (h === chunk) i = p;
      this.op = b0 & 0x0f;
      this.left = len;
      this.phase = 0;
      if (this.op !== 0xa) {
        // our header: the same FIN/opcode (a ping is answered with a pong), never masked
        out[o++] = this.op === 0x9 ? (b0 & 0xf0) | 0xa : b0;
        if (len < 126) out[o++] = len;
        else if (len < 65536) { out[o++] = 126; out.writeUInt16BE(len, o); o += 2; }
        else { out[o++] = 127; out.writeBigUInt64BE(BigInt(len), o); o += 8; }
      }
      if (this.op === 0x8) this.closing = true;
      if (len === 0 && this.closing) break;
    }
    const socket = this.socket;
    if (o > 0) {
      socket.write(out.subarray(0, o));
      // Not all written at once: the socket holds on to these bytes, so the next read gets new memory.
      if (out === scratch && socket.writableLength !== 0) scratch = null;
    }
    if (this.closing && this.left === 0) socket.end();
  }
}

const server = createServer({ noDelay: true }, (socket) => {
  const peer = new Peer(socket);
  socket.on('data', (chunk) => peer.onData(chunk));
  socket.on('error', () => socket.destroy());
});
server.listen(port, '127.0.0.1', () => console.log(`listening on ws://127.0.0.1:${port} unmask=${nativeMask ? 'native' : 'js'}`));
process.on('SIGTERM', () => process.exit(0));
