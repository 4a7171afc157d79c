import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { isUtf8 } from 'node:buffer';
import { unmaskText } from '../../src/protocol/masked-text.js';
import { mulberry32, randInt, randomBytes } from '../support/chunking.js';
import { naiveMask } from '../support/frames.js';

/** The key as unmaskText takes it: a little-endian word of the key's bytes. */
const keyWord = (key: Uint8Array): number => (key[0]! | (key[1]! << 8) | (key[2]! << 16) | (key[3]! << 24)) >>> 0;

/** Masks `plain` into a larger buffer at `offset`; returns the buffer and the payload's range. */
function masked(plain: Uint8Array, key: Uint8Array, offset: number): { buf: Buffer; start: number; end: number } {
  const buf = Buffer.alloc(offset + plain.length + 5, 0xee);
  naiveMask(plain, key).copy(buf, offset);
  return { buf, start: offset, end: offset + plain.length };
}

/** What unmaskText must give for `plain`: its text if valid UTF-8, else null. */
const expected = (plain: Uint8Array): string | null => (isUtf8(plain) ? Buffer.from(plain).toString('utf8') : null);

/** Random bytes of one kind: ASCII, valid UTF-8 with multi-byte characters, or anything. */
function sample(rng: () => number, length: number, kind: 'ascii' | 'utf8' | 'any'): Buffer {
  if (kind === 'any') return randomBytes(rng, length);
  if (kind === 'ascii') return Buffer.from(randomBytes(rng, length).map((byte) => byte & 0x7f));
  const pieces = ['a', 'é', '€', '😀', '~', '\u0000', '\u007f'];
  let text = '';
  while (Buffer.byteLength(text) < length) text += pieces[randInt(rng, 0, pieces.length - 1)];
  return Buffer.from(text);
}

describe('unmaskText', () => {
  test('equals unmasking then decoding, for lengths 0..70, every kind of text, offset and key', () => {
    const rng = mulberry32(7);
    for (let length = 0; length <= 70; length++) {
      for (const kind of ['ascii', 'utf8', 'any'] as const) {
        for (let trial = 0; trial < 6; trial++) {
          const plain = sample(rng, length, kind);
          const key = randomBytes(rng, 4);
          const { buf, start, end } = masked(plain, key, randInt(rng, 0, 7));
          const before = Buffer.from(buf);
          const text = unmaskText(buf, start, end, keyWord(key));
          const label = `${kind}, ${plain.length} bytes: ${plain.toString('hex')}`;
          assert.equal(text, expected(plain), label);
          // Unmasked in place, whatever the outcome, and nothing around the range touched.
          assert.deepEqual(buf.subarray(start, end), Buffer.from(plain), `${label}: unmasked in place`);
          assert.deepEqual(buf.subarray(0, start), before.subarray(0, start), `${label}: bytes before`);
          assert.deepEqual(buf.subarray(end), before.subarray(end), `${label}: bytes after`);
        }
      }
    }
  });

  test('one byte with its high bit set, anywhere in short text, makes it UTF-8 to check, not ASCII', () => {
    const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
    for (let length = 1; length < 32; length++) {
      for (let at = 0; at < length; at++) {
        for (const high of [0x80, 0xbf, 0xc0, 0xff]) {
          // A lone continuation or lead byte, or one that is never valid: always invalid UTF-8.
          const plain = Buffer.alloc(length, 0x61);
          plain[at] = high;
          const { buf, start, end } = masked(plain, key, at & 3);
          assert.equal(unmaskText(buf, start, end, keyWord(key)), null, `0x${high.toString(16)} at ${at} of ${length}`);
        }
      }
    }
  });

  test('valid multi-byte text and ASCII with DEL and NUL decode as they are, short and long', () => {
    const key = Buffer.from([0x80, 0x01, 0xff, 0x7f]);
    for (const text of ['', 'a', '\u0000\u007f', 'é', 'x€y', '😀', 'é'.repeat(15) + 'a', 'a'.repeat(31), 'a'.repeat(32), 'ü'.repeat(40)]) {
      const { buf, start, end } = masked(Buffer.from(text), key, 1);
      assert.equal(unmaskText(buf, start, end, keyWord(key)), text, JSON.stringify(text));
    }
  });

  test('invalid sequences of bytes that are each fine alone are refused: overlong, surrogate, truncated, past U+10FFFF', () => {
    const key = Buffer.from([1, 2, 3, 4]);
    for (const hex of ['c080', 'e08080', 'eda080', 'e282', 'f4908080', 'f8', '61e2', '61'.repeat(40) + 'eda080']) {
      const { buf, start, end } = masked(Buffer.from(hex, 'hex'), key, 0);
      assert.equal(unmaskText(buf, start, end, keyWord(key)), null, hex);
    }
  });
});
