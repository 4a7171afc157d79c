/**
 * The TypeScript DEFLATE decoder for small messages (small-inflate.ts), checked against zlib:
 * what zlib compressed (every level, strategy, window size and memory level, with and without a
 * preset dictionary) comes back identical; for mutated input it either answers exactly what zlib
 * answers or returns null (zlib decides) — never different bytes, never a throw.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { constants, deflateRawSync, inflateRawSync, type ZlibOptions } from 'node:zlib';
import { inflateSmall } from '../../../src/extensions/permessage-deflate/small-inflate.js';
import { mulberry32 } from '../../support/chunking.js';
import { BitWriter, RandomDeflate } from '../../support/deflate-writer.js';

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/** Random bytes of one of four kinds: noise, a small alphabet, a cycle, or text with repeats. */
function sample(random: () => number, max: number): Buffer {
  const kind = Math.floor(random() * 4);
  const n = Math.floor(random() ** 2 * max);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) {
    if (kind === 0) b[i] = Math.floor(random() * 256);
    else if (kind === 1) b[i] = 97 + Math.floor(random() * 4);
    else if (kind === 2) b[i] = (i % 17) + 60;
    else b[i] = random() < 0.9 && i > 0 ? b[Math.max(0, i - 1 - Math.floor(random() * 40))]! : Math.floor(random() * 256);
  }
  return b;
}

/** zlib's compression of `data` as permessage-deflate sends it (sync flush, tail removed). */
function compress(data: Buffer, options: ZlibOptions): Buffer {
  const out = deflateRawSync(data, { ...options, finishFlush: constants.Z_SYNC_FLUSH });
  return out.length >= 4 && out.readUInt32BE(out.length - 4) === 0xffff ? out.subarray(0, out.length - 4) : out;
}

function zlibInflate(data: Buffer, dictionary: Buffer | undefined): Buffer | Error {
  try {
    return inflateRawSync(Buffer.concat([data, TAIL]), { finishFlush: constants.Z_SYNC_FLUSH, ...(dictionary ? { dictionary } : {}) });
  } catch (error) {
    return error as Error;
  }
}

test('whatever zlib compressed, with or without a dictionary, comes back identical', () => {
  const random = mulberry32(7);
  let decoded = 0;
  for (let i = 0; i < 3000; i++) {
    const data = sample(random, 3000);
    const dictionary = random() < 0.5 ? sample(random, 2000) : undefined;
    const options: ZlibOptions = {
      level: Math.floor(random() * 10),
      memLevel: 1 + Math.floor(random() * 9),
      strategy: Math.floor(random() * 5),
      windowBits: 9 + Math.floor(random() * 7),
      ...(dictionary && dictionary.length > 0 ? { dictionary } : {}),
    };
    const out = inflateSmall(compress(data, options), options.dictionary as Buffer | undefined, 1 << 20);
    assert.notEqual(out, null, `case ${i}: valid input was sent to zlib`);
    assert.ok(out!.equals(data), `case ${i}: ${data.length} bytes came back different`);
    decoded++;
  }
  assert.equal(decoded, 3000);
});

test('mutated input: the same answer as zlib, or null (zlib decides); never other bytes, never a throw', () => {
  const random = mulberry32(11);
  let answered = 0;
  for (let i = 0; i < 4000; i++) {
    const dictionary = random() < 0.3 ? sample(random, 500) : undefined;
    const bytes = Buffer.from(compress(sample(random, 1500), { level: Math.floor(random() * 10), ...(dictionary && dictionary.length > 0 ? { dictionary } : {}) }));
    const flips = 1 + Math.floor(random() * 3);
    for (let k = 0; k < flips && bytes.length > 0; k++) bytes[Math.floor(random() * bytes.length)]! ^= 1 << Math.floor(random() * 8);
    const window = dictionary && dictionary.length > 0 ? dictionary : undefined;
    const out = inflateSmall(bytes, window, 1 << 20);
    if (out === null) continue;
    const reference = zlibInflate(bytes, window);
    assert.ok(reference instanceof Buffer, `case ${i}: accepted what zlib refuses (${(reference as Error).message})`);
    assert.ok(out.equals(reference), `case ${i}: different bytes from zlib`);
    answered++;
  }
  assert.ok(answered > 1000, `only ${answered} mutated inputs were decoded: the comparison tested little`);
});

