/**
 * Writes DEFLATE streams (RFC 1951) by hand, for the decoder's tests: a bit writer, and random
 * streams of every block type whose Huffman codes are built from what each block holds. zlib
 * never writes most of what comes out (codes of up to 15 bits for a few symbols, a single
 * distance code, code length runs split at random), and some blocks carry one flaw that zlib
 * refuses, so that a decoder is compared with zlib on both sides of each rule.
 */

/** Writes DEFLATE's bit stream: fields from their low bit, Huffman codes from their top bit. */
export class BitWriter {
  private readonly bytes: number[] = [];
  private byte = 0;
  private count = 0;

  bits(value: number, count: number): this {
    for (let i = 0; i < count; i++) {
      this.byte |= ((value >>> i) & 1) << this.count;
      if (++this.count === 8) this.flush();
    }
    return this;
  }

  code(code: number, length: number): this {
    for (let i = length - 1; i >= 0; i--) this.bits((code >>> i) & 1, 1);
    return this;
  }

  /** Pads to a byte boundary with zero bits, as a stored block's header is followed. */
  align(): this {
    if (this.count > 0) this.flush();
    return this;
  }

  private flush(): void {
    this.bytes.push(this.byte);
    this.byte = 0;
    this.count = 0;
  }

  end(): Buffer {
    return Buffer.from(this.align().bytes);
  }
}

/** The canonical Huffman codes of a list of code lengths (RFC 1951 §3.2.2); -1 for a length of 0. */
export function canonicalCodes(lengths: readonly number[]): number[] {
  const counts = new Array<number>(16).fill(0);
  for (const length of lengths) if (length > 0) counts[length]!++;
  const next = new Array<number>(16).fill(0);
  for (let length = 1, code = 0; length < 16; length++) {
    next[length] = code;
    code = (code + counts[length]!) << 1;
  }
  return lengths.map((length) => (length > 0 ? next[length]!++ : -1));
}

/**
 * Random lengths of a complete prefix code over `used` (of `count` symbols), none over
 * `maxLength`: leaves of a binary tree split at random until there is one per symbol. A single
 * symbol gets a 1-bit code (the one incomplete code RFC 1951 and zlib allow).
 */
function completeLengths(random: () => number, count: number, used: readonly number[], maxLength: number): number[] {
  const lengths = new Array<number>(count).fill(0);
  if (used.length === 1) {
    lengths[used[0]!] = 1;
    return lengths;
  }
  const leaves = [0];
  while (leaves.length < used.length) {
    const splittable = leaves.flatMap((depth, index) => (depth < maxLength ? [index] : []));
    const index = splittable[Math.floor(random() * splittable.length)]!;
    leaves.splice(index, 1, leaves[index]! + 1, leaves[index]! + 1);
  }
  used.forEach((symbol, i) => (lengths[symbol] = leaves[i]!));
  return lengths;
}

// RFC 1951 §3.2.5: the lengths of codes 257..285 and the distances of codes 0..29.
const LENGTH_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DISTANCE_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
const DISTANCE_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
/** The order code length code lengths are written in (§3.2.7). */
const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** The code whose range holds `value`, and the extra bits that pick it out. */
function codeOf(value: number, bases: readonly number[]): [number, number] {
  let code = bases.length - 1;
  while (bases[code]! > value) code--;
  return [code, value - bases[code]!];
}

/** A literal, or a match of `length` bytes from `distance` back. */
type Symbol = { literal: number } | { length: number; distance: number };

/** What can be wrong with a block: each is refused by zlib. */
type Flaw = 'none' | 'oversubscribed' | 'incomplete' | 'too far back' | 'no distance codes' | 'no end-of-block code' | 'too many codes' | 'repeat past the end' | 'bad stored length' | 'reserved type';
const FLAWS: readonly Flaw[] = ['oversubscribed', 'incomplete', 'too far back', 'no distance codes', 'no end-of-block code', 'too many codes', 'repeat past the end', 'bad stored length', 'reserved type'];

/** Writes random DEFLATE streams; `history` is how many bytes a match may reach back (the window's). */
export class RandomDeflate {
  constructor(private readonly random: () => number) {}

  private int(min: number, max: number): number {
    return min + Math.floor(this.random() * (max - min + 1));
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }

