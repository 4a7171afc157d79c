// Low-level WebSocket wire helpers: frame encoding, an incremental frame
// parser that reports protocol violations instead of throwing, a strict
// incremental UTF-8 validator and the opening-handshake key computation.
// Written from RFC 6455; intentionally lenient on *encoding* (so the fuzzer
// can emit broken frames) and strict on *decoding* (so the peer is judged).

import crypto from 'node:crypto';

export const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export function acceptKey(key) {
  return crypto.createHash('sha1').update(key + WS_GUID).digest('base64');
}

export const OP = { CONT: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 };

/** Apply (or remove) a 4-byte XOR mask, starting at mask offset `offset`. */
export function applyMask(buf, key, offset = 0) {
  const out = Buffer.allocUnsafe(buf.length);
  for (let i = 0; i < buf.length; i++) out[i] = buf[i] ^ key[(i + offset) & 3];
  return out;
}

/**
 * Encode a frame header. `length` is the payload length announced on the wire
 * (always minimally encoded, like Autobahn). `maskKey` is a 4-byte Buffer or null.
 */
export function encodeHeader({ opcode, fin = true, rsv = 0, length, maskKey = null }) {
  let lenBytes;
  let len7;
  if (length < 126) {
    len7 = length;
    lenBytes = Buffer.alloc(0);
  } else if (length < 65536) {
    len7 = 126;
    lenBytes = Buffer.alloc(2);
    lenBytes.writeUInt16BE(length);
  } else {
    len7 = 127;
    lenBytes = Buffer.alloc(8);
    lenBytes.writeBigUInt64BE(BigInt(length));
  }
  const b0 = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f);
  const b1 = (maskKey ? 0x80 : 0) | len7;
  return Buffer.concat([Buffer.from([b0, b1]), lenBytes, maskKey ?? Buffer.alloc(0)]);
}

// Masking keys come from a pool of crypto-random octets (one randomFillSync
// per 1024 keys instead of one per frame).
const KEY_POOL = Buffer.alloc(4096);
let keyPoolPos = KEY_POOL.length;
export function randomMaskKey() {
  if (keyPoolPos >= KEY_POOL.length) { crypto.randomFillSync(KEY_POOL); keyPoolPos = 0; }
  const k = Buffer.from(KEY_POOL.subarray(keyPoolPos, keyPoolPos + 4));
  keyPoolPos += 4;
  return k;
}

/** Encode a complete frame; masks the payload when `mask` is true. */
export function encodeFrame({ opcode, payload = Buffer.alloc(0), fin = true, rsv = 0, mask = false }) {
  const maskKey = mask ? randomMaskKey() : null;
  const header = encodeHeader({ opcode, fin, rsv, length: payload.length, maskKey });
  const body = maskKey ? applyMask(payload, maskKey) : payload;
  return Buffer.concat([header, body]);
}

/**
 * Strict incremental UTF-8 validator (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF). validate() returns { valid, complete }:
 * valid=false as soon as an octet makes the sequence invalid (fail-fast);
 * complete=true when the data seen so far ends on a code point boundary.
 */
export class Utf8Validator {
  constructor() { this.reset(); }
  reset() { this.need = 0; this.lo = 0x80; this.hi = 0xbf; this.bad = false; }
  validate(buf) {
    if (this.bad) return { valid: false, complete: false };
    for (let i = 0; i < buf.length; i++) {
      const b = buf[i];
      if (this.need === 0) {
        if (b <= 0x7f) continue;
        if (b >= 0xc2 && b <= 0xdf) { this.need = 1; this.lo = 0x80; this.hi = 0xbf; }
        else if (b === 0xe0) { this.need = 2; this.lo = 0xa0; this.hi = 0xbf; }
        else if ((b >= 0xe1 && b <= 0xec) || b === 0xee || b === 0xef) { this.need = 2; this.lo = 0x80; this.hi = 0xbf; }
        else if (b === 0xed) { this.need = 2; this.lo = 0x80; this.hi = 0x9f; }
        else if (b === 0xf0) { this.need = 3; this.lo = 0x90; this.hi = 0xbf; }
        else if (b >= 0xf1 && b <= 0xf3) { this.need = 3; this.lo = 0x80; this.hi = 0xbf; }
        else if (b === 0xf4) { this.need = 3; this.lo = 0x80; this.hi = 0x8f; }
        else { this.bad = true; return { valid: false, complete: false }; }
      } else {
        if (b < this.lo || b > this.hi) { this.bad = true; return { valid: false, complete: false }; }
        this.need--; this.lo = 0x80; this.hi = 0xbf;
      }
    }
    return { valid: true, complete: this.need === 0 };
  }
}

export function isValidUtf8(buf) {
  const r = new Utf8Validator().validate(buf);
  return r.valid && r.complete;
}

/** Close codes a peer may legitimately put on the wire (RFC 6455 7.4 + IANA registry). */
export function isValidCloseCode(code) {
  if (code >= 3000 && code <= 4999) return true;
  return [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014].includes(code);
}

const MAX_FRAME = 64 * 1024 * 1024;

