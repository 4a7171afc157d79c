/**
 * `sockwave serve` beyond the contract: the second ready line, the demo's files, the chat room's
 * join/leave notices (named members only), the /stats figures, and the server flags
 * (--max-connections, --heartbeat, --max-payload, --backplane), as a child process.
 */
import { describe, test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { get as httpGet } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { closeWs, recordWs, withTimeout, type WsRecord } from '../support/net.js';
import { run, type Cli } from '../support/cli-process.js';
import { ROOT } from '../interop/support/child.js';

async function serve(t: TestContext, extra: readonly string[] = []): Promise<{ cli: Cli; port: number; url: string }> {
  const cli = run(t, ['serve', '--port', '0', ...extra]);
  const match = /^listening on ws:\/\/127\.0\.0\.1:(\d+)$/.exec(await cli.lines.next("the 'listening on' line", 10_000));
  assert.ok(match);
  const port = Number(match[1]);
  assert.equal(await cli.errLines.next('the demo page line on stderr'), `demo page: http://127.0.0.1:${port}/`);
  return { cli, port, url: `ws://127.0.0.1:${port}` };
}

function get(port: number, path: string): Promise<{ status: number; type: string; body: string }> {
  return withTimeout(
    new Promise((resolve, reject) => {
      httpGet({ host: '127.0.0.1', port, path, agent: false }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, type: String(response.headers['content-type']), body }));
      }).on('error', reject);
    }),
    `GET ${path}`,
  );
}

/** A `ws` client recorded from the start: a notice sent right after the 101 is not missed. */
async function client(t: TestContext, url: string): Promise<{ socket: WebSocket; rec: WsRecord }> {
  const socket = new WebSocket(url);
  const rec = recordWs(socket, url);
  t.after(() => closeWs(socket));
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    }),
    `${url} to open`,
  );
  return { socket, rec };
}

const json = (message: { data: Buffer }): Record<string, unknown> => JSON.parse(message.data.toString('utf8')) as Record<string, unknown>;

