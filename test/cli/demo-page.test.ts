/**
 * The demo page of `sockwave serve` in a real browser: Debian's Chromium (/usr/bin/chromium,
 * driven by playwright-core; never a browser download) opens the page in two tabs, chats between
 * them over /broadcast (names, join and leave notices), watches the live figures from /stats change,
 * and saves a screenshot to test-artifacts/demo-page.png.
 *
 * Chromium missing is a FAILURE, not a skip: `.ci/run` installs chromium.
 */
import { describe, test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type BrowserContext, type Page } from 'playwright-core';
import { withTimeout } from '../support/net.js';
import { run } from '../support/cli-process.js';
import { ROOT } from '../interop/support/child.js';
import { sharedBrowser } from '../interop/support/chromium.js';

const ARTIFACTS = join(ROOT, 'test-artifacts');
const STEP = 15_000;

async function newContext(t: TestContext): Promise<{ context: BrowserContext; pageErrors: string[] }> {
  const context = await withTimeout((await sharedBrowser()).newContext({ viewport: { width: 1280, height: 900 } }), 'a browser context', STEP);
  t.after(() => withTimeout(context.close(), 'the browser context to close', STEP).catch(() => undefined));
  const pageErrors: string[] = [];
  context.on('page', (page) => page.on('pageerror', (error) => pageErrors.push(error.message)));
  return { context, pageErrors };
}

/** A tab with the demo page, its chat name set before the page's scripts run. */
async function openTab(context: BrowserContext, origin: string, name: string): Promise<Page> {
  const page = await withTimeout(context.newPage(), 'a new page', STEP);
  await page.addInitScript(`sessionStorage.setItem('sockwave-name', ${JSON.stringify(name)})`);
  const response = await page.goto(`${origin}/`, { timeout: STEP });
  assert.equal(response?.status(), 200);
  assert.equal(await page.title(), 'sockwave demo');
  await waitFor(page, `document.getElementById('chat-status').textContent === ${JSON.stringify(`connected as ${name}`)}`, `${name} connected`);
  return page;
}

/** Waits for a predicate evaluated in the page (a string: the test build has no DOM types). */
async function waitFor(page: Page, predicate: string, what: string): Promise<void> {
  await withTimeout(page.waitForFunction(predicate, undefined, { timeout: STEP }), what, STEP + 1000);
}

const hasLogLine = (text: string): string => `[...document.querySelectorAll('#log div')].some((line) => line.textContent === ${JSON.stringify(text)})`;
const text = (page: Page, id: string): Promise<string> => page.evaluate(`document.getElementById(${JSON.stringify(id)}).textContent`) as Promise<string>;

describe('the demo page in Chromium', { timeout: 120_000 }, () => {
  test('two tabs chat with names and join/leave notices, the live figures change, a screenshot is saved', async (t) => {
    const cli = run(t, ['serve', '--port', '0', '--deflate']);
    const port = Number(/^listening on ws:\/\/127\.0\.0\.1:(\d+)$/.exec(await cli.lines.next("the 'listening on' line", 10_000))?.[1]);
    assert.ok(port > 0);
    assert.equal(await cli.errLines.next('the demo page line on stderr'), `demo page: http://127.0.0.1:${port}/`);
    const origin = `http://127.0.0.1:${port}`;
    const { context, pageErrors } = await newContext(t);

    const alice = await openTab(context, origin, 'alice');
    await waitFor(alice, hasLogLine('alice joined'), 'alice sees her own join');
    const bob = await openTab(context, origin, 'bob');
    await waitFor(alice, hasLogLine('bob joined'), 'alice sees bob join');
    assert.equal(await text(alice, 'members'), 'alice, bob');

    await alice.fill('#message', 'hello bob ✓', { timeout: STEP });
    await alice.press('#message', 'Enter', { timeout: STEP });
    await waitFor(bob, hasLogLine('alice: hello bob ✓'), 'bob sees alice’s message');
    await waitFor(alice, hasLogLine('alice: hello bob ✓'), 'alice sees her own message');
    await bob.fill('#message', 'hi alice 😀', { timeout: STEP });
    await bob.click('#send', { timeout: STEP });
    await waitFor(alice, hasLogLine('bob: hi alice 😀'), 'alice sees bob’s answer');

    // The figures: two chat sockets and two /stats sockets; traffic seen; round trips measured.
    await waitFor(alice, `document.getElementById('fig-connections').textContent === '4'`, 'four connections in the figures');
    const updates = Number(await text(alice, 'fig-updates'));
    await waitFor(alice, `Number(document.getElementById('fig-updates').textContent) >= ${updates + 2}`, 'two more updates of the figures');
    await waitFor(alice, `document.getElementById('fig-rtt').textContent.endsWith(' ms')`, 'round-trip times in the figures');
    assert.match(await text(alice, 'fig-ratio'), /^×\d+\.\d\d \(deflate\)$/);
    // A burst of chat: the messages-in rate goes above zero within a few samples.
    for (let i = 0; i < 20; i++) {
      await bob.fill('#message', `burst ${i}`, { timeout: STEP });
      await bob.press('#message', 'Enter', { timeout: STEP });
    }
    await waitFor(alice, hasLogLine('bob: burst 19'), 'the burst reaches alice');
    await waitFor(alice, `Number(document.getElementById('fig-msg-in').textContent) > 0`, 'a non-zero messages-in rate');

    // The chart: the messages-in line is drawn (pixels of its colour, #2f6fde, on the canvas).
    const chartPixels = `(() => {
      const canvas = document.getElementById('chart');
      const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let count = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i] === 0x2f && data[i + 1] === 0x6f && data[i + 2] === 0xde) count++;
      return count;
    })()`;
    await waitFor(alice, `${chartPixels} > 20`, 'the chart’s messages-in line');

    mkdirSync(ARTIFACTS, { recursive: true });
    const screenshot = join(ARTIFACTS, 'demo-page.png');
    await withTimeout(alice.screenshot({ path: screenshot, fullPage: true }), 'a screenshot', STEP);
    assert.ok(statSync(screenshot).size > 10_000, 'a screenshot with something in it');

    await withTimeout(bob.close(), 'bob’s tab to close', STEP);
    await waitFor(alice, hasLogLine('bob left'), 'alice sees bob leave');
    assert.equal(await text(alice, 'members'), 'alice');
    assert.deepEqual(pageErrors, []);
    assert.equal(cli.stderr(), `demo page: http://127.0.0.1:${port}/\n`, 'nothing on stderr but the demo page line');
  });
});
