import { existsSync } from 'node:fs';
import { after } from 'node:test';
import { chromium, type Browser, type BrowserServer } from 'playwright-core';
import { withTimeout } from '../../support/net.js';

/** Debian's Chromium, driven by playwright-core; never a browser download. */
export const CHROMIUM = '/usr/bin/chromium';
export const MISSING_CHROMIUM = ".ci/run must install chromium (apt-get install -y chromium; Debian's package, not a Playwright download)";
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let started: Promise<{ server: BrowserServer; browser: Browser }> | undefined;

// Registered when the test file imports this module (top level of that file's run): after all its tests.
after(stopBrowser);

/**
 * One browser per test file: started on first use; closed after the file's tests (and whatever is
 * left of it killed by PID: playwright starts Chromium as a process group leader).
 */
export function sharedBrowser(): Promise<Browser> {
  if (started === undefined) {
    started = (async () => {
      if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: ${MISSING_CHROMIUM}`);
      let server: BrowserServer;
      try {
        server = await withTimeout(chromium.launchServer({ executablePath: CHROMIUM, headless: true, timeout: 60_000, args: ARGS }), 'chromium to start', 70_000);
      } catch (error) {
        throw new Error(`could not start ${CHROMIUM} (${MISSING_CHROMIUM}): ${error instanceof Error ? error.message : String(error)}`);
      }
      const browser = await withTimeout(chromium.connect(server.wsEndpoint(), { timeout: 30_000 }), 'playwright to connect to chromium', 35_000);
      return { server, browser };
    })();
  }
  return started.then((s) => s.browser);
}

async function stopBrowser(): Promise<void> {
  const running = await started?.catch(() => undefined);
  if (!running) return;
  const pid = running.server.process().pid;
  await withTimeout(running.browser.close(), 'the browser to close', 10_000).catch(() => undefined);
  await withTimeout(running.server.close(), 'chromium to exit', 10_000).catch(() => undefined);
  if (pid === undefined) return;
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}
