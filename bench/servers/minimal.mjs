// Reference floor, not a library: the least a pure-JavaScript WebSocket echo server on `net` can do.
// Hand-parsed upgrade, frames unmasked in place, every reply to one read written with one write.
// It checks nothing a real server must check (no UTF-8 validation, no limits, no close handshake
// beyond answering, no fragmentation): it shows how close sockwave is to Node's own limit.
// The benchmark runs it as the 'floor' column for the echo, broadcast, connect and idle scenarios.
// Usage: node minimal.mjs PORT   (/broadcast relays to every /broadcast connection; every other
// path echoes; no deflate)
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';

const port = Number(process.argv[2] ?? 9003);
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** XOR in 32-bit words where the payload is 4-aligned in its ArrayBuffer, bytes elsewhere. */
function unmask(buf, at, len, maskAt) {
  let i = 0;
  if (len >= 32) {
    while (((buf.byteOffset + at + i) & 3) !== 0) { buf[at + i] ^= buf[maskAt + (i & 3)]; i++; }
    const key = buf[maskAt + (i & 3)] | (buf[maskAt + ((i + 1) & 3)] << 8) | (buf[maskAt + ((i + 2) & 3)] << 16) | (buf[maskAt + ((i + 3) & 3)] << 24);
    const words = new Uint32Array(buf.buffer, buf.byteOffset + at + i, (len - i) >>> 2);
    for (let w = 0; w < words.length; w++) words[w] ^= key;
    i += words.length * 4;
  }
  for (; i < len; i++) buf[at + i] ^= buf[maskAt + (i & 3)];
}

function onData(socket, state, chunk) {
  let buf = state.rest ? Buffer.concat([state.rest, chunk]) : chunk;
  state.rest = null;
  if (!state.open) {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) { state.rest = buf; return; }
    const head = buf.toString('latin1', 0, end);
    const key = /sec-websocket-key:\s*(\S+)/i.exec(head)?.[1] ?? '';
    if (head.startsWith('GET /broadcast ')) {
      state.room = true;
      room.add(socket);
    }
    const accept = createHash('sha1').update(key + GUID).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    state.open = true;
    buf = buf.subarray(end + 4);
  }
  const out = [];
  let at = 0;
  while (buf.length - at >= 6) {
    const b0 = buf[at], b1 = buf[at + 1] & 0x7f;
    let len = b1, head = 2;
    if (len === 126) { if (buf.length - at < 8) break; len = buf.readUInt16BE(at + 2); head = 4; }
    else if (len === 127) { if (buf.length - at < 14) break; len = Number(buf.readBigUInt64BE(at + 2)); head = 10; }
    if (buf.length - at < head + 4 + len) break;
    const maskAt = at + head, dataAt = maskAt + 4;
    unmask(buf, dataAt, len, maskAt);
    const outHead = len < 126 ? Buffer.from([b0, len]) : len < 65536 ? Buffer.from([b0, 126, len >> 8, len & 255]) : (() => { const h = Buffer.alloc(10); h[0] = b0; h[1] = 127; h.writeBigUInt64BE(BigInt(len), 2); return h; })();
    out.push(outHead, buf.subarray(dataAt, dataAt + len));
    at = dataAt + len;
    if ((b0 & 0x0f) === 8) { socket.end(Buffer.concat(out)); return; }
  }
  if (at < buf.length) state.rest = Buffer.from(buf.subarray(at));
  if (out.length === 0) return;
  const bytes = Buffer.concat(out);
  if (!state.room) socket.write(bytes);
  else for (const peer of room) peer.write(bytes); // framed once, the same bytes to every receiver
}

const room = new Set();

createServer({ noDelay: true }, (socket) => {
  const state = { open: false, rest: null, room: false };
  socket.on('data', (chunk) => onData(socket, state, chunk));
  socket.on('close', () => room.delete(socket));
  socket.on('error', () => socket.destroy());
}).listen(port, '127.0.0.1', () => console.log(`listening on ws://127.0.0.1:${port}`));
process.on('SIGTERM', () => process.exit(0));