/**
 * Incremental frame parser for frames coming *from the peer under test*.
 * Header checks follow the order used by Autobahn's protocol implementation.
 * Callbacks:
 *   onViolation(reason)         - a protocol violation (caller decides what to do)
 *   onFrame({opcode, fin, rsv, masked, payload})
 *   shouldContinue()            - false stops parsing (connection closed)
 */
export class FrameParser {
  constructor({ expectMasked, onViolation, onFrame, shouldContinue, rsv1Allowed = false }) {
    this.expectMasked = expectMasked;
    // permessage-deflate negotiated: RSV1 marks the first frame of a compressed message
    this.rsv1Allowed = rsv1Allowed;
    this.onViolation = onViolation;
    this.onFrame = onFrame;
    this.shouldContinue = shouldContinue;
    this.buf = Buffer.alloc(0);
    this.insideMessage = false;
    this.dead = false;
  }

  push(chunk) {
    if (this.dead) return;
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (!this.dead && this.shouldContinue() && this.parseOne()) { /* loop */ }
  }

  // Returns true when a frame was consumed and more parsing may be possible.
  parseOne() {
    const buf = this.buf;
    if (buf.length < 2) return false;
    const b0 = buf[0];
    const b1 = buf[1];
    const fin = (b0 & 0x80) !== 0;
    const rsv = (b0 & 0x70) >> 4;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    const len7 = b1 & 0x7f;

    if (!this.headerChecked) {
      this.headerChecked = true;
      const v = this.checkHeader({ fin, rsv, opcode, masked, len7 });
      if (v) this.onViolation(v);
      if (this.dead || !this.shouldContinue()) return false;
    }

    let off = 2;
    let length = len7;
    if (len7 === 126) {
      if (buf.length < off + 2) return false;
      length = buf.readUInt16BE(off);
      off += 2;
      if (length < 126 && !this.lenChecked) { this.lenChecked = true; this.onViolation('invalid frame length (not using minimal length encoding)'); }
    } else if (len7 === 127) {
      if (buf.length < off + 8) return false;
      const big = buf.readBigUInt64BE(off);
      off += 8;
      if (big > 0x7fffffffffffffffn) { this.onViolation('invalid frame length (>2^63)'); this.dead = true; return false; }
      if (big > BigInt(MAX_FRAME)) { this.onViolation(`frame length ${big} exceeds what this suite accepts`); this.dead = true; return false; }
      length = Number(big);
      if (length < 65536 && !this.lenChecked) { this.lenChecked = true; this.onViolation('invalid frame length (not using minimal length encoding)'); }
    }
    if (this.dead || !this.shouldContinue()) return false;
    let key = null;
    if (masked) {
      if (buf.length < off + 4) return false;
      key = buf.subarray(off, off + 4);
      off += 4;
      // RFC 6455 5.3: a fresh, unpredictable key per frame. An all-zero key or
      // the same key as the previous frame is reported (addition to Autobahn).
      if (this.expectMasked && !this.keyChecked) {
        this.keyChecked = true;
        if (key.readUInt32BE(0) === 0) this.onViolation('all-zero masking key');
        else if (this.lastKey && key.equals(this.lastKey)) this.onViolation(`masking key ${key.toString('hex')} reused from the previous frame`);
        this.lastKey = Buffer.from(key);
        if (this.dead || !this.shouldContinue()) return false;
      }
    }
    if (buf.length < off + length) return false;
    let payload = Buffer.from(buf.subarray(off, off + length));
    if (key) payload = applyMask(payload, key);
    this.buf = buf.subarray(off + length);
    this.headerChecked = false;
    this.lenChecked = false;
    this.keyChecked = false;
    if (opcode < 8 && (opcode === 0 || opcode === 1 || opcode === 2)) {
      if (opcode !== 0) this.insideMessage = !fin; else if (fin) this.insideMessage = false;
    }
    this.onFrame({ opcode, fin, rsv, masked, payload });
    return true;
  }

  checkHeader({ fin, rsv, opcode, masked, len7 }) {
    if (rsv !== 0) {
      if (!this.rsv1Allowed) return `RSV = ${rsv} and no extension negotiated`;
      if (rsv !== 4) return `RSV = ${rsv} (only RSV1 is defined by the negotiated permessage-deflate)`;
      if (opcode >= 8) return `RSV1 set on a control frame (opcode ${opcode}); permessage-deflate uses RSV1 only on data messages`;
      if (opcode === 0) return 'RSV1 set on a continuation frame; permessage-deflate sets RSV1 only on the first frame of a message (RFC 7692 6)';
    }
    if (this.expectMasked && !masked) return 'unmasked client-to-server frame';
    if (!this.expectMasked && masked) return 'masked server-to-client frame';
    if (opcode > 7) {
      if (!fin) return 'fragmented control frame';
      if (len7 > 125) return 'control frame with payload length > 125 octets';
      if (![8, 9, 10].includes(opcode)) return `control frame using reserved opcode ${opcode}`;
      if (opcode === 8 && len7 === 1) return 'close control frame with payload length 1';
    } else {
      if (![0, 1, 2].includes(opcode)) return `data frame using reserved opcode ${opcode}`;
      if (!this.insideMessage && opcode === 0) return 'continuation data frame outside fragmented message';
      if (this.insideMessage && opcode !== 0) return 'non-continuation data frame while inside fragmented message';
    }
    return null;
  }
}
