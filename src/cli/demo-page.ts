import { existsSync, readFileSync } from 'node:fs';

let cached: string | undefined;

/** The demo page served at `/`: a static file shipped in the package's `demo/` folder. */
export function demoPage(): string {
  if (cached === undefined) {
    // dist/cli/ → ../../demo; build/src/cli/ (tests) → ../../../demo
    const candidates = ['../../demo/index.html', '../../../demo/index.html'].map((path) => new URL(path, import.meta.url));
    const found = candidates.find((url) => existsSync(url));
    cached = found ? readFileSync(found, 'utf8') : '<!doctype html><title>sockwave</title><p>sockwave is running.</p>';
  }
  return cached;
}
