/**
 * The core stays free of dependencies: nothing reachable from dist/index.js imports anything but
 * Node's built-ins and its own files; ioredis is an optional peer dependency that only
 * `sockwave/redis` loads.
 */
import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ROOT } from '../interop/support/child.js';

/** Every module specifier a built file imports (static, re-export and dynamic). */
function specifiers(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  const found: string[] = [];
  for (const match of source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g)) {
    found.push((match[1] ?? match[2] ?? match[3])!);
  }
  return found;
}

/** Bare (non-relative) specifiers reachable from `entry`. */
function reachableBare(entry: string): Set<string> {
  const bare = new Set<string>();
  const seen = new Set<string>();
  const queue = [entry];
  for (let i = 0; i < queue.length && i < 10_000; i++) {
    const file = queue[i]!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const specifier of specifiers(file)) {
      if (specifier.startsWith('.')) queue.push(resolve(dirname(file), specifier));
      else bare.add(specifier);
    }
  }
  assert.ok(seen.size > 20, `walked ${seen.size} files from ${entry}`);
  return bare;
}

describe('package', () => {
  test('the core imports only node: built-ins; sockwave/redis is the one that loads ioredis', () => {
    const core = reachableBare(join(ROOT, 'dist', 'index.js'));
    assert.deepEqual([...core].filter((specifier) => !specifier.startsWith('node:')), []);
    const redis = specifiers(join(ROOT, 'dist', 'redis', 'redis-connection.js'));
    assert.ok(redis.includes('ioredis'));
  });

  test('ioredis is an optional peer dependency, and sockwave/redis is exported', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      peerDependencies?: Record<string, string>;
      peerDependenciesMeta?: Record<string, { optional?: boolean }>;
      devDependencies?: Record<string, string>;
      exports: Record<string, { import?: string; types?: string; default?: string }>;
    };
    assert.equal(pkg.dependencies, undefined, 'no runtime dependencies');
    assert.ok(pkg.peerDependencies?.['ioredis']);
    assert.equal(pkg.peerDependenciesMeta?.['ioredis']?.optional, true);
    assert.ok(pkg.devDependencies?.['ioredis']);
    assert.deepEqual(pkg.exports['./redis'], { types: './dist/redis/index.d.ts', import: './dist/redis/index.js', default: './dist/redis/index.js' });
  });

  test('CommonJS can require() every entry point (Node 20.19 and later load ES modules that way)', () => {
    // (Without a 'default' condition, require() failed with 'No "exports" main defined', which
    // reads as a broken package.)
    const script = "const m = require('sockwave'), p = require('sockwave/protocol'), r = require('sockwave/redis'); console.log(typeof m.WebSocketServer, typeof p.FrameParser, typeof r.RedisBackplane);";
    const result = spawnSync(process.execPath, ['--input-type=commonjs', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, 'function function function\n');
  });
});
