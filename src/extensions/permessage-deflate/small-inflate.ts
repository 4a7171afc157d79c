/**
 * A DEFLATE decoder (RFC 1951) in TypeScript for small permessage-deflate messages.
 *
 * Node's zlib is fast per byte but costs a new zlib stream object per one-shot call, which for a
 * message of a few dozen bytes is most of the work. This decoder has no setup cost: it decodes
 * a message's blocks directly, with the previous plaintext (context takeover) as the window for
 * back-references.
 *
 * It only ever answers for input it fully understands. For anything else — an invalid code, a
 * distance before the window, input ending inside a block, output beyond the limit — it returns
 * null and the caller asks zlib, whose answer (data or error) is authoritative. So it can be
 * wrong only by being slow, never by accepting what zlib would refuse... provided that what it
 * does accept it decodes exactly as zlib would, which the tests check against zlib at random.
 */

const MAX_BITS = 15;
/** RFC 7692 §7.2.2: the 4 bytes the sender removed, appended back (an empty stored block). */
const TAIL = [0x00, 0x00, 0xff, 0xff];

const LENGTH_BASE = new Uint16Array([3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]);
const LENGTH_EXTRA = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]);
const DIST_BASE = new Uint16Array([
  1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
]);
const DIST_EXTRA = new Uint8Array([0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]);
/** The order in which code length code lengths are sent (RFC 1951 §3.2.7). */
const CLEN_ORDER = new Uint8Array([16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]);

/** Codes up to this many bits are decoded with one table look-up. */
const FAST_BITS = 9;
const FAST_MASK = (1 << FAST_BITS) - 1;

/**
 * A canonical Huffman code: how many codes of each length, the symbols in code order, and a
 * look-up table indexed by the next FAST_BITS input bits (entry: symbol << 4 | code length; 0 for
 * a longer code, decoded bit by bit).
 */
class Huffman {
  readonly count = new Uint16Array(MAX_BITS + 1);
  readonly fast = new Uint16Array(1 << FAST_BITS);
  readonly symbol: Uint16Array;
  constructor(size: number) {
    this.symbol = new Uint16Array(size);
  }
}

const offsets = new Uint16Array(MAX_BITS + 1);

/**
 * Builds `h` from `lengths[0, n)`. Returns false for an over-subscribed code, and for an
 * incomplete one unless `allowSingle` and it is a single code of length 1 (zlib's rule; being
 * stricter than zlib only sends more input to zlib).
 */
function build(h: Huffman, lengths: Uint8Array, n: number, allowSingle = true): boolean {
  const count = h.count;
  count.fill(0);
  for (let s = 0; s < n; s++) count[lengths[s]!]!++;
  // The look-up table is cleared first: the tables are shared by every message of the process,
  // and one left from an earlier message would decode codes this one does not have.
  const fast = h.fast;
  fast.fill(0);
  if (count[0] === n) return true; // no codes: valid only if never used (decode then finds none and fails)
  let left = 1;
  for (let len = 1; len <= MAX_BITS; len++) {
    left = (left << 1) - count[len]!;
    if (left < 0) return false;
  }
  offsets[1] = 0;
  for (let len = 1; len < MAX_BITS; len++) offsets[len + 1] = offsets[len]! + count[len]!;
  for (let s = 0; s < n; s++) if (lengths[s] !== 0) h.symbol[offsets[lengths[s]!]!++] = s;
  // The look-up table: each short code, bit-reversed (DEFLATE sends codes from their top bit
  // while bits are taken from the bottom), fills every entry whose low bits it matches.
  let code = 0;
  let index = 0;
  for (let len = 1; len <= FAST_BITS; len++) {
    for (let k = count[len]!; k > 0; k--) {
      const entry = (h.symbol[index++]! << 4) | len;
      let reversed = 0;
      for (let b = 0; b < len; b++) reversed |= ((code >>> b) & 1) << (len - 1 - b);
      for (let r = reversed; r <= FAST_MASK; r += 1 << len) fast[r] = entry;
      code++;
    }
    code <<= 1;
  }
  return left === 0 || (allowSingle && count[1] === 1 && n - count[0]! === 1);
}

