import { type Opcode } from '../protocol/opcodes.js';
import { applyMaskWord, type MaskKeySource } from '../protocol/mask.js';
import { encodeUtf8Into } from '../protocol/utf8.js';

/**
 * Small frames are written straight into a shared slab: the header, then the payload (a string
 * is UTF-8-encoded in place, never through a temporary Buffer), masked in place for a client.
 * Successive frames of one connection land side by side, so a burst of replies to one read
 * leaves as one slice of the slab — no buffer per frame and no concatenation.
 *
 * A full slab is reused when nothing can still read its frames: every write batcher that took
 * frames of it (a lease, see {@link Slab}) handed them to the kernel during write(), and none
 * went anywhere whose end is not known (a stream's queue, a write that waits in the handle, a
 * fan-out to many receivers: the slab is then marked shared, and left to the garbage collector
 * as it fills, as every slab was before). A slab whose last lease ends after a new one was begun
 * is kept as the spare, for the next one. Fresh 64 KiB ArrayBuffers at the rate a server writes
 * are what drove Node 24 and 26 into back-to-back full collections (external memory pressure)
 * under small-message echo: reused, they cost nothing.
 */

const SLAB_SIZE = 64 * 1024;
/** Payloads up to this many bytes (for a string: up to 3 bytes per UTF-16 unit) are framed here. */
export const SLAB_PAYLOAD_LIMIT = 4096;
/** The largest frame: header (2 + 2 length bytes + 4 mask bytes) and payload. */
const MAX_FRAME = 8 + SLAB_PAYLOAD_LIMIT * 3;

/**
 * One slab of memory for frames, and who may still read the frames in it. Write batchers take a
 * lease when they are given frames of it ({@link leaseSlab}) and end it when they write them
 * ({@link releaseSlab}); anything else that keeps a frame marks the slab shared ({@link shareSlab}).
 */
export class Slab {
  readonly buffer: Buffer;
  /** Batchers holding frames of this slab not yet handed to the kernel. */
  leases = 0;
  /** Frames of it went where their end is not known: never reused. */
  shared = false;

  constructor(buffer: Buffer = Buffer.allocUnsafeSlow(SLAB_SIZE)) {
    this.buffer = buffer;
  }
}

/** Where the last frame went: `slab.buffer[start, end)`, with `payloadLength` payload bytes. */
export const slabFrame = { slab: new Slab(), start: 0, end: 0, payloadLength: 0 };
let used = 0;
/** A slab whose last lease ended while another was being filled: the next one to fill. */
let spare: Slab | null = null;

/** Takes a lease on `slab` for frames of it now pending in a write batcher. */
export function leaseSlab(slab: Slab): void {
  slab.leases++;
}

/**
 * Ends a lease: the frames were handed to the kernel during write() (`written`), or went on to a
 * queue whose end is not known (the slab is then never reused). A slab no longer filled and now
 * free becomes the spare.
 */
export function releaseSlab(slab: Slab, written: boolean): void {
  slab.leases--;
  if (!written) slab.shared = true;
  else if (slab.leases === 0 && !slab.shared && slab !== slabFrame.slab && spare === null) spare = slab;
}

/** Frames of `slab` are kept by something that holds no lease (a fan-out): it is never reused. */
export function shareSlab(slab: Slab): void {
  slab.shared = true;
}

/** Whether a slab can be filled again from its start: nothing can read its frames any more. */
function free(slab: Slab): boolean {
  return slab.leases === 0 && !slab.shared;
}

/** Starts filling a slab from its start: this one again if it is free, else the spare or a new one. */
function nextSlab(): void {
  used = 0;
  if (free(slabFrame.slab)) return;
  const next = spare !== null && free(spare) ? spare : new Slab();
  spare = null;
  slabFrame.slab = next;
}

/**
 * Frames `payload` (at most SLAB_PAYLOAD_LIMIT bytes, or units for a string) as one complete,
 * unfragmented, uncompressed frame; the result is described by {@link slabFrame}. Whoever keeps
 * the frame past the call leases the slab (a write batcher) or shares it.
 */
export function frameIntoSlab(opcode: Opcode, payload: string | Buffer, maskKeys: MaskKeySource | null): void {
  if (used + MAX_FRAME > SLAB_SIZE) nextSlab();
  const slab = slabFrame.slab.buffer;
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
