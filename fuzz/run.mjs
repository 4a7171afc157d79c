#!/usr/bin/env node
// The long fuzz run: every property of test/support/fuzz (built into build/), a million cases or
// more in all, shared out by each property's weight. Prints the cases run per property and in all.
//
//   node fuzz/run.mjs [--cases N] [--seed S]
//
// A failure prints fast-check's report, with the seed and path that replay it, and exits 1.
import fc from 'fast-check';
import { FUZZ_TARGETS } from '../build/test/support/fuzz/index.js';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(args[at + 1]);
};
const total = option('cases', 1_000_000);
const seed = option('seed', Date.now() % 2 ** 31);
if (!Number.isInteger(total) || total < 1 || !Number.isInteger(seed)) {
  console.error('usage: node fuzz/run.mjs [--cases N] [--seed S]');
  process.exit(2);
}

console.log(`fuzzing with seed ${seed}, ${total} cases`);
let ran = 0;
let failed = 0;
const started = Date.now();
for (const target of FUZZ_TARGETS) {
  const numRuns = Math.ceil(total * target.share);
  const t0 = Date.now();
  const details = await fc.check(target.property(), { numRuns, seed });
  ran += details.numRuns;
  const seconds = ((Date.now() - t0) / 1000).toFixed(1);
  if (details.failed) {
    failed++;
    console.log(`FAIL ${target.name}: after ${details.numRuns} cases (${seconds} s)`);
    console.log(fc.defaultReportMessage(details));
  } else {
    console.log(`ok   ${target.name}: ${details.numRuns} cases (${seconds} s)`);
  }
}
const seconds = ((Date.now() - started) / 1000).toFixed(1);
console.log(`${ran} cases run in ${seconds} s, ${failed} propert${failed === 1 ? 'y' : 'ies'} failed`);
process.exit(failed === 0 ? 0 : 1);
