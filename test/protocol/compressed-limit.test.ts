/** compressedLimit: no message of up to maxPayload bytes, compressed as RFC 7692 says, is longer. */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { constants, deflateRawSync } from 'node:zlib';
import { compressedLimit } from '../../src/protocol/compressed-limit.js';

test('random bytes (which do not compress) at every level, with the sync flush and its tail taken off, fit the bound for their size', () => {
  for (const size of [0, 1, 125, 4096, 65_535, 65_536, 100_000, 1 << 20]) {
    const data = randomBytes(size);
    for (const level of [0, 1, 6, 9]) {
      const wire = deflateRawSync(data, { level, finishFlush: constants.Z_SYNC_FLUSH }).subarray(0, -4);
      assert.ok(wire.length > size || size === 0 || level > 0, `level ${level} stores ${size} bytes as at least as many`);
      assert.ok(wire.length <= compressedLimit(size), `${size} bytes at level ${level}: ${wire.length} > ${compressedLimit(size)}`);
    }
  }
});

test('grows with the limit (about 0.03 % over it) and leaves no limit as none', () => {
  assert.equal(compressedLimit(Infinity), Infinity);
  assert.equal(compressedLimit(0), 1031);
  assert.equal(compressedLimit(100 * 1024 * 1024), 100 * 1024 * 1024 + 25_600 + 6_400 + 3 + 1031);
});
