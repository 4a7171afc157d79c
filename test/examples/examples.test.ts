/**
 * The programs in examples/, as a user runs them: each built example (build/examples/*.js, from
 * tsconfig.test.json; it imports the library as `sockwave`, i.e. dist/) is started as a child
 * process with PORT=0, its `listening on URL` line is read, it is exercised with the `ws` client
 * and plain HTTP, then it gets SIGTERM and must exit with code 0 after closing its clients (1001).
 */
import { describe, test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { closeWs, recordWs, withTimeout, type WsRecord } from '../support/net.js';
import { ROOT, startServerProcess, type ServerProcess } from '../interop/support/child.js';

const WAIT = 5000;

/** Starts build/examples/NAME.js; it is killed by PID when the test ends, whatever happened. */
async function startExample(t: TestContext, name: string): Promise<ServerProcess> {
  const file = join(ROOT, 'build', 'examples', `${name}.js`);
  assert.ok(existsSync(file), `${file} is missing: run 'npm run build && npx tsc -p tsconfig.test.json' first`);
  assert.ok(existsSync(join(ROOT, 'dist', 'index.js')), "dist/ is missing (the examples import 'sockwave'): run 'npm run build' first");
  const server = await startServerProcess(t, process.execPath, [file], { env: { PORT: '0' } });
  assert.equal(server.url.hostname, '127.0.0.1');
  assert.ok(server.port > 0, `a real port in ${server.url.href}`);
  assert.equal(server.stdout(), `listening on ${server.url.protocol}//127.0.0.1:${server.port}\n`, 'exactly one line when ready');
  return server;
}

function wsUrl(server: ServerProcess, path: string): string {
  return `ws://127.0.0.1:${server.port}${path}`;
}

/** Opens a `ws` client, recording its events from the start; it is terminated when the test ends. */
async function client(t: TestContext, url: string): Promise<{ ws: WebSocket; rec: WsRecord }> {
  const ws = new WebSocket(url);
  // Recorded before 'open': a message sent right after the 101 must not be missed.
  const rec = recordWs(ws, url);
  t.after(() => closeWs(ws));
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    }),
    `${url} to open`,
    WAIT,
  );
  return { ws, rec };
}

async function nextText(rec: WsRecord, label: string): Promise<string> {
  const message = await rec.messages.next(label, WAIT);
  assert.equal(message.isBinary, false, `${label}: a text message`);
  return message.data.toString('utf8');
}

/** What the server answers to an upgrade it refuses: the status and body of its HTTP response. */
function refusal(url: string): Promise<{ status: number; body: string }> {
  const ws = new WebSocket(url);
  return withTimeout(
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      ws.once('open', () => {
        ws.terminate();
        reject(new Error(`${url} was accepted, a refusal was expected`));
      });
      ws.once('unexpected-response', (request, response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.once('end', () => {
          resolve({ status: response.statusCode ?? 0, body });
          request.destroy();
        });
      });
      ws.once('error', (error) => reject(error));
    }),
    `the refusal of ${url}`,
    WAIT,
  ).finally(() => {
    ws.on('error', () => {});
    if (ws.readyState !== WebSocket.CLOSED) ws.terminate();
  });
}

async function httpGet(url: string): Promise<{ status: number; type: string; body: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(WAIT) });
  return { status: response.status, type: response.headers.get('content-type') ?? '', body: await response.text() };
}

async function checkEcho(t: TestContext, url: string): Promise<void> {
  const { ws, rec } = await client(t, url);
  const text = 'héllo € 𝄞 😀';
  ws.send(text);
  const echoed = await rec.messages.next('the text echo', WAIT);
  assert.deepEqual({ text: echoed.data.toString('utf8'), isBinary: echoed.isBinary }, { text, isBinary: false });
  const bytes = Buffer.from([0, 1, 2, 0xfe, 0xff]);
  ws.send(bytes);
  const back = await rec.messages.next('the binary echo', WAIT);
  assert.equal(back.isBinary, true);
  assert.deepEqual(back.data, bytes);
}

/** SIGTERM: the open client is closed with 1001, and the process exits with code 0. */
async function checkShutdown(t: TestContext, server: ServerProcess, openPath: string): Promise<void> {
  const { rec } = await client(t, wsUrl(server, openPath));
  const exit = await server.terminate(WAIT);
  assert.deepEqual(exit, { code: 0, signal: null }, `exit after SIGTERM; stderr: ${server.stderr()}`);
  const closed = await rec.closed(WAIT);
  assert.equal(closed.code, 1001);
  assert.equal(server.stderr(), '');
}

