// `npm test`: the unit and interoperability tests (compiled into build/test), then the conformance
// and robustness suites, each a `node --test` run over its test files, stopping at the first that fails.
// The files are listed here rather than naming their folders: Node 20 searches a folder it is
// given for tests, but Node 22 and later take file names and globs only and fail on a folder.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const suites = [
  { folder: 'build/test', pattern: /\.test\.js$/, flags: ['--test-concurrency=2'] },
  { folder: 'conformance', pattern: /\.test\.mjs$/, flags: [] },
  { folder: 'robustness', pattern: /\.test\.mjs$/, flags: [] },
];

/** The files under `folder` (and its subfolders) whose names match `pattern`, in a stable order. */
function testFiles(folder, pattern) {
  // (Walked by hand: readdirSync's `recursive` option needs Node 20.1.)
  const found = [];
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) found.push(...testFiles(path, pattern));
    else if (pattern.test(entry.name)) found.push(path);
  }
  return found.sort();
}

for (const { folder, pattern, flags } of suites) {
  const files = testFiles(folder, pattern);
  if (files.length === 0) {
    console.error(`no test files in ${folder} (was the build run?)`);
    process.exit(1);
  }
  const run = spawnSync(process.execPath, ['--test', ...flags, ...files], { stdio: 'inherit' });
  if (run.status !== 0) process.exit(run.status ?? 1);
}