describe('sockwave serve: the demo and the server flags', { timeout: 60_000 }, () => {
  test('serves the demo page, its stylesheet and scripts, and nothing else of the folder', async (t) => {
    const { port } = await serve(t);
    const page = await get(port, '/');
    assert.equal(page.status, 200);
    for (const [path, type] of [['/demo.css', 'text/css'], ['/chat.js', 'text/javascript'], ['/figures.js', 'text/javascript']] as const) {
      assert.ok(page.body.includes(`"${path}"`), `the page links ${path}`);
      const file = await get(port, path);
      assert.equal(file.status, 200, path);
      assert.ok(file.type.startsWith(type), `${path}: ${file.type}`);
      assert.ok(file.body.length > 100);
    }
    for (const path of ['/../package.json', '/index.htm', '/demo/index.html', '/chat.js.map']) assert.equal((await get(port, path)).status, 404, path);
  });

  test('/broadcast: named members get join and leave notices; unnamed clients see only the messages sent', async (t) => {
    const { url } = await serve(t);
    const plain = await client(t, `${url}/broadcast`);
    const alice = await client(t, `${url}/broadcast?name=alice`);
    assert.deepEqual(json(await alice.rec.messages.next('alice’s own join')), { type: 'join', name: 'alice', members: ['alice'] });
    const bob = await client(t, `${url}/broadcast?name=${encodeURIComponent(' bob ')}`);
    assert.deepEqual(json(await alice.rec.messages.next('bob’s join at alice')), { type: 'join', name: 'bob', members: ['alice', 'bob'] });
    assert.deepEqual(json(await bob.rec.messages.next('bob’s join at bob')), { type: 'join', name: 'bob', members: ['alice', 'bob'] });
    await closeWs(bob.socket);
    assert.deepEqual(json(await alice.rec.messages.next('bob’s leave')), { type: 'leave', name: 'bob', members: ['alice'] });
    plain.socket.send('plain text');
    assert.equal((await alice.rec.messages.next('the relayed text')).data.toString(), 'plain text');
    // The unnamed client saw no notice: its first message is the one it sent itself.
    assert.equal((await plain.rec.messages.next('the relay to the sender')).data.toString(), 'plain text');
    assert.equal(plain.rec.messages.pending, 0);
  });

  test('/stats sends the figures once a second: connections, rates, compression, round trips', async (t) => {
    const { url } = await serve(t, ['--deflate']);
    const stats = await client(t, `${url}/stats`);
    const echo = await client(t, `${url}/echo`);
    for (let i = 0; i < 5; i++) echo.socket.send('x'.repeat(2000));
    await echo.rec.messages.take(5, 'the echoes');
    let figures = json(await stats.rec.messages.next('the first figures', 5000));
    assert.equal(figures['type'], 'figures');
    assert.equal(figures['connections'], 2);
    assert.equal(figures['deflate'], true);
    // The echo messages are counted in some sample within the first three.
    let seen = Number(figures['messagesInPerSecond']);
    for (let i = 0; i < 2 && seen < 5; i++) {
      figures = json(await stats.rec.messages.next('more figures', 5000));
      seen += Number(figures['messagesInPerSecond']);
    }
    assert.ok(seen >= 5, `the echo traffic in the rates (${seen})`);
    assert.ok(Number(figures['compressionRatio']) > 1, `deflate pays on repetitive text: ${String(figures['compressionRatio'])}`);
    // The /stats socket itself is pinged: its round trip shows up by the next sample.
    figures = json(await stats.rec.messages.next('figures with a round trip', 5000));
    const rtt = figures['rtt'] as { min: number; median: number; max: number; samples: number } | null;
    assert.ok(rtt && rtt.samples >= 1 && rtt.min <= rtt.median && rtt.median <= rtt.max, JSON.stringify(rtt));
  });

  test('--max-connections 2: the third upgrade gets 503', async (t) => {
    const { url } = await serve(t, ['--max-connections', '2']);
    await client(t, `${url}/echo`);
    await client(t, `${url}/echo`);
    const status = await withTimeout(
      new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(`${url}/echo`);
        ws.on('unexpected-response', (_request, response) => {
          resolve(response.statusCode ?? 0);
          ws.terminate();
        });
        ws.on('open', () => reject(new Error('a third connection was accepted')));
        ws.on('error', () => {});
      }),
      'the refusal',
    );
    assert.equal(status, 503);
  });

  test('--max-payload 100: a larger message closes with 1009', async (t) => {
    const { url } = await serve(t, ['--max-payload', '100']);
    const { socket, rec } = await client(t, `${url}/echo`);
    socket.send('y'.repeat(101));
    assert.equal((await rec.closed()).code, 1009);
  });

  test('/echo sends back a message over 16 MiB (the default limit of a connection buffer) when --max-payload allows it', async (t) => {
    const size = 17 * 1024 * 1024;
    const { url } = await serve(t, ['--max-payload', String(size)]);
    const { socket, rec } = await client(t, `${url}/echo`);
    const message = Buffer.alloc(size, 0x5a);
    socket.send(message);
    const echo = await rec.messages.next('the echo', 20_000);
    assert.equal(echo.data.length, size);
    assert.ok(echo.data.equals(message));
    assert.equal(socket.readyState, WebSocket.OPEN, 'still open');
  });

  test('--heartbeat 0.2: the server pings its clients', async (t) => {
    const { url } = await serve(t, ['--heartbeat', '0.2']);
    const { socket } = await client(t, `${url}/echo`);
    await withTimeout(new Promise<void>((resolve) => socket.once('ping', () => resolve())), 'a heartbeat ping');
  });

  test('--backplane takes redis://HOST:PORT only: anything else is a usage error (exit 2, one line)', async (t) => {
    const cli = run(t, ['serve', '--port', '0', '--backplane', 'http://nope']);
    assert.deepEqual(await cli.exited(), { code: 2, signal: null });
    assert.equal(cli.stderr(), `sockwave: --backplane needs redis://HOST:PORT, not "http://nope" (see 'sockwave --help')\n`);
    assert.equal(cli.stdout(), '');
  });

  test('limits that must be whole numbers above 0 are usage errors naming the flag (exit 2, one line), never a server that refuses everyone', async (t) => {
    for (const [flag, value] of [
      ['--max-fragments', '0'],
      ['--max-fragments', '1.5'],
      ['--max-per-address', '2.5'],
      ['--max-per-address', '0'],
      ['--handshake-timeout', '0'],
      ['--max-connections', '0'],
    ] as const) {
      const cli = run(t, ['serve', '--port', '0', flag, value]);
      assert.deepEqual(await cli.exited(), { code: 2, signal: null }, `${flag} ${value}`);
      assert.equal(cli.stderr(), `sockwave: ${flag} must be a whole number above 0, not "${value}" (see 'sockwave --help')\n`);
      assert.equal(cli.stdout(), '');
    }
  });

  test("'npm start' builds, then runs serve on 127.0.0.1:8080 (which prints the demo page's URL)", () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.equal(manifest.scripts['start'], 'npm run build && node dist/cli/main.js serve --port 8080');
  });

  test('a port in use: exit 1 with one line that suggests --port 0', async (t) => {
    const { port } = await serve(t);
    const cli = run(t, ['serve', '--port', String(port)]);
    assert.equal((await cli.exited()).code, 1);
    assert.equal(cli.stderr(), `sockwave: port ${port} is in use (127.0.0.1:${port}); try --port 0 for a free one\n`);
  });
});
