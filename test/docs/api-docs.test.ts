/**
 * docs/api.md is generated from the TSDoc comments (scripts/api-docs.mjs over dist/*.d.ts): it is
 * current, and it has a section for every value the package exports.
 */
import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, runCommand } from '../interop/support/child.js';

describe('the API reference (docs/api.md)', { timeout: 60_000 }, () => {
  test("is what 'npm run docs' writes from the current TSDoc comments", async (t) => {
    const check = await runCommand(process.execPath, [join(ROOT, 'scripts', 'api-docs.mjs'), '--check'], { ms: 45_000, t });
    assert.equal(check.code, 0, check.stderr);
  });

  test('has a section for every runtime export of sockwave and sockwave/protocol', async () => {
    const markdown = readFileSync(join(ROOT, 'docs', 'api.md'), 'utf8');
    for (const [module, file] of [['sockwave', 'dist/index.js'], ['sockwave/protocol', 'dist/protocol/index.js']] as const) {
      const exports = Object.keys((await import(pathToFileURL(join(ROOT, file)).href)) as object);
      assert.ok(exports.length > 5, `${module} exports`);
      const section = markdown.slice(markdown.indexOf(`## \`${module}\``));
      for (const name of exports) assert.match(section, new RegExp(`^### ${name}$`, 'm'), `${module}: ${name}`);
    }
  });
});