  /**
   * A message as permessage-deflate sends it: one to four blocks, most often ended by the sync
   * flush's empty stored block (whose 00 00 ff ff is left out), else by a final block, cut short,
   * or followed by stray bytes. `windowLength`: bytes before the message a match may reach.
   */
  stream(windowLength: number): Buffer {
    const w = new BitWriter();
    let produced = windowLength;
    const blocks = this.int(1, 4);
    let final = false;
    for (let i = 0; i < blocks && !final; i++) {
      final = i === blocks - 1 ? this.random() < 0.2 : this.random() < 0.03;
      const flaw: Flaw = this.random() < 0.1 ? this.pick(FLAWS) : 'none';
      produced = this.block(w, final, flaw, produced);
    }
    if (!final) w.bits(0, 3); // the sync flush's empty stored block, up to its removed LEN and NLEN
    let bytes = w.end();
    const ending = this.random();
    if (ending < 0.05) bytes = bytes.subarray(0, this.int(0, bytes.length - 1));
    else if (ending < 0.1) bytes = Buffer.concat([bytes, Buffer.from(Array.from({ length: this.int(1, 4) }, () => this.int(0, 255)))]);
    return bytes;
  }

  /** Writes one block; returns how many bytes a match may reach back after it. */
  private block(w: BitWriter, final: boolean, flaw: Flaw, history: number): number {
    const type = flaw === 'reserved type' ? 3 : flaw === 'bad stored length' ? 0 : this.pick([0, 1, 2, 2]);
    w.bits(final ? 1 : 0, 1).bits(type, 2);
    if (type === 3) return history;
    if (type === 0) {
      const length = this.int(0, 40);
      w.align().bits(length, 16).bits(flaw === 'bad stored length' ? ~length & 0xfffe : ~length & 0xffff, 16);
      for (let i = 0; i < length; i++) w.bits(this.int(0, 255), 8);
      return history + length;
    }
    const symbols = this.symbols(history, flaw);
    if (type === 1) this.fixed(w, symbols);
    else this.dynamic(w, symbols, flaw);
    return symbols.reduce((total, s) => total + ('literal' in s ? 1 : s.length), history);
  }

  /** What a block holds: literals, and matches that reach no further back than `history` (but one, when the flaw asks). */
  private symbols(history: number, flaw: Flaw): Symbol[] {
    const symbols: Symbol[] = [];
    const alphabet = Array.from({ length: this.int(1, 40) }, () => this.int(0, 255));
    const count = this.random() < 0.8 ? this.int(0, 30) : this.int(0, 300);
    for (let i = 0; i < count; i++) {
      if (history > 0 && this.random() < 0.35) {
        const length = this.random() < 0.7 ? this.int(3, 20) : this.int(3, 258);
        const far = Math.min(history, 32768);
        const distance = this.random() < 0.5 ? this.int(1, Math.min(far, 64)) : this.int(1, far);
        symbols.push({ length, distance });
        history += length;
      } else {
        symbols.push({ literal: this.pick(alphabet) });
        history++;
      }
    }
    if (flaw === 'too far back' || flaw === 'no distance codes') {
      // A match at the end (the block may have had none), reaching one byte before the history
      // for 'too far back' (when that is a distance DEFLATE can write).
      const distance = flaw === 'too far back' && history < 32768 ? history + 1 : this.int(1, 8);
      symbols.push({ length: this.int(3, 10), distance });
    }
    return symbols;
  }

  private fixed(w: BitWriter, symbols: readonly Symbol[]): void {
    const literalLengths = Array.from({ length: 288 }, (_, s) => (s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8));
    const distanceLengths = new Array<number>(30).fill(5);
    this.write(w, symbols, literalLengths, distanceLengths);
  }

