import { type Opcode } from '../protocol/opcodes.js';
import { applyMaskWord, type MaskKeySource } from '../protocol/mask.js';
import { encodeUtf8Into } from '../protocol/utf8.js';

/**
 * Small frames are written straight into a shared slab: the header, then the payload (a string
 * is UTF-8-encoded in place, never through a temporary Buffer), masked in place for a client.
 * Successive frames of one connection land side by side, so a burst of replies to one read
 * leaves as one slice of the slab — no buffer per frame and no concatenation. A slab is never
 * reused: when full, a new one is started, and the old one lives as long as slices of it are
 * waiting to be written.
 */

const SLAB_SIZE = 64 * 1024;
/** Payloads up to this many bytes (for a string: up to 3 bytes per UTF-16 unit) are framed here. */
export const SLAB_PAYLOAD_LIMIT = 4096;
/** The largest frame: header (2 + 2 length bytes + 4 mask bytes) and payload. */
const MAX_FRAME = 8 + SLAB_PAYLOAD_LIMIT * 3;

/** Where the last frame went: `buffer[start, end)`, with `payloadLength` payload bytes. */
export const slabFrame = { buffer: Buffer.allocUnsafeSlow(SLAB_SIZE), start: 0, end: 0, payloadLength: 0 };
let used = 0;

/**
 * Frames `payload` (at most SLAB_PAYLOAD_LIMIT bytes, or units for a string) as one complete,
 * unfragmented, uncompressed frame; the result is described by {@link slabFrame}.
 */
export function frameIntoSlab(opcode: Opcode, payload: string | Buffer, maskKeys: MaskKeySource | null): void {
  if (used + MAX_FRAME > SLAB_SIZE) {
    slabFrame.buffer = Buffer.allocUnsafeSlow(SLAB_SIZE);
    used = 0;
  }
  const slab = slabFrame.buffer;
  const start = used;
  let length: number;
  let headerLength: number;
  if (typeof payload === 'string') {
    // Short strings: the 2-byte length form is certain, so encode first and fill the length after.
    if (payload.length * 3 < 126) {
      headerLength = maskKeys ? 6 : 2;
      length = encodeUtf8Into(slab, payload, start + headerLength);
    } else {
      length = Buffer.byteLength(payload, 'utf8');
      headerLength = (length < 126 ? 2 : 4) + (maskKeys ? 4 : 0);
      encodeUtf8Into(slab, payload, start + headerLength);
    }
  } else {
    length = payload.length;
    headerLength = (length < 126 ? 2 : 4) + (maskKeys ? 4 : 0);
    payload.copy(slab, start + headerLength);
  }
  slab[start] = 0x80 | opcode;
  let p = start + 2;
  if (length < 126) {
    slab[start + 1] = (maskKeys ? 0x80 : 0) | length;
  } else {
    slab[start + 1] = (maskKeys ? 0x80 : 0) | 126;
    slab[p] = length >>> 8;
    slab[p + 1] = length & 0xff;
    p += 2;
  }
  if (maskKeys) {
    maskKeys.fill(slab, p);
    applyMaskWord(slab, p + 4, p + 4 + length, slab.readUInt32LE(p));
  }
  used = start + headerLength + length;
  slabFrame.start = start;
  slabFrame.end = used;
  slabFrame.payloadLength = length;
}