test('hand-written streams (every block type, codes zlib never writes, one flaw zlib refuses in some blocks): the same answer as zlib, or null; nothing one message leaves in the shared tables decodes the next', () => {
  const random = mulberry32(31);
  const writer = new RandomDeflate(random);
  const history = Buffer.alloc(32768);
  for (let i = 0; i < history.length; i++) history[i] = Math.floor(random() * 256);
  let decoded = 0;
  let refused = 0;
  for (let i = 0; i < 6000; i++) {
    const windowLength = random() < 0.5 ? 0 : 1 + Math.floor(random() ** 2 * 32767);
    const window = windowLength === 0 ? undefined : history.subarray(history.length - windowLength);
    const input = writer.stream(windowLength);
    const maxOutput = random() < 0.8 ? 1 << 20 : Math.floor(random() * 400);
    const out = inflateSmall(input, window, maxOutput);
    const reference = zlibInflate(input, window);
    if (out === null) {
      if (reference instanceof Error) refused++;
      continue;
    }
    assert.ok(reference instanceof Buffer, `case ${i}: accepted what zlib refuses (${(reference as Error).message})`);
    assert.ok(out.equals(reference), `case ${i}: different bytes from zlib`);
    assert.ok(out.length <= maxOutput, `case ${i}: ${out.length} bytes, over maxOutput ${maxOutput}`);
    decoded++;
  }
  // Both sides of the comparison were exercised: streams decoded, and streams zlib refuses.
  assert.ok(decoded > 3000, `only ${decoded} streams were decoded`);
  assert.ok(refused > 300, `only ${refused} streams were refused`);
});

test('limits and edge cases hand over to zlib: too much output, a distance before the window, truncated input', () => {
  const data = Buffer.from('abcabcabcabcabcabcabcabc'.repeat(20));
  const compressed = compress(data, {});
  assert.equal(inflateSmall(compressed, undefined, data.length - 1), null, 'output over the limit');
  assert.ok(inflateSmall(compressed, undefined, data.length)!.equals(data), 'output exactly at the limit');
  const dictionary = Buffer.from('hello dictionary world');
  const withDictionary = compress(Buffer.from('hello dictionary world, again'), { dictionary });
  assert.equal(inflateSmall(withDictionary, undefined, 1000), null, 'a back-reference into a window that is not there');
  assert.equal(inflateSmall(withDictionary, dictionary, 1000)!.toString(), 'hello dictionary world, again');
  assert.equal(inflateSmall(compressed.subarray(0, compressed.length - 3), undefined, 1000), null, 'input ending inside a block');
  assert.equal(inflateSmall(Buffer.from([0x07]), undefined, 1000), null, 'reserved block type 3');
  assert.equal(inflateSmall(Buffer.from([0x00]), undefined, 1000)?.length, 0, 'an empty message (RFC 7692 §7.2.3.6: one 0x00 byte)');
});

test('a stored block whose data runs into the 4-byte tail: decoded as zlib decodes it when it ends with the tail, else left to zlib', () => {
  // A stored block header (not final), then LEN and NLEN: the data is the tail 00 00 ff ff itself, or part of it.
  const stored = (length: number): Buffer => Buffer.from([0x00, length, 0x00, ~length & 0xff, 0xff]);
  const cases: [number, string][] = [
    [4, 'the whole tail: 00 00 ff ff'],
    [3, '00 00 ff, then a block header from the last ff (type 3, which zlib refuses)'],
    [5, 'the tail and one byte more (zlib answers the 4 bytes it has)'],
  ];
  for (const [length, what] of cases) {
    const reference = zlibInflate(stored(length), undefined);
    const out = inflateSmall(stored(length), undefined, 100);
    if (length === 4) assert.deepEqual(out, reference, what);
    else assert.equal(out, null, what);
  }
  assert.ok(zlibInflate(stored(3), undefined) instanceof Error);
  assert.deepEqual(zlibInflate(stored(5), undefined), TAIL);
  assert.deepEqual(inflateSmall(stored(4), undefined, 100), TAIL);
});

