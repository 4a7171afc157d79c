import { existsSync, readFileSync } from 'node:fs';
import { type PlainHttpRequest, type PlainHttpResponse } from '../server/plain-http.js';

/** The demo's files, by the path they are served at; nothing else under demo/ is served. */
const FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/demo.css': { file: 'demo.css', type: 'text/css; charset=utf-8' },
  '/chat.js': { file: 'chat.js', type: 'text/javascript; charset=utf-8' },
  '/figures.js': { file: 'figures.js', type: 'text/javascript; charset=utf-8' },
};

const FALLBACK = '<!doctype html><title>sockwave</title><p>sockwave is running (the demo files are missing).</p>';
const cache = new Map<string, string | undefined>();

/** Reads a file of the package's `demo/` folder (plain HTML, CSS and JS: no build step). */
function demoFile(name: string): string | undefined {
  if (!cache.has(name)) {
    // dist/cli/ → ../../demo; build/src/cli/ (tests) → ../../../demo
    const candidates = [`../../demo/${name}`, `../../../demo/${name}`].map((path) => new URL(path, import.meta.url));
    const found = candidates.find((url) => existsSync(url));
    cache.set(name, found ? readFileSync(found, 'utf8') : undefined);
  }
  return cache.get(name);
}

/** The demo page at `/`. */
export function demoPage(): string {
  return demoFile('index.html') ?? FALLBACK;
}

/** Answers the plain HTTP requests of `sockwave serve`: the demo's files, 404 for the rest. */
export function serveDemoFiles(request: PlainHttpRequest): PlainHttpResponse {
  const entry = FILES[request.path];
  const body = entry ? (entry.file === 'index.html' ? demoPage() : demoFile(entry.file)) : undefined;
  if (!entry || body === undefined) {
    return { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: 'not found\n' };
  }
  return { status: 200, headers: { 'Content-Type': entry.type, 'Cache-Control': 'no-store' }, body };
}
