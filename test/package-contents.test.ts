/**
 * What `npm pack` puts in the package: the built code, its declarations and their maps, and the
 * sources those maps point to, so that a debugger's stack traces and an editor's "go to
 * definition" land in the TypeScript source instead of a missing file.
 */
import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { ROOT } from './interop/support/child.js';

test('every source that a map in the package points to is in the package, and nothing of the tests is', () => {
  const run = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  const packed = JSON.parse(run.stdout) as [{ files: { path: string }[] }];
  const files = new Set(packed[0].files.map((file) => file.path));
  const maps = [...files].filter((path) => path.endsWith('.map'));
  assert.ok(maps.length > 100, `${maps.length} maps`);
  assert.ok(files.has('dist/index.js') && files.has('dist/index.d.ts'));
  const missing: string[] = [];
  for (const map of maps) {
    const { sources } = JSON.parse(readFileSync(join(ROOT, map), 'utf8')) as { sources: string[] };
    for (const source of sources) {
      const path = posix.join(posix.dirname(map), source);
      if (!files.has(path)) missing.push(`${map} -> ${path}`);
    }
  }
  assert.deepEqual(missing.slice(0, 5), [], `${missing.length} sources missing`);
  assert.deepEqual([...files].filter((path) => /^(build|test|bench|fuzz|soak)\//.test(path)), []);
});