test('back-references of every distance code, at both ends of its range, up to 32506 bytes into the window, in dynamic and fixed blocks', () => {
  const random = mulberry32(23);
  const dictionary = Buffer.alloc(32768);
  for (let i = 0; i < dictionary.length; i++) dictionary[i] = Math.floor(random() * 256);
  // The first and last distance of each of the 30 distance codes (zlib reaches 32506 at most).
  const bases = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577, 32769];
  const distances = bases.slice(0, -1).flatMap((base, k) => [base, Math.min(bases[k + 1]! - 1, 32506)]);
  // The dictionary, then for each distance 12 bytes copied from that far back and one random byte.
  const all = [...dictionary];
  for (const distance of distances) {
    for (let k = 0; k < 12; k++) all.push(all[all.length - distance]!);
    all.push(Math.floor(random() * 256));
  }
  // Then text of four letters, for which a dynamic block is much shorter than a fixed one.
  for (let i = 0; i < 2000; i++) all.push(97 + Math.floor(random() * 4));
  const message = Buffer.from(all.slice(dictionary.length));
  for (const [strategy, blockType] of [[constants.Z_DEFAULT_STRATEGY, 2], [constants.Z_FIXED, 1]]) {
    const compressed = compress(message, { level: 9, strategy, dictionary });
    assert.equal((compressed[0]! >> 1) & 3, blockType, 'a dynamic block by default, a fixed one with Z_FIXED');
    assert.ok(compressed.length < message.length / 2, 'zlib found the back-references');
    const out = inflateSmall(compressed, dictionary, 1 << 20);
    assert.notEqual(out, null, `strategy ${strategy}: valid input was sent to zlib`);
    assert.deepEqual(out, message, `strategy ${strategy}`);
  }
});

test('a literal/length code with the longest (15-bit) codes is decoded, not left to zlib', () => {
  // Each byte a little more frequent than the two rarer ones together: the deepest Huffman tree (no
  // ties for zlib to break towards a shallower one), which zlib caps at 15 bits.
  const bytes: number[] = [];
  let [a, b] = [1, 1];
  for (let symbol = 0; symbol < 18; symbol++) {
    for (let i = 0; i < a; i++) bytes.push(symbol * 7);
    [a, b] = [b, a + b + 1];
  }
  const random = mulberry32(5);
  for (let i = bytes.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [bytes[i], bytes[j]] = [bytes[j]!, bytes[i]!];
  }
  const message = Buffer.from(bytes);
  // Literals only (no matches), so the code lengths follow the byte frequencies.
  const compressed = compress(message, { strategy: constants.Z_HUFFMAN_ONLY });
  const out = inflateSmall(compressed, undefined, 1 << 20);
  assert.notEqual(out, null, 'valid input was sent to zlib');
  assert.deepEqual(out, message);
});

/**
 * A dynamic block, as encoders other than zlib may write it: "ab" in a literal code of three codes
 * ('a' 1 bit, 'b' and end-of-block 2 bits, or end-of-block 1 bit and 'a' and 'b' 2; `literalLengths` lengths sent, from 257, the rest zeros),
 * then the distance code lengths given (0 to 2 each; zlib itself always sends at least two distance codes).
 */
function abBlock(distanceLengths: readonly number[], literalLengths = 257, endOfBlockBits: 1 | 2 = 2): Buffer {
  const w = new BitWriter().bits(0, 1).bits(2, 2).bits(literalLengths - 257, 5).bits(distanceLengths.length - 1, 5).bits(14, 4); // 18 code length codes
  // Code length code: 0, 1, 2 and 18 (a run of zeros), 2 bits each: 00, 01, 10, 11.
  const order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1];
  for (const symbol of order) w.bits([0, 1, 2, 18].includes(symbol) ? 2 : 0, 3);
  w.code(3, 2).bits(97 - 11, 7); // 97 zeros
  const short = endOfBlockBits === 1;
  w.code(short ? 2 : 1, 2).code(2, 2); // 'a' 1 bit ('a' 2 bits when end of block has 1), 'b' 2 bits
  w.code(3, 2).bits(138 - 11, 7).code(3, 2).bits(19 - 11, 7); // 157 zeros up to 255
  w.code(endOfBlockBits, 2); // end of block
  if (literalLengths > 257) w.code(3, 2).bits(literalLengths - 257 - 11, 7); // zeros for the length codes past end of block
  for (const length of distanceLengths) w.code(length, 2);
  // 'a' 'b' end: 0, 10, 11; or with a 1-bit end of block (0), 'a' and 'b' are 10 and 11.
  if (short) w.code(2, 2).code(3, 2).code(0, 1);
  else w.code(0, 1).code(2, 2).code(3, 2);
  return w.bits(0, 3).end(); // the sync flush's empty stored block, up to its 00 00 ff ff (removed)
}

test('a dynamic block with a single distance code, or none, is decoded as zlib decodes it, not left to zlib', () => {
  for (const distanceLengths of [[0], [1], [0, 1], [1, 1]]) {
    const block = abBlock(distanceLengths);
    const reference = zlibInflate(block, undefined);
    assert.ok(reference instanceof Buffer && reference.toString() === 'ab', `zlib: ${String(reference)}`);
    assert.equal(inflateSmall(block, undefined, 100)?.toString(), 'ab', `distance code lengths ${distanceLengths.join(',')}`);
  }
});

