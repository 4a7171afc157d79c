import { randomFillSync } from 'node:crypto';
import { simdMaskCopy, simdMaskInPlace } from './mask-simd.js';

/**
 * RFC 6455 §5.3 masking: `octet[i] ^= key[i % 4]`. The same operation masks and unmasks.
 *
 * Processed in 32-bit words over the aligned middle of the range; only the ≤ 3 unaligned bytes at
 * each end (and payloads under {@link WORD_THRESHOLD}) are done byte by byte.
 */

const WORD_THRESHOLD = 32;
/**
 * From this many bytes on, WebAssembly SIMD (mask-simd.ts) beats the word loop even with its two
 * copies (measured on Node 20: equal at 1 KiB, 2.9× at 8 KiB, 3.2× at 64 KiB).
 */
export const SIMD_THRESHOLD = 2048;
/**
 * From this many bytes on, a range in the SIMD module's own memory (the read buffer, see
 * simdReadBuffer) is masked there by the module, which needs no copy: 2.5 times the word loop at
 * 64 bytes on Node 20, 4 to 5 times at 1 KiB.
 */
const SIMD_IN_PLACE_THRESHOLD = WORD_THRESHOLD;
/** Uint32Array uses the platform's byte order; the key word is little-endian. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * XORs `buf[start, end)` in place with the 4-byte `key` starting at key position `phase` (0–3).
 * Returns the phase after the range, to continue masking the same frame in the next piece.
 */
export function applyMask(buf: Uint8Array, start: number, end: number, key: Uint8Array, phase = 0): number {
  return applyMaskWord(buf, start, end, (key[0]! | (key[1]! << 8) | (key[2]! << 16) | (key[3]! << 24)) >>> 0, phase);
}

/**
 * {@link applyMask} with the key as one 32-bit number: its little-endian bytes are the key's
 * bytes in order (`key[0] | key[1] << 8 | ...`), so a parser keeps a key in a field, not a Buffer.
 */
export function applyMaskWord(buf: Uint8Array, start: number, end: number, key: number, phase = 0): number {
  const length = end - start;
  if (length >= SIMD_IN_PLACE_THRESHOLD && simdMaskInPlace(buf, start, end, rotateKey(key, phase))) return (phase + length) & 3;
  if (length >= SIMD_THRESHOLD && simdMaskCopy(buf, start, end, buf, start, rotateKey(key, phase))) return (phase + length) & 3;
  let i = start;
  if (length >= WORD_THRESHOLD) {
    // Head: bytes until the absolute address is 4-aligned.
    const misalign = (buf.byteOffset + i) & 3;
    if (misalign !== 0) {
      const head = 4 - misalign;
      for (let k = 0; k < head; k++, i++) buf[i] ^= key >>> (((phase + i - start) & 3) << 3);
    }
    // The key rotated to start at this byte's phase, as a little-endian word.
    const rotated = rotateKey(key, phase + i - start);
    const word = LITTLE_ENDIAN ? rotated : ((rotated >>> 24) | ((rotated >>> 8) & 0xff00) | ((rotated << 8) & 0xff0000) | (rotated << 24)) >>> 0;
    const words = (end - i) >>> 2;
    const view = wordsOf(buf.buffer);
    // Unrolled by 8: twice the speed of the plain loop on V8 for large payloads.
    let w = (buf.byteOffset + i) >>> 2;
    const last = w + words;
    for (; w + 8 <= last; w += 8) {
      view[w]! ^= word;
      view[w + 1]! ^= word;
      view[w + 2]! ^= word;
      view[w + 3]! ^= word;
      view[w + 4]! ^= word;
      view[w + 5]! ^= word;
      view[w + 6]! ^= word;
      view[w + 7]! ^= word;
    }
    for (; w < last; w++) view[w]! ^= word;
    i += words << 2;
  }
  for (; i < end; i++) buf[i] ^= key >>> (((phase + i - start) & 3) << 3);
  return (phase + length) & 3;
}

/**
 * The 32-bit view of the last buffer masked, kept: the frames of one socket read share its
 * ArrayBuffer, so they share one view instead of making one each (a view costs more than
 * masking a short payload). Only buffers up to 1 MiB are kept, and only while the same length.
 */
const VIEW_CACHE_LIMIT = 1024 * 1024;
let viewBuffer: ArrayBufferLike | null = null;
let viewWords: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

function wordsOf(buffer: ArrayBufferLike): Uint32Array<ArrayBufferLike> {
  const count = buffer.byteLength >>> 2;
  if (buffer === viewBuffer && viewWords.length === count) return viewWords;
  const words = new Uint32Array(buffer, 0, count);
  if (buffer.byteLength <= VIEW_CACHE_LIMIT) {
    viewBuffer = buffer;
    viewWords = words;
  }
  return words;
}

/**
 * `dst[dstStart ...] = src[start, end)` masked with `key` from key position `phase`, in one pass
 * for large ranges (the copy a reassembly or a client frame needs anyway, fused with the XOR).
 * `src` is left as it was. Returns the phase after the range.
 */
export function maskCopy(src: Uint8Array, start: number, end: number, dst: Uint8Array, dstStart: number, key: number, phase = 0): number {
  const length = end - start;
  if (length >= SIMD_THRESHOLD && simdMaskCopy(src, start, end, dst, dstStart, rotateKey(key, phase))) return (phase + length) & 3;
  dst.set(src.subarray(start, end), dstStart);
  return applyMaskWord(dst, dstStart, dstStart + length, key, phase);
}

/** The key word rotated so that its first byte is the key's byte at `phase`. */
function rotateKey(key: number, phase: number): number {
  const shift = (phase & 3) << 3;
  return shift === 0 ? key : ((key >>> shift) | (key << (32 - shift))) >>> 0;
}

/** Source of masking keys. RFC 6455 §5.3: keys must be unpredictable, so they come from a CSPRNG. */
export interface MaskKeySource {
  /** Writes a fresh 4-byte key into `target[offset, offset + 4)`. */
  fill(target: Uint8Array, offset: number): void;
}

const POOL_SIZE = 8192;

/** Draws keys from `crypto.randomFillSync` in blocks, so one key costs no system call. */
export class RandomMaskKeys implements MaskKeySource {
  private readonly pool = Buffer.allocUnsafe(POOL_SIZE);
  private used = POOL_SIZE;

  fill(target: Uint8Array, offset: number): void {
    if (this.used === POOL_SIZE) {
      randomFillSync(this.pool);
      this.used = 0;
    }
    const p = this.pool;
    const u = this.used;
    target[offset] = p[u]!;
    target[offset + 1] = p[u + 1]!;
    target[offset + 2] = p[u + 2]!;
    target[offset + 3] = p[u + 3]!;
    this.used = u + 4;
  }
}

/** The process-wide default key source. */
export const defaultMaskKeys: MaskKeySource = new RandomMaskKeys();
