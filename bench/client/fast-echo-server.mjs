// A minimal WebSocket echo server on raw `net`, used to benchmark *clients*: it must not be the
// bottleneck, and it is the same server for every client under test. It hand-parses the upgrade
// (no extensions, no subprotocols), then echoes every frame back unmasked with the same opcode and
// FIN bit, answering a batch of frames with a single write. Pings get pongs; a close gets a close.
// Usage: node fast-echo-server.mjs PORT
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';

const port = Number(process.argv[2] ?? 9003);
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Native in-place unmasking from bufferutil when installed (a dev dependency); JS otherwise. */
const unmask = loadUnmask();

function loadUnmask() {
  try {
    const native = createRequire(import.meta.url)('bufferutil');
    return (buf, mask) => (buf.length < 32 ? jsUnmask(buf, mask) : native.unmask(buf, mask));
  } catch {
    return jsUnmask;
  }
}

function jsUnmask(buf, mask) {
  for (let i = 0; i < buf.length; i++) buf[i] ^= mask[i & 3];
}

function handshake(socket, head) {
  const match = /^sec-websocket-key:\s*(\S+)\s*$/im.exec(head);
  if (!match) {
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    return false;
  }
  const accept = createHash('sha1').update(match[1] + GUID).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  return true;
}

/** Header size of an unmasked frame carrying `length` bytes. */
const headerSize = (length) => (length < 126 ? 2 : length < 65536 ? 4 : 10);

function writeHeader(out, at, first, length) {
  out[at] = first;
  if (length < 126) {
    out[at + 1] = length;
    return at + 2;
  }
  if (length < 65536) {
    out[at + 1] = 126;
    out.writeUInt16BE(length, at + 2);
    return at + 4;
  }
  out[at + 1] = 127;
  out.writeUInt32BE(Math.floor(length / 2 ** 32), at + 2);
  out.writeUInt32BE(length >>> 0, at + 6);
  return at + 10;
}

/**
 * Parses the complete frames at the start of `buf` and returns { out, used, close }:
 * `out` the bytes to send back (or null), `used` the bytes consumed.
 */
function echoFrames(buf) {
  const frames = [];
  let at = 0;
  let outSize = 0;
  let close = false;
  while (buf.length - at >= 2 && !close) {
    const first = buf[at];
    const masked = buf[at + 1] & 0x80;
    let length = buf[at + 1] & 0x7f;
    let p = at + 2;
    if (length === 126) {
      if (buf.length - p < 2) break;
      length = buf.readUInt16BE(p);
      p += 2;
    } else if (length === 127) {
      if (buf.length - p < 8) break;
      length = buf.readUInt32BE(p) * 2 ** 32 + buf.readUInt32BE(p + 4);
      p += 8;
    }
    const maskAt = p;
    if (masked) p += 4;
    if (buf.length - p < length) break;
    let opcode = first & 0x0f;
    let reply = first;
    if (opcode === 0x9) reply = (first & 0xf0) | 0xa; // ping -> pong
    if (opcode === 0xa) reply = -1; // pong: nothing to answer
    if (opcode === 0x8) close = true;
    if (reply >= 0) {
      frames.push(reply, p, length, masked ? maskAt : -1);
      outSize += headerSize(length) + length;
    }
    at = p + length;
  }
  if (frames.length === 0) return { out: null, used: at, close };
  const out = Buffer.allocUnsafe(outSize);
  let w = 0;
  for (let i = 0; i < frames.length; i += 4) {
    const [reply, start, length, maskAt] = [frames[i], frames[i + 1], frames[i + 2], frames[i + 3]];
    w = writeHeader(out, w, reply, length);
    buf.copy(out, w, start, start + length);
    if (maskAt >= 0) unmask(out.subarray(w, w + length), buf.subarray(maskAt, maskAt + 4));
    w += length;
  }
  return { out, used: at, close };
}

const server = createServer({ noDelay: true }, (socket) => {
  let pending = null; // unconsumed bytes (a partial frame or a partial request head)
  let open = false;
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk) => {
    let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = null;
    if (!open) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buf.length > 16384) socket.destroy();
        else pending = buf;
        return;
      }
      if (!handshake(socket, buf.toString('latin1', 0, end))) return;
      open = true;
      buf = buf.subarray(end + 4);
    }
    const { out, used, close } = echoFrames(buf);
    if (out) socket.write(out);
    if (close) {
      socket.end();
      return;
    }
    if (used < buf.length) pending = Buffer.from(buf.subarray(used));
  });
});

server.listen(port, '127.0.0.1', () => console.log(`listening on ws://127.0.0.1:${port}`));
process.on('SIGTERM', () => process.exit(0));