test('an incomplete distance code other than a single 1-bit code, which zlib refuses, is left to zlib', () => {
  for (const distanceLengths of [[2], [0, 2], [2, 2], [1, 2, 0]]) {
    const block = abBlock(distanceLengths);
    assert.ok(zlibInflate(block, undefined) instanceof Error, `zlib refuses distance code lengths ${distanceLengths.join(',')}`);
    assert.equal(inflateSmall(block, undefined, 100), null, `distance code lengths ${distanceLengths.join(',')}`);
  }
});

/**
 * A final dynamic block that writes 'a', then copies 3 bytes from 1 back ("aaaa" in all), with the
 * distance code lengths given (0 to 2 each); the one distance code it reads is a single 0 bit.
 */
function matchBlock(distanceLengths: readonly number[]): Buffer {
  const w = new BitWriter().bits(1, 1).bits(2, 2).bits(1, 5).bits(distanceLengths.length - 1, 5).bits(14, 4); // 258 literal/length codes, 18 code length codes
  // Code length code: 0, 1, 2 and 18 (a run of zeros), 2 bits each: 00, 01, 10, 11.
  for (const symbol of [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1]) w.bits([0, 1, 2, 18].includes(symbol) ? 2 : 0, 3);
  w.code(3, 2).bits(97 - 11, 7).code(2, 2); // 97 zeros, then 'a' in 2 bits
  w.code(3, 2).bits(138 - 11, 7).code(3, 2).bits(20 - 11, 7); // 158 zeros, up to 255
  w.code(2, 2).code(1, 2); // end of block in 2 bits, length code 257 (length 3) in 1
  for (const length of distanceLengths) w.code(length, 2);
  // The codes: 257 is 0, 'a' 10, end of block 11.
  return w.code(2, 2).code(0, 1).code(0, 1).code(3, 2).end(); // 'a', length 3, distance code 0 (1 back), end
}

test('a distance code with no codes refuses a match, whatever message the shared tables served before', () => {
  const valid = matchBlock([1, 1]);
  const noDistanceCodes = matchBlock([0]);
  assert.equal((zlibInflate(valid, undefined) as Buffer).toString(), 'aaaa');
  assert.match(String(zlibInflate(noDistanceCodes, undefined)), /invalid distance code/);
  assert.equal(inflateSmall(noDistanceCodes, undefined, 100), null, 'first');
  assert.equal(inflateSmall(valid, undefined, 100)?.toString(), 'aaaa');
  // The decoder's tables are shared by every message of the process: the distance table built for
  // the valid block must not decode this one's match.
  assert.equal(inflateSmall(noDistanceCodes, undefined, 100), null, 'after a block whose distance code had codes');
});

test('at most 286 literal/length and 30 distance code lengths: one more is refused by zlib and left to it', () => {
  const ones = (n: number): number[] => [1, 1, ...new Array<number>(n - 2).fill(0)];
  for (const [block, valid, what] of [
    [abBlock(ones(30), 286), true, '286 and 30'],
    [abBlock(ones(31), 286), false, '286 and 31'],
    [abBlock(ones(30), 287), false, '287 and 30'],
  ] as const) {
    const reference = zlibInflate(block, undefined);
    assert.equal(reference instanceof Buffer, valid, `zlib on ${what}: ${String(reference)}`);
    assert.equal(inflateSmall(block, undefined, 100)?.toString() ?? null, valid ? 'ab' : null, what);
  }
});

test('a code that ends in the tail bytes (a final block cut short) is decoded as zlib decodes it', () => {
  // A final fixed block whose literal 0x00 (8 bits: 00110000) is cut after 5 bits: the tail's zero
  // bits complete it and give the end-of-block code (7 zero bits).
  const block = new BitWriter().bits(1, 1).bits(1, 2).code(0b00110, 5).end();
  assert.deepEqual(zlibInflate(block, undefined), Buffer.from([0x00]));
  assert.deepEqual(inflateSmall(block, undefined, 100), Buffer.from([0x00]));
});

test('what follows a final block is ignored, as zlib ignores it', () => {
  const final = deflateRawSync(Buffer.from('hello'), { finishFlush: constants.Z_FINISH });
  // A stored block with one byte 'x' after it.
  const message = Buffer.concat([final, Buffer.from([0x00, 0x01, 0x00, 0xfe, 0xff, 0x78])]);
  assert.equal((zlibInflate(message, undefined) as Buffer).toString(), 'hello');
  assert.equal(inflateSmall(message, undefined, 100)?.toString(), 'hello');
});

/**
 * The block of abBlock([1, 1]) written with a code length code that has 16 (repeat the previous
 * length), and whose code lengths start with `first` (a list of [symbol, extra bits value]).
 */
