import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { applyMask, defaultMaskKeys, maskCopy, RandomMaskKeys, SIMD_THRESHOLD } from '../../src/protocol/mask.js';
import { simdMaskAvailable, simdMaskInPlace, simdReadBuffer } from '../../src/protocol/mask-simd.js';
import { mulberry32, randInt, randomBytes } from '../support/chunking.js';
import { naiveMask } from '../support/frames.js';

describe('applyMask', () => {
  test('equals a naive byte loop for lengths 0..300 at every alignment and phase', () => {
    const rng = mulberry32(99);
    for (let length = 0; length <= 300; length++) {
      for (let trial = 0; trial < 4; trial++) {
        // A subarray of a larger buffer at a random byte offset, so the range is misaligned.
        const backing = randomBytes(rng, length + 16);
        const offset = randInt(rng, 0, 7);
        const buf = backing.subarray(offset, offset + length + 8);
        const start = randInt(rng, 0, 4);
        const end = start + length;
        const key = randomBytes(rng, 4);
        const phase = randInt(rng, 0, 3);
        const before = Buffer.from(buf);
        const expected = Buffer.concat([before.subarray(0, start), naiveMask(before.subarray(start, end), key, phase), before.subarray(end)]);
        const next = applyMask(buf, start, end, key, phase);
        assert.deepStrictEqual(Buffer.from(buf), expected, `length ${length}, offset ${offset}+${start}, phase ${phase}`);
        assert.equal(next, (phase + length) & 3, 'returned phase');
      }
    }
  });

  test('leaves the bytes around the range untouched', () => {
    const rng = mulberry32(5);
    for (let length = 0; length <= 100; length += 7) {
      const backing = randomBytes(rng, length + 20);
      const copy = Buffer.from(backing);
      applyMask(backing, 9, 9 + length, Buffer.from([1, 2, 3, 4]), 1);
      assert.deepStrictEqual(backing.subarray(0, 9), copy.subarray(0, 9));
      assert.deepStrictEqual(backing.subarray(9 + length), copy.subarray(9 + length));
    }
  });

  test('masking twice with the same key and phase restores the data', () => {
    const rng = mulberry32(11);
    for (let length = 0; length <= 300; length += 3) {
      const offset = randInt(rng, 0, 5);
      const buf = randomBytes(rng, length + 8).subarray(offset, offset + length);
      const original = Buffer.from(buf);
      const key = randomBytes(rng, 4);
      const phase = randInt(rng, 0, 3);
      applyMask(buf, 0, length, key, phase);
      if (length >= 8 && !key.equals(Buffer.alloc(4))) assert.notDeepStrictEqual(Buffer.from(buf), original, 'masking changed the data');
      applyMask(buf, 0, length, key, phase);
      assert.deepStrictEqual(Buffer.from(buf), original, `length ${length}`);
    }
  });

  test('masking a range in pieces, carrying the returned phase, equals masking it whole', () => {
    const rng = mulberry32(23);
    for (let trial = 0; trial < 300; trial++) {
      const length = randInt(rng, 0, 400);
      const data = randomBytes(rng, length);
      const key = randomBytes(rng, 4);
      const whole = Buffer.from(data);
      applyMask(whole, 0, length, key, 0);
      // In pieces, each piece in its own (misaligned) buffer, as chunks arrive.
      const out: Buffer[] = [];
      let phase = 0;
      let pos = 0;
      while (pos < length) {
        const size = rng() < 0.5 ? randInt(rng, 1, 5) : randInt(rng, 1, 120);
        const end = Math.min(length, pos + size);
        const pad = randInt(rng, 0, 3);
        const holder = Buffer.alloc(end - pos + pad);
        data.copy(holder, pad, pos, end);
        phase = applyMask(holder, pad, holder.length, key, phase);
        out.push(holder.subarray(pad));
        pos = end;
      }
      assert.deepStrictEqual(Buffer.concat(out), whole, `trial ${trial}, length ${length}`);
      assert.equal(phase, length & 3);
    }
  });

  test('masks the RFC 6455 §5.7 example "Hello" with key 37 fa 21 3d', () => {
    const buf = Buffer.from('Hello');
    applyMask(buf, 0, 5, Buffer.from([0x37, 0xfa, 0x21, 0x3d]));
    assert.equal(buf.toString('hex'), '7f9f4d5158');
  });

  test('masks a large aligned and misaligned buffer like the naive loop', () => {
    const rng = mulberry32(77);
    for (const offset of [0, 1, 2, 3]) {
      const data = randomBytes(rng, 70_000 + offset).subarray(offset);
      const key = randomBytes(rng, 4);
      const expected = naiveMask(data, key, 2);
      applyMask(data, 0, data.length, key, 2);
      assert.deepStrictEqual(data, expected, `offset ${offset}`);
    }
  });
});

describe('RandomMaskKeys', () => {
  test('writes 4 bytes at the offset and nothing else, with a fresh key each time', () => {
    const keys = new RandomMaskKeys();
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const target = Buffer.alloc(10, 0xaa);
      keys.fill(target, 3);
      assert.deepStrictEqual(target.subarray(0, 3), Buffer.alloc(3, 0xaa));
      assert.deepStrictEqual(target.subarray(7), Buffer.alloc(3, 0xaa));
      seen.add(target.subarray(3, 7).toString('hex'));
    }
    // 5000 draws from 2^32 keys: a repeat is possible but rare; all-equal keys would be a bug.
    assert.ok(seen.size > 4990, `${seen.size} distinct keys`);
  });

  test('the default key source produces distinct keys across its pool refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const target = Buffer.alloc(4);
      defaultMaskKeys.fill(target, 0);
      seen.add(target.toString('hex'));
    }
    assert.ok(seen.size > 2990);
  });
});

