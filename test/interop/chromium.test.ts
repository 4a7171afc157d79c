/**
 * Interoperability with a real browser: Debian's Chromium (/usr/bin/chromium), driven by
 * playwright-core (which never downloads a browser of its own here), against
 * `node dist/cli/main.js serve --port 0`, over http/ws and https/wss (a self-signed certificate
 * made at test time, accepted by the browser context), with and without --deflate.
 *
 * The browser loads the server's demo page from /, then its own WebSocket (code injected from
 * fixtures/chromium_client.js) talks to /echo: multibyte text, an ArrayBuffer, a 20 KB compressible
 * text, close(4000, 'done'), a subprotocol offer; two demo pages talk through /broadcast with
 * the page's own form; and a connection sees the server shut down (1001).
 *
 * Chromium missing is a FAILURE, not a skip: `.ci/run` must install chromium.
 */
import { describe, test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type BrowserContext, type Page } from 'playwright-core';
import { startServer, withTimeout } from '../support/net.js';
import { ROOT, startServerProcess } from './support/child.js';
import { sharedBrowser as browser } from './support/chromium.js';
import { selfSignedCertificate } from './support/tls.js';

const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const CLIENT_SCRIPT = join(ROOT, 'test', 'interop', 'fixtures', 'chromium_client.js');
const ARTIFACTS = join(ROOT, 'test-artifacts');
const TEXT = 'héllo € 𝄞 😀 中文 ひらがな 👩‍👩‍👧‍👦 🇫🇷';
const STEP = 10_000;

// ---------------------------------------------------------------------------------------------

/** A fresh browser context (closed, bounded, when the test ends) with pages that record errors. */
async function newContext(t: TestContext, options: { ignoreHTTPSErrors: boolean }): Promise<{ context: BrowserContext; pageErrors: string[] }> {
  const context = await withTimeout((await browser()).newContext(options), 'a browser context', STEP);
  t.after(() => withTimeout(context.close(), 'the browser context to close', STEP).catch(() => undefined));
  const pageErrors: string[] = [];
  context.on('page', (page) => page.on('pageerror', (error) => pageErrors.push(error.message)));
  return { context, pageErrors };
}

/** Opens the demo page and waits for its own WebSocket to /broadcast to be connected. */
async function openDemo(context: BrowserContext, origin: string): Promise<Page> {
  const page = await withTimeout(context.newPage(), 'a new page', STEP);
  const response = await page.goto(`${origin}/`, { timeout: STEP });
  assert.ok(response, 'a response for the demo page');
  assert.equal(response.status(), 200);
  assert.match(response.headers()['content-type'] ?? '', /^text\/html/);
  assert.equal(await page.title(), 'sockwave demo');
  await waitForStatus(page, 'connected as ');
  await page.addScriptTag({ path: CLIENT_SCRIPT });
  return page;
}

/** Waits until the demo page's chat status line starts with `text`. */
async function waitForStatus(page: Page, text: string): Promise<void> {
  // A string predicate: this runs in the page (the test build has no DOM types).
  await page.waitForFunction(`document.getElementById('chat-status')?.textContent?.startsWith(${JSON.stringify(text)})`, undefined, { timeout: STEP });
}

/** Waits until the demo page's log shows a chat line 'NAME: text'. */
async function waitForLogLine(page: Page, text: string): Promise<void> {
  await page.waitForFunction(
    `[...document.querySelectorAll('#log div')].some((line) => line.textContent.endsWith(${JSON.stringify(`: ${text}`)}))`,
    undefined,
    { timeout: STEP },
  );
}

/** Calls window.sockwaveInterop[method](...args) in the page, within `ms`. */
function call<T>(page: Page, method: string, args: unknown[], ms = STEP): Promise<T> {
  return withTimeout(
    page.evaluate(
      ([name, values]) => {
        const api = (globalThis as unknown as { sockwaveInterop: Record<string, (...a: unknown[]) => Promise<unknown>> }).sockwaveInterop;
        return api[name as string]!(...(values as unknown[]));
      },
      [method, args] as const,
    ) as Promise<T>,
    `sockwaveInterop.${method} in chromium`,
    ms,
  );
}

interface Received {
  type: string;
  length: number;
}
interface CloseEventInfo {
  code: number;
  reason: string;
  wasClean: boolean;
}
interface EchoResult {
  opened: boolean;
  protocol: string;
  extensions: string;
  url: string;
  text: { ok: boolean; received: Received };
  binary: { ok: boolean; received: Received };
  large: { ok: boolean; length: number; received: Received };
  close: CloseEventInfo;
  error: boolean;
}
interface OfferResult {
  opened: boolean;
  protocol: string;
  echo?: string;
  close: CloseEventInfo;
  error: boolean;
}