const FIXED_LITLEN = new Huffman(288);
const FIXED_DIST = new Huffman(30);
{
  const lengths = new Uint8Array(288);
  lengths.fill(8, 0, 144);
  lengths.fill(9, 144, 256);
  lengths.fill(7, 256, 280);
  lengths.fill(8, 280, 288);
  build(FIXED_LITLEN, lengths, 288);
  build(FIXED_DIST, new Uint8Array(30).fill(5), 30);
}

const DYNAMIC_LITLEN = new Huffman(288);
const DYNAMIC_DIST = new Huffman(30);
const DYNAMIC_LENGTHS = new Uint8Array(320);

const EMPTY = new Uint8Array(0);
/** The output scratch grows as a message needs; past this size it is dropped after the message. */
const SCRATCH_KEEP = 64 * 1024;

/** Thrown inside the decoder for "let zlib decide"; never escapes inflateSmall. */
const GIVE_UP = new Error('fall back to zlib');

class Decoder {
  private pos = 0;
  private bitBuf = 0;
  private bitCount = 0;
  /** Output scratch, shared by every message (kept up to SCRATCH_KEEP bytes). */
  out = Buffer.allocUnsafeSlow(4096);
  outLength = 0;
  private input: Uint8Array = EMPTY;
  private window: Uint8Array | undefined;
  private maxOutput = 0;
  // Shared scratch: decoding is synchronous and never re-entered.
  private readonly litlen = DYNAMIC_LITLEN;
  private readonly dist = DYNAMIC_DIST;
  private readonly lengths = DYNAMIC_LENGTHS;

  /** Starts a message. */
  reset(input: Uint8Array, window: Uint8Array | undefined, maxOutput: number): void {
    this.input = input;
    this.window = window;
    this.maxOutput = maxOutput;
    this.pos = 0;
    this.bitBuf = 0;
    this.bitCount = 0;
    this.outLength = 0;
    if (this.out.length > SCRATCH_KEEP) this.out = Buffer.allocUnsafeSlow(4096);
  }

  /** Total input: the message, then the 4-byte tail. */
  private get end(): number {
    return this.input.length + 4;
  }

  private byte(): number {
    const p = this.pos++;
    const input = this.input;
    if (p < input.length) return input[p]!;
    if (p < input.length + 4) return TAIL[p - input.length]!;
    throw GIVE_UP; // input ends inside a block
  }

  private bits(need: number): number {
    let buf = this.bitBuf;
    while (this.bitCount < need) {
      buf |= this.byte() << this.bitCount;
      this.bitCount += 8;
    }
    this.bitBuf = buf >>> need;
    this.bitCount -= need;
    return buf & ((1 << need) - 1);
  }

  private decode(h: Huffman): number {
    // Enough bits for a table look-up, when the input has them.
    const input = this.input;
    while (this.bitCount <= 16 && this.pos < input.length) {
      this.bitBuf |= input[this.pos++]! << this.bitCount;
      this.bitCount += 8;
    }
    const entry = h.fast[this.bitBuf & FAST_MASK]!;
    const length = entry & 15;
    if (length !== 0 && length <= this.bitCount) {
      this.bitBuf >>>= length;
      this.bitCount -= length;
      return entry >>> 4;
    }
    let code = 0;
    let first = 0;
    let index = 0;
    const count = h.count;
    for (let len = 1; len <= MAX_BITS; len++) {
      code |= this.bits(1);
      const c = count[len]!;
      if (code - c < first) return h.symbol[index + (code - first)]!;
      index += c;
      first = (first + c) << 1;
      code <<= 1;
    }
    throw GIVE_UP; // no such code
  }

  private reserve(extra: number): void {
    const need = this.outLength + extra;
    if (need > this.maxOutput) throw GIVE_UP;
    if (need <= this.out.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.min(this.maxOutput, Math.max(need, this.out.length * 2)));
    this.out.copy(grown, 0, 0, this.outLength);
    this.out = grown;
  }

  /** Decodes blocks until the input ends at a block boundary, or a final block ends. */
  run(): void {
    for (;;) {
      if (this.pos >= this.end && this.bitCount < 8 && this.bitBuf === 0) return;
      const last = this.bits(1);
      const type = this.bits(2);
      if (type === 0) this.stored();
      else if (type === 1) this.codes(FIXED_LITLEN, FIXED_DIST);
      else if (type === 2) this.dynamic();
      else throw GIVE_UP;
      if (last === 1) return;
    }
  }