  private dynamic(w: BitWriter, symbols: readonly Symbol[], flaw: Flaw): void {
    const literals = new Set<number>(flaw === 'no end-of-block code' ? [] : [256]);
    const distances = new Set<number>();
    for (const s of symbols) {
      if ('literal' in s) literals.add(s.literal);
      else {
        literals.add(257 + codeOf(s.length, LENGTH_BASE)[0]);
        distances.add(codeOf(s.distance, DISTANCE_BASE)[0]);
      }
    }
    // Now and then codes for symbols the block does not use, as an encoder may send.
    for (let k = this.random() < 0.3 ? this.int(1, 20) : 0; k > 0; k--) literals.add(this.int(0, 285));
    if (this.random() < 0.2) distances.add(this.int(0, 29));
    if (flaw === 'no distance codes') distances.clear();
    if (literals.size === 0) literals.add(this.int(0, 255));
    const usedLiterals = [...literals].sort((a, b) => a - b);
    const usedDistances = [...distances].sort((a, b) => a - b);
    const literalCount = Math.max(257, usedLiterals[usedLiterals.length - 1]! + 1, this.random() < 0.2 ? this.int(257, 286) : 0, flaw === 'too many codes' && this.random() < 0.5 ? this.int(287, 288) : 0);
    const distanceCount = Math.max(1, (usedDistances[usedDistances.length - 1] ?? -1) + 1, this.random() < 0.2 ? this.int(1, 30) : 0, flaw === 'too many codes' ? this.int(31, 32) : 0);
    // A short longest code now and then, as long as it has room for every symbol.
    const maxLength = (count: number): number => (this.random() < 0.5 ? 15 : Math.max(Math.ceil(Math.log2(count)), this.int(1, 15)));
    const literalLengths = completeLengths(this.random, literalCount, usedLiterals, maxLength(usedLiterals.length));
    const distanceLengths = usedDistances.length === 0 ? new Array<number>(distanceCount).fill(0) : completeLengths(this.random, distanceCount, usedDistances, maxLength(usedDistances.length));
    if (flaw === 'oversubscribed' || flaw === 'incomplete') {
      // One code of a complete code of two or more made shorter (too many codes) or longer (too few).
      const candidates = usedLiterals.filter((s) => (flaw === 'oversubscribed' ? literalLengths[s]! > 1 : literalLengths[s]! < 15));
      if (usedLiterals.length > 1 && candidates.length > 0) literalLengths[this.pick(candidates)]! += flaw === 'oversubscribed' ? -1 : 1;
    }

    // The code lengths of both codes, as one sequence, with runs written as 16, 17 and 18 at random.
    const all = [...literalLengths, ...distanceLengths];
    const runs: [symbol: number, extra: number, extraBits: number][] = [];
    for (let i = 0; i < all.length; ) {
      const value = all[i]!;
      let run = 1;
      while (i + run < all.length && all[i + run] === value) run++;
      if (value === 0 && run >= 3 && this.random() < 0.8) {
        const n = Math.min(run, run >= 11 && this.random() < 0.7 ? 138 : 10);
        runs.push(n >= 11 ? [18, n - 11, 7] : [17, n - 3, 3]);
        i += n;
      } else if (i > 0 && all[i - 1] === value && run >= 3 && this.random() < 0.8) {
        const n = Math.min(run, 6);
        runs.push([16, n - 3, 2]);
        i += n;
      } else {
        runs.push([value, 0, 0]);
        i++;
      }
    }
    // A last run of three zeros that goes one to three lengths past the end of the lengths declared.
    const overrun = flaw === 'repeat past the end' ? this.int(1, 3) : 0;
    if (overrun > 0) runs.push([17, 0, 3]);
    const usedCodeLengths = [...new Set(runs.map(([symbol]) => symbol))];
    const codeLengthLengths = completeLengths(this.random, 19, usedCodeLengths, 7);
    let codeLengthCount = 19;
    while (codeLengthCount > 4 && codeLengthLengths[CODE_LENGTH_ORDER[codeLengthCount - 1]!] === 0) codeLengthCount--;

    // (Past 30 distance codes, the 5 bits cannot hold the count: the overrun is then that much longer.)
    w.bits(literalCount - 257, 5).bits(Math.min(31, distanceCount - 1 + (overrun > 0 ? 3 - overrun : 0)), 5).bits(codeLengthCount - 4, 4);
    for (let k = 0; k < codeLengthCount; k++) w.bits(codeLengthLengths[CODE_LENGTH_ORDER[k]!]!, 3);
    const codeLengthCodes = canonicalCodes(codeLengthLengths);
    for (const [symbol, extra, extraBits] of runs) w.code(codeLengthCodes[symbol]!, codeLengthLengths[symbol]!).bits(extra, extraBits);
    this.write(w, symbols, literalLengths, distanceLengths);
  }

  /** The block's data with the given codes, then its end-of-block code. */
  private write(w: BitWriter, symbols: readonly Symbol[], literalLengths: readonly number[], distanceLengths: readonly number[]): void {
    const literalCodes = canonicalCodes(literalLengths);
    const distanceCodes = canonicalCodes(distanceLengths);
    for (const s of symbols) {
      if ('literal' in s) {
        w.code(literalCodes[s.literal]!, literalLengths[s.literal]!);
        continue;
      }
      const [lengthCode, lengthExtra] = codeOf(s.length, LENGTH_BASE);
      w.code(literalCodes[257 + lengthCode]!, literalLengths[257 + lengthCode]!).bits(lengthExtra, LENGTH_EXTRA[lengthCode]!);
      const [distanceCode, distanceExtra] = codeOf(s.distance, DISTANCE_BASE);
      // With no distance codes, the bits that follow are whatever comes next: a decoder must refuse the match.
      if (distanceLengths[distanceCode]! > 0) w.code(distanceCodes[distanceCode]!, distanceLengths[distanceCode]!).bits(distanceExtra, DISTANCE_EXTRA[distanceCode]!);
    }
    if (literalLengths[256]! > 0) w.code(literalCodes[256]!, literalLengths[256]!);
  }
}