async function run(t: TestContext, options: { tls: boolean; deflate: boolean; screenshot: string }): Promise<void> {
  const running = await browser(); // fails here, with the reason, when chromium is missing
  t.diagnostic(`chromium ${running.version()}`);
  assert.ok(existsSync(CLI), `${CLI} is missing: run 'npm run build' first`);
  const args = [CLI, 'serve', '--port', '0'];
  if (options.tls) {
    const certificate = await selfSignedCertificate(t);
    args.push('--tls-cert', certificate.cert, '--tls-key', certificate.key);
  }
  if (options.deflate) args.push('--deflate');
  const server = await startServerProcess(t, process.execPath, args);
  const origin = `${options.tls ? 'https' : 'http'}://127.0.0.1:${server.port}`;
  const wsOrigin = `${options.tls ? 'wss' : 'ws'}://127.0.0.1:${server.port}`;
  assert.equal(server.url.origin, wsOrigin);

  const { context, pageErrors } = await newContext(t, { ignoreHTTPSErrors: options.tls });
  const page1 = await openDemo(context, origin);

  // /echo with the browser's own WebSocket.
  const echo = await call<EchoResult>(page1, 'echo', [`${wsOrigin}/echo`, TEXT]);
  assert.equal(echo.opened, true, JSON.stringify(echo));
  assert.equal(echo.url, `${wsOrigin}/echo`);
  assert.equal(echo.protocol, '');
  if (options.deflate) assert.match(echo.extensions, /^permessage-deflate\b/, 'Chromium offers permessage-deflate and the server accepts it');
  else assert.equal(echo.extensions, '');
  assert.deepEqual(echo.text, { ok: true, received: { type: 'text', length: TEXT.length } });
  assert.deepEqual(echo.binary, { ok: true, received: { type: 'arraybuffer', length: 256 } });
  assert.deepEqual(echo.large, { ok: true, length: 20_520, received: { type: 'text', length: 20_520 } });
  // The server's close frame echoes our code (with no reason of its own): a clean close.
  assert.deepEqual(echo.close, { code: 4000, reason: '', wasClean: true });
  assert.equal(echo.error, false);

  // A subprotocol offer to a server that supports none: the 101 carries no Sec-WebSocket-Protocol,
  // which RFC 6455 allows, but browsers (WHATWG) fail such a connection: 1006, not clean.
  const offer = await call<OfferResult>(page1, 'offer', [`${wsOrigin}/echo`, ['sockwave.test.v1', 'chat']]);
  assert.deepEqual(offer, { opened: false, protocol: '', close: { code: 1006, reason: '', wasClean: false }, error: true });

  // /broadcast between two demo pages, through the page's own form.
  const page2 = await openDemo(context, origin);
  const hello = `page 1 says ${TEXT}`;
  await page1.fill('#message', hello, { timeout: STEP });
  await page1.press('#message', 'Enter', { timeout: STEP });
  for (const [name, page] of [['page 1', page1], ['page 2', page2]] as const) {
    await withTimeout(waitForLogLine(page, hello), `the broadcast to reach ${name}`, STEP + 1000);
  }
  await page2.fill('#message', 'page 2 answers ✓', { timeout: STEP });
  await page2.press('#message', 'Enter', { timeout: STEP });
  await waitForLogLine(page1, 'page 2 answers ✓');

  mkdirSync(ARTIFACTS, { recursive: true });
  await withTimeout(page1.screenshot({ path: join(ARTIFACTS, options.screenshot), fullPage: true }), 'a screenshot', STEP);

  // The server shuts down (SIGTERM): a held connection and the demo page see a clean 1001.
  assert.equal(await call<boolean>(page1, 'hold', [`${wsOrigin}/echo`]), true);
  assert.deepEqual(await server.terminate(8000), { code: 0, signal: null }, `the server's exit; stderr: ${server.stderr()}`);
  const held = await call<{ close: CloseEventInfo; error: boolean }>(page1, 'heldClose', [], 12_000);
  assert.deepEqual(held, { close: { code: 1001, reason: 'server shutting down', wasClean: true }, error: false });
  await waitForStatus(page2, 'disconnected (1001');

  assert.deepEqual(pageErrors, []);
  assert.equal(server.stderr(), `demo page: ${origin}/\n`, 'nothing on stderr but the demo page line');
}

describe('interop: Chromium against sockwave serve', () => {
  test('http:// page, ws://', (t) => run(t, { tls: false, deflate: false, screenshot: 'interop-chromium.png' }));
  test('https:// page, wss:// (self-signed certificate)', (t) => run(t, { tls: true, deflate: false, screenshot: 'interop-chromium-wss.png' }));
  test('ws:// with --deflate: permessage-deflate negotiated', (t) => run(t, { tls: false, deflate: true, screenshot: 'interop-chromium-deflate.png' }));
  test('wss:// with --deflate', (t) => run(t, { tls: true, deflate: true, screenshot: 'interop-chromium-wss-deflate.png' }));
});

describe('interop: Chromium negotiates a subprotocol with a sockwave server that supports one', () => {
  test('the server picks the one it supports among those offered', async (t) => {
    const server = await startServer({
      protocols: ['sockwave.test.v1'],
      onConnection: () => ({ onMessage: (conn, data, isBinary) => conn.send(data, { binary: isBinary }) }),
    });
    t.after(() => server.close());
    const { context } = await newContext(t, { ignoreHTTPSErrors: false });
    const page = await withTimeout(context.newPage(), 'a new page', STEP);
    await page.addScriptTag({ path: CLIENT_SCRIPT });
    const offer = await call<OfferResult>(page, 'offer', [`${server.url}/echo`, ['chat', 'sockwave.test.v1']]);
    assert.deepEqual(offer, {
      opened: true,
      protocol: 'sockwave.test.v1',
      echo: 'with a subprotocol',
      close: { code: 1000, reason: '', wasClean: true },
      error: false,
    });
  });
});