function abBlockWithRepeats(first: readonly (readonly [number, number])[]): Buffer {
  const w = new BitWriter().bits(0, 1).bits(2, 2).bits(0, 5).bits(1, 5).bits(14, 4);
  // Code length code: 0, 16 and 18 in 2 bits (00, 01, 10), 1 and 2 in 3 bits (110, 111).
  const lengths: Record<number, number> = { 0: 2, 16: 2, 18: 2, 1: 3, 2: 3 };
  const codes: Record<number, [number, number]> = { 0: [0, 2], 16: [1, 2], 18: [2, 2], 1: [6, 3], 2: [7, 3] };
  const extra: Record<number, number> = { 16: 2, 18: 7 };
  for (const symbol of [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1]) w.bits(lengths[symbol] ?? 0, 3);
  const put = (symbol: number, value = 0): void => {
    w.code(...codes[symbol]!);
    if (extra[symbol]) w.bits(value, extra[symbol]!);
  };
  let index = 0;
  for (const [symbol, value] of first) {
    put(symbol, value);
    index += symbol === 16 ? 3 + value : symbol === 18 ? 11 + value : 1;
  }
  put(18, 97 - index - 11); // zeros up to 'a'
  put(1);
  put(2);
  put(18, 138 - 11);
  put(18, 19 - 11);
  put(2); // end of block
  put(1);
  put(1); // two distance codes
  w.code(0, 1).code(2, 2).code(3, 2);
  return w.bits(0, 3).end();
}

test('code length repeats (16): zlib\'s rules, and the lengths they repeat', () => {
  // A zero, then 16 repeating it 3 to 6 times: the same block as abBlock([1, 1]).
  for (const value of [0, 1, 2, 3]) {
    const block = abBlockWithRepeats([[0, 0], [16, value]]);
    assert.deepEqual(zlibInflate(block, undefined), Buffer.from('ab'));
    assert.equal(inflateSmall(block, undefined, 100)?.toString(), 'ab', `16 with ${value}`);
  }
  // 16 first, with no length before it to repeat: zlib refuses.
  const block = abBlockWithRepeats([[16, 0]]);
  assert.ok(zlibInflate(block, undefined) instanceof Error);
  assert.equal(inflateSmall(block, undefined, 100), null);
});

test('a final block of literals (no sync flush after it) is held to maxOutput too', () => {
  const random = mulberry32(9);
  const data = Buffer.alloc(200);
  for (let i = 0; i < data.length; i++) data[i] = 97 + Math.floor(random() * 4);
  const final = deflateRawSync(data, { strategy: constants.Z_HUFFMAN_ONLY, finishFlush: constants.Z_FINISH });
  assert.equal(final[0]! & 7, 0b101, 'one final dynamic block');
  assert.equal(inflateSmall(final, undefined, 199), null, 'one byte over the limit');
  assert.deepEqual(inflateSmall(final, undefined, 200), data, 'exactly at the limit');
});

test('an end-of-block code of 1 bit is decoded', () => {
  const block = abBlock([1, 1], 257, 1);
  assert.deepEqual(zlibInflate(block, undefined), Buffer.from('ab'));
  assert.equal(inflateSmall(block, undefined, 100)?.toString(), 'ab');
});

test('literals that fill the output scratch (4096 bytes) grow it up to maxOutput exactly', () => {
  // A first message of over 64 KiB: the decoder drops its scratch after it and starts the next with 4096 bytes.
  const big = Buffer.alloc(70_000, 'z');
  assert.deepEqual(inflateSmall(compress(big, {}), undefined, 1 << 20), big);
  const random = mulberry32(31);
  const data = Buffer.alloc(4097);
  for (let i = 0; i < data.length; i++) data[i] = 97 + Math.floor(random() * 4);
  const literals = compress(data, { strategy: constants.Z_HUFFMAN_ONLY });
  assert.deepEqual(inflateSmall(literals, undefined, 4097), data);
});

test('a back-reference that starts in the window and runs on into the message is copied from both', () => {
  const random = mulberry32(37);
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
  const window = bytes(100);
  const start = bytes(30);
  // The end of the window and the start of the message, again: one match 40 bytes back, 30 long.
  const message = Buffer.concat([start, window.subarray(90), start.subarray(0, 20)]);
  const compressed = compress(message, { level: 9, dictionary: window });
  assert.ok(compressed.length < 45, `the repeat is one back-reference (${compressed.length} bytes)`);
  assert.deepEqual(inflateSmall(compressed, window, 1000), message);
});
