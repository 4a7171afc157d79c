// A minimal WebSocket echo server on raw `net`, used to benchmark *clients*: it must not be the
// bottleneck, and it is the same server for every client under test. It hand-parses the upgrade
// (no extensions, no subprotocols), then echoes every frame back unmasked with the same opcode and
// FIN bit. Pings get pongs, pongs are dropped, a close gets its close echoed and the socket ended.
//
// Two paths keep it cheap: small frames that sit whole in one read are copied (unmasked) into one
// output buffer per read; larger frames, and frames split across reads, are streamed — their
// payload is unmasked in place in the read buffer and written as is, with no reassembly.
// Usage: node fast-echo-server.mjs PORT
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';

const port = Number(process.argv[2] ?? 9003);
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Frames up to this size that sit whole in one read go through the copying (batched) path. */
const SMALL = 4096;

/** In-place unmasking: native from bufferutil when installed (a dev dependency), JS otherwise. */
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
  const match = /^sec-websocket-key:[ \t]*(\S+)/im.exec(head);
  if (!match) {
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    return false;
  }
  const accept = createHash('sha1').update(match[1] + GUID).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  return true;
}

/** Total header size (with the mask) of the frame at `at`, or 0 if fewer than 2 bytes are there. */
function headerSize(buf, at, end) {
  if (end - at < 2) return 0;
  const len7 = buf[at + 1] & 0x7f;
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (buf[at + 1] & 0x80 ? 4 : 0);
}

function payloadLength(buf, at) {
  const len7 = buf[at + 1] & 0x7f;
  if (len7 === 126) return buf.readUInt16BE(at + 2);
  if (len7 === 127) return buf.readUInt32BE(at + 2) * 2 ** 32 + buf.readUInt32BE(at + 6);
  return len7;
}

/** The first byte of the reply to a frame whose first byte is `first`, or -1 for no reply. */
function replyByte(first) {
  const opcode = first & 0x0f;
  if (opcode === 0x9) return (first & 0xf0) | 0xa; // ping -> pong
  if (opcode === 0xa) return -1; // pong: nothing to answer
  return first;
}

/** Writes an unmasked header for `length` bytes at `at` of `out`; returns the end offset. */
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

const outHeaderSize = (length) => (length < 126 ? 2 : length < 65536 ? 4 : 10);

/** The mask rotated so that unmasking can start at `phase` bytes into the payload. */
function rotated(mask, phase) {
  if (phase === 0) return mask;
  return Buffer.from([mask[phase], mask[(phase + 1) & 3], mask[(phase + 2) & 3], mask[(phase + 3) & 3]]);
}

class Echo {
  constructor(socket) {
    this.socket = socket;
    this.head = Buffer.alloc(14); // a header split across reads
    this.headLen = 0;
    this.remaining = 0; // payload bytes still to stream for the current large frame
    this.mask = null;
    this.phase = 0;
    this.drop = false; // streaming a frame that gets no reply (a pong)
    this.closing = false; // the current frame is a close: end the socket once it is through
    this.ended = false;
  }

  onFrames(chunk, pos) {
    const pieces = [];
    let batch = []; // small frames: [first, payloadStart, length, maskAt] ...
    let batchSize = 0;
    const flush = () => {
      if (batch.length) pieces.push(buildBatch(chunk, batch, batchSize));
      batch = [];
      batchSize = 0;
    };
    while (pos < chunk.length && !this.ended) {
      if (this.remaining > 0) {
        pos = this.stream(chunk, pos, pieces);
        continue;
      }
      // The header: straight from the chunk, or gathered across reads into this.head.
      let src = chunk;
      let at = pos;
      let size = this.headLen ? 0 : headerSize(chunk, pos, chunk.length);
      if (this.headLen || size === 0 || chunk.length - pos < size) {
        while (pos < chunk.length && (this.headLen < 2 || this.headLen < headerSize(this.head, 0, this.headLen))) {
          this.head[this.headLen++] = chunk[pos++];
        }
        if (this.headLen < 2 || this.headLen < headerSize(this.head, 0, this.headLen)) break;
        src = this.head;
        at = 0;
        size = this.headLen;
        this.headLen = 0;
      } else {
        pos += size;
      }
      const first = src[at];
      const length = payloadLength(src, at);
      const masked = (src[at + 1] & 0x80) !== 0;
      const reply = replyByte(first);
      const isClose = (first & 0x0f) === 0x8;
      if (src === chunk && length <= SMALL && chunk.length - pos >= length) {
        if (reply >= 0) {
          batch.push(reply, pos, length, masked ? pos - 4 : -1);
          batchSize += outHeaderSize(length) + length;
        }
        pos += length;
        if (isClose) this.ended = true;
        continue;
      }
      flush();
      if (reply >= 0) {
        const header = Buffer.allocUnsafe(outHeaderSize(length));
        writeHeader(header, 0, reply, length);
        pieces.push(header);
      }
      this.remaining = length;
      this.mask = masked ? Buffer.from(src.subarray(at + size - 4, at + size)) : null;
      this.phase = 0;
      this.drop = reply < 0;
      this.closing = isClose;
      if (length === 0 && isClose) this.ended = true;
    }
    flush();
    this.write(pieces);
    if (this.ended) this.socket.end();
  }

  /** Streams the next part of a large frame's payload from `chunk`; returns the new position. */
  stream(chunk, pos, pieces) {
    const n = Math.min(this.remaining, chunk.length - pos);
    const part = chunk.subarray(pos, pos + n);
    if (this.mask) unmask(part, rotated(this.mask, this.phase));
    this.phase = (this.phase + n) & 3;
    if (!this.drop) pieces.push(part);
    this.remaining -= n;
    if (this.remaining === 0 && this.closing) this.ended = true;
    return pos + n;
  }

  write(pieces) {
    if (pieces.length === 1) this.socket.write(pieces[0]);
    else if (pieces.length > 1) {
      this.socket.cork();
      for (const piece of pieces) this.socket.write(piece);
      this.socket.uncork();
    }
  }
}

/** One buffer holding the unmasked replies to a read's small frames. */
function buildBatch(chunk, batch, size) {
  const out = Buffer.allocUnsafe(size);
  let w = 0;
  for (let i = 0; i < batch.length; i += 4) {
    const start = batch[i + 1];
    const length = batch[i + 2];
    const maskAt = batch[i + 3];
    w = writeHeader(out, w, batch[i], length);
    chunk.copy(out, w, start, start + length);
    if (maskAt >= 0 && length > 0) unmask(out.subarray(w, w + length), chunk.subarray(maskAt, maskAt + 4));
    w += length;
  }
  return out;
}

const server = createServer({ noDelay: true }, (socket) => {
  let request = null; // the request head until the upgrade is done
  let echo = null;
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk) => {
    if (echo) return echo.onFrames(chunk, 0);
    request = request ? Buffer.concat([request, chunk]) : chunk;
    const end = request.indexOf('\r\n\r\n');
    if (end < 0) {
      if (request.length > 16384) socket.destroy();
      return;
    }
    if (!handshake(socket, request.toString('latin1', 0, end))) return;
    echo = new Echo(socket);
    const rest = request.subarray(end + 4);
    request = null;
    if (rest.length) echo.onFrames(rest, 0);
  });
});

server.listen(port, '127.0.0.1', () => console.log(`listening on ws://127.0.0.1:${port}`));
process.on('SIGTERM', () => process.exit(0));