  private stored(): void {
    // Skip to the byte boundary; whole bytes read ahead into the bit buffer are read again.
    this.pos -= this.bitCount >>> 3;
    this.bitBuf = 0;
    this.bitCount = 0;
    const len = this.byte() | (this.byte() << 8);
    const nlen = this.byte() | (this.byte() << 8);
    if (len !== (~nlen & 0xffff)) throw GIVE_UP;
    this.reserve(len);
    for (let i = 0; i < len; i++) this.out[this.outLength++] = this.byte();
  }

  private dynamic(): void {
    const nlen = this.bits(5) + 257;
    const ndist = this.bits(5) + 1;
    const ncode = this.bits(4) + 4;
    if (nlen > 286 || ndist > 30) throw GIVE_UP;
    const lengths = this.lengths;
    lengths.fill(0, 0, 19);
    for (let i = 0; i < ncode; i++) lengths[CLEN_ORDER[i]!] = this.bits(3);
    const lencode = this.litlen;
    if (!build(lencode, lengths, 19, false)) throw GIVE_UP;
    let index = 0;
    while (index < nlen + ndist) {
      const symbol = this.decode(lencode);
      if (symbol < 16) {
        lengths[index++] = symbol;
        continue;
      }
      let value = 0;
      let repeat: number;
      if (symbol === 16) {
        if (index === 0) throw GIVE_UP;
        value = lengths[index - 1]!;
        repeat = 3 + this.bits(2);
      } else if (symbol === 17) {
        repeat = 3 + this.bits(3);
      } else {
        repeat = 11 + this.bits(7);
      }
      if (index + repeat > nlen + ndist) throw GIVE_UP;
      while (repeat-- > 0) lengths[index++] = value;
    }
    if (lengths[256] === 0) throw GIVE_UP; // no end-of-block code
    if (!build(this.litlen, lengths, nlen)) throw GIVE_UP;
    if (!build(this.dist, lengths.subarray(nlen), ndist)) throw GIVE_UP;
    this.codes(this.litlen, this.dist);
  }

  private codes(litlen: Huffman, dist: Huffman): void {
    const window = this.window;
    const windowLength = window === undefined ? 0 : window.length;
    for (;;) {
      let symbol = this.decode(litlen);
      if (symbol < 256) {
        if (this.outLength === this.out.length) this.reserve(1);
        this.out[this.outLength++] = symbol;
        continue;
      }
      if (symbol === 256) return;
      symbol -= 257;
      if (symbol >= 29) throw GIVE_UP;
      const length = LENGTH_BASE[symbol]! + this.bits(LENGTH_EXTRA[symbol]!);
      const d = this.decode(dist);
      if (d >= 30) throw GIVE_UP;
      const distance = DIST_BASE[d]! + this.bits(DIST_EXTRA[d]!);
      if (distance > this.outLength + windowLength) throw GIVE_UP;
      this.reserve(length);
      const out = this.out;
      let at = this.outLength;
      let from = at - distance;
      const stop = at + length;
      // From the previous messages' window first, when the distance reaches back that far.
      for (; from < 0 && at < stop; from++) out[at++] = window![windowLength + from]!;
      for (; at < stop; ) out[at++] = out[from++]!;
      this.outLength = stop;
    }
  }
}

/**
 * Inflates one permessage-deflate message (its trailing 00 00 ff ff removed, as on the wire) with
 * `window` as the preceding plaintext. Returns the plaintext, or null when zlib must decide
 * (invalid or unusual input, or more than `maxOutput` bytes).
 */
export function inflateSmall(data: Uint8Array, window: Uint8Array | undefined, maxOutput: number): Buffer | null {
  const decoder = DECODER;
  decoder.reset(data, window, maxOutput);
  let decoded = true;
  try {
    decoder.run();
  } catch (error) {
    if (error !== GIVE_UP) throw error;
    decoded = false;
  }
  let result: Buffer | null = null;
  // Literals meet maxOutput only when the scratch fills (or at the next copy or stored block): a
  // final block of literals can end past it.
  if (decoded && decoder.outLength <= maxOutput) {
    result = Buffer.allocUnsafe(decoder.outLength);
    decoder.out.copy(result, 0, 0, decoder.outLength);
  }
  decoder.reset(EMPTY, undefined, 0); // keeps no reference to the caller's bytes
  return result;
}

/** One decoder for the process: decoding is synchronous and never re-entered. */
const DECODER = new Decoder();
