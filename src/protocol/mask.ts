import { randomFillSync } from 'node:crypto';

/**
 * RFC 6455 §5.3 masking: `octet[i] ^= key[i % 4]`. The same operation masks and unmasks.
 *
 * Processed in 32-bit words over the aligned middle of the range; only the ≤ 3 unaligned bytes at
 * each end (and payloads under {@link WORD_THRESHOLD}) are done byte by byte.
 */

const WORD_THRESHOLD = 32;
const keyBytes = new Uint8Array(4);
const keyWord = new Uint32Array(keyBytes.buffer);

/**
 * XORs `buf[start, end)` in place with the 4-byte `key` starting at key position `phase` (0–3).
 * Returns the phase after the range, to continue masking the same frame in the next piece.
 */
export function applyMask(buf: Uint8Array, start: number, end: number, key: Uint8Array, phase = 0): number {
  const length = end - start;
  if (length < WORD_THRESHOLD) {
    for (let i = start; i < end; i++) buf[i] ^= key[(phase + i - start) & 3]!;
    return (phase + length) & 3;
  }
  let i = start;
  // Head: bytes until the absolute address is 4-aligned.
  const misalign = (buf.byteOffset + i) & 3;
  if (misalign !== 0) {
    const head = 4 - misalign;
    for (let k = 0; k < head; k++, i++) buf[i] ^= key[(phase + i - start) & 3]!;
  }
  const keyPos = (phase + i - start) & 3;
  keyBytes[0] = key[keyPos]!;
  keyBytes[1] = key[(keyPos + 1) & 3]!;
  keyBytes[2] = key[(keyPos + 2) & 3]!;
  keyBytes[3] = key[(keyPos + 3) & 3]!;
  const word = keyWord[0]!;
  const words = (end - i) >>> 2;
  const view = new Uint32Array(buf.buffer, buf.byteOffset + i, words);
  for (let w = 0; w < words; w++) view[w]! ^= word;
  i += words << 2;
  for (; i < end; i++) buf[i] ^= key[(phase + i - start) & 3]!;
  return (phase + length) & 3;
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
