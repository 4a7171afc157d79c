/**
 * The short fuzz run of `npm test`: every property of test/support/fuzz, a few hundred cases each,
 * with a seed printed on failure (fast-check replays it). `npm run fuzz` runs a million or more.
 */
import { test } from 'node:test';
import fc from 'fast-check';
import { FUZZ_TARGETS } from '../support/fuzz/index.js';

for (const target of FUZZ_TARGETS) {
  test(`fuzz: ${target.name}`, async () => {
    await fc.assert(target.property(), { numRuns: target.quick });
  });
}