describe('applyMask and maskCopy above the SIMD threshold', () => {
  test('equal the naive loop around the threshold and the 64 KiB block edges, at every phase and offset', () => {
    const rng = mulberry32(2024);
    const lengths = [SIMD_THRESHOLD - 1, SIMD_THRESHOLD, SIMD_THRESHOLD + 1, SIMD_THRESHOLD + 63, 65535, 65536, 65537, 65536 + 64, 131072 + 5];
    for (const length of lengths) {
      for (const phase of [0, 1, 2, 3]) {
        const offset = randInt(rng, 0, 7);
        const data = randomBytes(rng, length + offset).subarray(offset);
        const key = randomBytes(rng, 4);
        const expected = naiveMask(data, key, phase);
        const copy = Buffer.alloc(length + 3);
        const source = Buffer.from(data);
        const keyWord = key.readUInt32LE(0);
        assert.equal(maskCopy(data, 0, length, copy, 3, keyWord, phase), (phase + length) & 3);
        assert.deepStrictEqual(data, source, 'maskCopy leaves the source as it was');
        assert.deepStrictEqual(copy.subarray(3), expected, `maskCopy length ${length} phase ${phase}`);
        assert.equal(applyMask(data, 0, length, key, phase), (phase + length) & 3);
        assert.deepStrictEqual(data, expected, `applyMask length ${length} phase ${phase}`);
      }
    }
  });

  test('maskCopy below the threshold copies and masks like the naive loop', () => {
    const rng = mulberry32(7);
    for (let length = 0; length < 200; length++) {
      const data = randomBytes(rng, length);
      const key = randomBytes(rng, 4);
      const phase = randInt(rng, 0, 3);
      const out = Buffer.alloc(length + 1, 0xee);
      maskCopy(data, 0, length, out, 1, key.readUInt32LE(0), phase);
      assert.equal(out[0], 0xee, 'nothing written before dstStart');
      assert.deepStrictEqual(out.subarray(1), naiveMask(data, key, phase), `length ${length}`);
    }
  });

  test('a large range masked in pieces of random sizes equals the range masked whole', () => {
    const rng = mulberry32(31);
    const data = randomBytes(rng, 300_000);
    const key = randomBytes(rng, 4);
    const whole = naiveMask(data, key, 0);
    const pieces = Buffer.from(data);
    let phase = 0;
    for (let pos = 0; pos < pieces.length; ) {
      const end = Math.min(pieces.length, pos + randInt(rng, 1, 40_000));
      phase = applyMask(pieces, pos, end, key, phase);
      pos = end;
    }
    assert.deepStrictEqual(pieces, whole);
  });

  test('the WebAssembly SIMD module compiles on this Node.js, so the ranges above use it', () => {
    assert.equal(simdMaskAvailable, true);
  });
});

describe('masking in the SIMD module\'s read buffer (in place, no copy)', { skip: !simdMaskAvailable }, () => {
  test('the read buffer is one 64 KiB Buffer, the same on every call', () => {
    const buffer = simdReadBuffer();
    assert.ok(buffer !== null);
    assert.equal(buffer.length, 64 * 1024);
    assert.equal(simdReadBuffer(), buffer);
  });

  test('applyMask on any range of it equals the naive loop at every phase, and leaves the bytes around the range as they were', () => {
    const buffer = simdReadBuffer()!;
    const rng = mulberry32(4242);
    const lengths = [...Array.from({ length: 300 }, (_, i) => i), 1023, 1024, 1025, SIMD_THRESHOLD - 1, SIMD_THRESHOLD, 40_000, 65536 - 7];
    for (const length of lengths) {
      const phase = randInt(rng, 0, 3);
      const start = randInt(rng, 0, Math.min(7, 65536 - length));
      const end = start + length;
      const view = buffer.subarray(randInt(rng, 0, start)); // a view at an offset, as a read's chunk may be
      const at = start - view.byteOffset + buffer.byteOffset;
      randomBytes(rng, 65536).copy(buffer);
      const before = Buffer.from(buffer);
      const key = randomBytes(rng, 4);
      assert.equal(applyMask(view, at, at + length, key, phase), (phase + length) & 3);
      const expected = Buffer.concat([before.subarray(0, start), naiveMask(before.subarray(start, end), key, phase), before.subarray(end)]);
      assert.ok(buffer.equals(expected), `length ${length}, start ${start}, phase ${phase}`);
    }
  });

  test('simdMaskInPlace masks only views of the read buffer: any other buffer is left as it was', () => {
    const other = Buffer.alloc(256, 7);
    assert.equal(simdMaskInPlace(other, 0, 256, 0x01020304), false);
    assert.deepStrictEqual(other, Buffer.alloc(256, 7));
    const buffer = simdReadBuffer()!;
    buffer.fill(0, 0, 8);
    assert.equal(simdMaskInPlace(buffer.subarray(4), 0, 4, 0x04030201), true);
    assert.deepStrictEqual([...buffer.subarray(0, 8)], [0, 0, 0, 0, 1, 2, 3, 4]);
  });
});
