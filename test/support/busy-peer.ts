/**
 * For heartbeat tests: a `ws` peer in another process, which answers pings while this process is
 * busy, and a way to keep this process's event loop busy.
 */
import { spawn } from 'node:child_process';
import { type TestContext } from 'node:test';
import { captureOutput } from './child-output.js';

/**
 * Starts a `ws` server (url undefined) or client (of `url`) in a child process, ended after the
 * test; resolves with the port the server listens on, or 0 for a client once it is open.
 */
export async function wsPeerProcess(t: TestContext, url?: string): Promise<number> {
  const script =
    url === undefined
      ? `import { WebSocketServer } from 'ws'; const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 }, () => console.log(wss.address().port));`
      : `import WebSocket from 'ws'; const ws = new WebSocket(${JSON.stringify(url)}); ws.on('open', () => console.log(0)); ws.on('error', () => {});`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill());
  const output = captureOutput(child);
  return Number(await output.lines.next('the ws peer process to start', 10_000));
}

/** Keeps the event loop busy for `ms`, as a long synchronous computation would. */
export function blockEventLoop(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/** Resolves once `check` holds, looking after each turn's I/O (bounded to `ms`). */
export async function turnsUntil(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = performance.now() + ms;
  while (!check()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