describe('examples/standalone', () => {
  test('/echo echoes text and binary; /chat refuses without ?name= and broadcasts to the room', async (t) => {
    const server = await startExample(t, 'standalone');
    assert.equal(server.url.protocol, 'ws:');
    await checkEcho(t, wsUrl(server, '/echo'));

    const refused = await refusal(wsUrl(server, '/chat'));
    assert.equal(refused.status, 400);
    assert.match(refused.body, /name/);
    assert.equal((await refusal(wsUrl(server, '/nowhere'))).status, 404);

    const alice = await client(t, wsUrl(server, '/chat?name=alice'));
    assert.equal(await nextText(alice.rec, 'alice joined (to alice)'), '* alice joined');
    const bob = await client(t, wsUrl(server, '/chat?name=b%C3%B6b'));
    assert.equal(await nextText(bob.rec, 'böb joined (to böb)'), '* böb joined');
    assert.equal(await nextText(alice.rec, 'böb joined (to alice)'), '* böb joined');
    bob.ws.send('hi 👋');
    assert.equal(await nextText(alice.rec, 'the broadcast (to alice)'), 'böb: hi 👋');
    assert.equal(await nextText(bob.rec, 'the broadcast (to böb)'), 'böb: hi 👋');
    // An /echo client is not in the room: its next message is its own echo, not the chat.
    const outsider = await client(t, wsUrl(server, '/echo'));
    alice.ws.send('only for the room');
    assert.equal(await nextText(bob.rec, 'the second broadcast'), 'alice: only for the room');
    outsider.ws.send('mine');
    assert.equal(await nextText(outsider.rec, 'the outsider echo'), 'mine');

    await checkShutdown(t, server, '/echo');
  });
});

for (const name of ['node-http', 'express', 'fastify', 'hono']) {
  describe(`examples/${name}`, () => {
    test('serves its page at /, echoes on ws /echo, refuses other upgrade paths with 404, stops on SIGTERM', async (t) => {
      const server = await startExample(t, name);
      assert.equal(server.url.protocol, 'http:');
      const page = await httpGet(`http://127.0.0.1:${server.port}/`);
      assert.equal(page.status, 200);
      assert.match(page.type, /^text\/html/);
      assert.match(page.body, /new WebSocket\(/);
      await checkEcho(t, wsUrl(server, '/echo'));
      assert.equal((await refusal(wsUrl(server, '/nowhere'))).status, 404);
      await checkShutdown(t, server, '/echo');
    });
  });
}

describe('examples/shared-http-server', () => {
  test('two sockwave servers on one HTTP server, by path; other paths 404', async (t) => {
    const server = await startExample(t, 'shared-http-server');
    const page = await httpGet(`http://127.0.0.1:${server.port}/`);
    assert.equal(page.status, 200);
    assert.match(page.body, /\/echo and \/clock/);

    await checkEcho(t, wsUrl(server, '/echo'));
    const clock = await client(t, wsUrl(server, '/clock'));
    const first = JSON.parse(await nextText(clock.rec, 'the time on connecting')) as { now: string };
    assert.ok(Math.abs(Date.parse(first.now) - Date.now()) < 60_000, `a current time: ${first.now}`);
    clock.ws.send('again');
    const second = JSON.parse(await nextText(clock.rec, 'the time on asking')) as { now: string };
    assert.ok(Date.parse(second.now) >= Date.parse(first.now));
    // Both at once, on the same port.
    const echo = await client(t, wsUrl(server, '/echo'));
    echo.ws.send('still here');
    assert.equal(await nextText(echo.rec, 'the echo next to the clock'), 'still here');

    assert.equal((await refusal(wsUrl(server, '/nowhere'))).status, 404);
    await checkShutdown(t, server, '/clock');
  });
});

describe('examples/topics', () => {
  test('publish reaches the subscribers of its topic only', async (t) => {
    const server = await startExample(t, 'topics');
    const a = await client(t, wsUrl(server, '/topics'));
    const b = await client(t, wsUrl(server, '/topics'));
    const next = async (who: typeof a, label: string): Promise<unknown> => JSON.parse(await nextText(who.rec, label));

    a.ws.send(JSON.stringify({ subscribe: 'news' }));
    assert.deepEqual(await next(a, 'a subscribed'), { subscribed: 'news' });
    b.ws.send(JSON.stringify({ subscribe: 'sport' }));
    assert.deepEqual(await next(b, 'b subscribed'), { subscribed: 'sport' });

    b.ws.send(JSON.stringify({ publish: 'news', text: 'élection' }));
    assert.deepEqual(await next(a, 'the news (to a)'), { topic: 'news', text: 'élection' });
    assert.deepEqual(await next(b, 'b: published'), { published: 'news', receivers: 1 });

    a.ws.send(JSON.stringify({ publish: 'sport', text: 'goal' }));
    assert.deepEqual(await next(b, 'the sport (to b)'), { topic: 'sport', text: 'goal' });
    assert.deepEqual(await next(a, 'a: published'), { published: 'sport', receivers: 1 });

    a.ws.send(JSON.stringify({ subscribe: 'sport' }));
    assert.deepEqual(await next(a, 'a subscribed to sport'), { subscribed: 'sport' });
    a.ws.send(JSON.stringify({ unsubscribe: 'news' }));
    assert.deepEqual(await next(a, 'a unsubscribed'), { unsubscribed: 'news' });
    b.ws.send(JSON.stringify({ publish: 'news', text: 'nobody' }));
    assert.deepEqual(await next(b, 'published to nobody'), { published: 'news', receivers: 0 });
    b.ws.send(JSON.stringify({ publish: 'sport', text: 'both' }));
    // a had nothing queued from 'news': its next message is the sport one.
    assert.deepEqual(await next(a, 'sport (to a)'), { topic: 'sport', text: 'both' });
    assert.deepEqual(await next(b, 'sport (to b)'), { topic: 'sport', text: 'both' });
    assert.deepEqual(await next(b, 'published to both'), { published: 'sport', receivers: 2 });

    await checkShutdown(t, server, '/topics');
  });
});
