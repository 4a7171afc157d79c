/**
 * The `sockwave` command line, run as a child process (dist/cli/main.js, built by
 * `npx tsc -p tsconfig.json`), over real sockets on 127.0.0.1.
 */
import { describe, test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { setTimeout as delay } from 'node:timers/promises';
import { get as httpGet } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import type WebSocket from 'ws';
import {
  Queue,
  acceptFor,
  closePayload,
  closeWs,
  closedPort,
  openWs,
  rawUpgrade,
  recordWs,
  startRawWsServer,
  startWsServer,
  withTimeout,
  type StartedWsServer,
} from '../support/net.js';
import { run, type Cli } from '../support/cli-process.js';
import { selfSignedCertificate } from '../interop/support/tls.js';

/** Starts `sockwave serve --port 0` and reads the port from its 'listening on' line. */
async function serve(t: TestContext): Promise<{ cli: Cli; port: number; url: string }> {
  const cli = run(t, ['serve', '--port', '0']);
  const line = await cli.lines.next("the 'listening on' line", 10_000);
  const match = /^listening on ws:\/\/127\.0\.0\.1:(\d+)$/.exec(line);
  assert.ok(match, `unexpected first line: ${JSON.stringify(line)}`);
  const port = Number(match[1]);
  assert.ok(port > 0);
  return { cli, port, url: `ws://127.0.0.1:${port}` };
}

function httpRequest(port: number, path: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return withTimeout(
    new Promise((resolve, reject) => {
      const request = httpGet({ host: '127.0.0.1', port, path, agent: false }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
        response.on('error', reject);
      });
      request.on('error', reject);
    }),
    `GET ${path}`,
  );
}

async function ws(t: TestContext, url: string): Promise<{ socket: WebSocket; rec: ReturnType<typeof recordWs> }> {
  const socket = await openWs(url);
  t.after(() => closeWs(socket));
  return { socket, rec: recordWs(socket) };
}

/** Messages enough to fill a pipe and the CLI's stdout many times over (3 MB), each one line. */
const FLOOD = 3000;
const floodLine = (i: number): string => `${String(i).padStart(6, '0')} ${'x'.repeat(1000)}`;

/** `stdout` is every flood line, in order, and nothing else. */
function assertFlood(stdout: string): void {
  const lines = stdout.split('\n');
  assert.equal(lines.pop(), '', 'the output does not end with a newline');
  assert.equal(lines.length, FLOOD, `${lines.length} of ${FLOOD} lines printed`);
  for (let i = 0; i < FLOOD; i++) if (lines[i] !== floodLine(i)) assert.fail(`line ${i} is not message ${i}: ${lines[i]!.slice(0, 20)}`);
}

async function wsServer(t: TestContext): Promise<StartedWsServer> {
  const srv = await startWsServer();
  t.after(() => srv.close());
  return srv;
}

describe('sockwave serve (child process)', { timeout: 60_000 }, () => {
  test("prints 'listening on ws://127.0.0.1:PORT' and serves the demo page at / with 200 HTML", async (t) => {
    const { port } = await serve(t);
    const page = await httpRequest(port, '/');
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(page.body, /<html/i);
    const missing = await httpRequest(port, '/nothing-here');
    assert.equal(missing.status, 404);
  });

  test('/echo sends text back as text and binary back as binary', async (t) => {
    const { url } = await serve(t);
    const { socket, rec } = await ws(t, `${url}/echo`);
    socket.send('héllo 😀');
    socket.send(Buffer.from([0, 1, 2, 0xff]));
    socket.send('');
    const [text, binary, empty] = await rec.messages.take(3, 'three echoes');
    assert.deepEqual([text!.data.toString('utf8'), text!.isBinary], ['héllo 😀', false]);
    assert.deepEqual([binary!.data, binary!.isBinary], [Buffer.from([0, 1, 2, 0xff]), true]);
    assert.deepEqual([empty!.data.length, empty!.isBinary], [0, false]);
  });

  test('/broadcast delivers a message from one client to all three, the sender included', async (t) => {
    const { url } = await serve(t);
    const clients = [await ws(t, `${url}/broadcast`), await ws(t, `${url}/broadcast`), await ws(t, `${url}/broadcast`)];
    // An /echo client is not in the room.
    const outsider = await ws(t, `${url}/echo`);
    clients[1]!.socket.send('hello room ✓');
    for (const { rec } of clients) {
      const got = await rec.messages.next('the broadcast');
      assert.deepEqual([got.data.toString('utf8'), got.isBinary], ['hello room ✓', false]);
    }
    clients[2]!.socket.send(Buffer.from([42]));
    for (const { rec } of clients) {
      const got = await rec.messages.next('the binary broadcast');
      assert.deepEqual([got.data, got.isBinary], [Buffer.from([42]), true]);
    }
    outsider.socket.send('ping');
    assert.equal((await outsider.rec.messages.next('the outsider echo')).data.toString(), 'ping');
  });

  test('SIGTERM closes every client with 1001 and the process exits 0', async (t) => {
    const { cli, url } = await serve(t);
    const a = await ws(t, `${url}/echo`);
    const b = await ws(t, `${url}/broadcast`);
    // Both are fully open on the server side once an echo came back.
    a.socket.send('x');
    await a.rec.messages.next('the echo');
    assert.ok(cli.child.kill('SIGTERM'));
    const [closeA, closeB] = await Promise.all([a.rec.closed(), b.rec.closed()]);
    assert.equal(closeA.code, 1001);
    assert.equal(closeB.code, 1001);
    assert.equal(closeA.reason, 'server shutting down');
    assert.deepEqual(await cli.exited(), { code: 0, signal: null });
    assert.equal(cli.stdout(), `listening on ${url}\n`, "stdout holds the contract's one line and nothing else");
  });

  test('a second SIGTERM (and a SIGINT) during the graceful close still end with exit 0, not the signal', async (t) => {
    const { cli, port } = await serve(t);
    // A client that never answers the close frame keeps the shutdown waiting (up to 3 s).
    const silent = await rawUpgrade(port, '/echo');
    t.after(() => silent.socket.destroy());
    assert.ok(cli.child.kill('SIGTERM'));
    const close = await silent.readFrame();
    assert.equal(closePayload(close.payload).code, 1001);
    assert.ok(cli.child.kill('SIGTERM'));
    assert.ok(cli.child.kill('SIGINT'));
    assert.deepEqual(await cli.exited(), { code: 0, signal: null });
  });

  test('SIGTERM with no client connected exits 0', async (t) => {
    const { cli, port } = await serve(t);
    assert.equal((await httpRequest(port, '/')).status, 200);
    cli.child.kill('SIGTERM');
    assert.deepEqual(await cli.exited(), { code: 0, signal: null });
  });

  test(
    "SIGTERM sent as soon as the 'listening on' line is read exits 0 (five tries)",
    async (t) => {
      for (let i = 0; i < 5; i++) {
        const cli = run(t, ['serve', '--port', '0']);
        // Signal from the 'data' handler itself: no delay after the line is read.
        cli.child.stdout!.on('data', (chunk: string) => {
          if (chunk.includes('listening on')) cli.child.kill('SIGTERM');
        });
        assert.deepEqual(await cli.exited(), { code: 0, signal: null }, `try ${i + 1}`);
      }
    },
  );

  test('a stdout whose reader has gone (EPIPE) does not crash serve: it keeps serving, and SIGTERM ends it with exit 0', async (t) => {
    const cli = run(t, ['serve', '--port', '0']);
    // The reader goes away before the 'listening on' line is written.
    cli.child.stdout!.destroy();
    const line = await cli.errLines.next("the 'demo page' line on stderr", 10_000);
    const port = Number(/:(\d+)\/$/.exec(line)?.[1]);
    assert.ok(port > 0, line);
    assert.equal((await httpRequest(port, '/')).status, 200);
    assert.ok(cli.child.kill('SIGTERM'));
    assert.deepEqual(await cli.exited(), { code: 0, signal: null });
    assert.doesNotMatch(cli.stderr(), /EPIPE|Error/);
  });

  test('--max-payload takes a whole number of bytes: 1.5 and 0 are refused (exit 2, one line)', async (t) => {
    for (const value of ['1.5', '0']) {
      const cli = run(t, ['serve', '--port', '0', '--max-payload', value]);
      assert.deepEqual(await cli.exited(), { code: 2, signal: null }, value);
      assert.match(cli.stderr(), /^sockwave: --max-payload must be a whole number above 0, not "[\d.]+" \(see 'sockwave --help'\)\n$/);
    }
  });

  test('--host takes an IPv6 address bare or in brackets (as URLs write it), and serves on it', async (t) => {
    for (const host of ['::1', '[::1]']) {
      const cli = run(t, ['serve', '--port', '0', '--host', host]);
      const line = await cli.lines.next("the 'listening on' line", 10_000);
      const url = /^listening on (ws:\/\/\[::1\]:\d+)$/.exec(line)?.[1];
      assert.ok(url, `${host}: ${line}`);
      const client = run(t, ['connect', `${url}/echo`, '--execute', `over ${host}`, '--wait', '0.5']);
      assert.deepEqual(await client.exited(), { code: 0, signal: null }, client.stderr());
      assert.equal(client.stdout(), `over ${host}\n`);
      cli.child.kill('SIGTERM');
      assert.deepEqual(await cli.exited(), { code: 0, signal: null });
    }
  });

  test('--host with an address this machine does not have: one line naming it as URLs write it (exit 1)', async (t) => {
    const cli = run(t, ['serve', '--port', '0', '--host', '[2001:db8::1]']);
    assert.deepEqual(await cli.exited(), { code: 1, signal: null });
    assert.equal(cli.stderr(), 'sockwave: cannot listen on [2001:db8::1]:0: no such local address\n');
  });

  test('a client piping more than 50,000 messages a second gets every echo: serve has no rate limit unless --rate-limit is given', async (t) => {
    const { cli: server, url } = await serve(t);
    const count = 80_000;
    const lines = Array.from({ length: count }, (_, i) => `line ${i}`);
    const client = run(t, ['connect', `${url}/echo`], 'pipe');
    client.child.stdin!.end(`${lines.join('\n')}\n`);
    assert.deepEqual(await client.exited(30_000), { code: 0, signal: null }, client.stderr());
    const printed = client.stdout().split('\n');
    assert.equal(printed.pop(), '');
    assert.equal(printed.length, count, `${printed.length} echoes of ${count}`);
    assert.equal(printed[count - 1], `line ${count - 1}`);
    server.child.kill('SIGTERM');
    assert.deepEqual(await server.exited(), { code: 0, signal: null });
  });

  test('--rate-limit N closes a client that sends faster with 1008', async (t) => {
    const server = run(t, ['serve', '--port', '0', '--rate-limit', '100']);
    const url = /^listening on (ws:\S+)$/.exec(await server.lines.next("the 'listening on' line", 10_000))?.[1];
    assert.ok(url);
    const client = run(t, ['connect', `${url}/echo`], 'pipe');
    client.child.stdin!.end('x\n'.repeat(1000));
    assert.equal((await client.exited()).code, 1);
    assert.match(client.stderr(), /^sockwave: connection closed by the server with 1008 \(rate limit exceeded\)/m);
  });

  test('--tls-cert and --tls-key that do not belong together, or that are not PEM: exit 2, one line naming the files', async (t) => {
    const [one, other] = [await selfSignedCertificate(t), await selfSignedCertificate(t)];
    const cases: Array<[string[], RegExp]> = [
      [['--tls-cert', one.cert, '--tls-key', other.key], /^sockwave: --tls-key \S+key\.pem is not the private key of --tls-cert \S+cert\.pem \(.*mismatch\)/],
      [['--tls-cert', one.key, '--tls-key', one.key], /^sockwave: --tls-cert \S+key\.pem holds no usable PEM certificate/],
      [['--tls-cert', one.cert, '--tls-key', one.cert], /^sockwave: --tls-key \S+cert\.pem holds no usable PEM private key/],
    ];
    for (const [args, expected] of cases) {
      const cli = run(t, ['serve', '--port', '0', ...args]);
      assert.deepEqual(await cli.exited(), { code: 2, signal: null }, cli.stderr());
      assert.match(cli.stderr(), expected);
      assert.equal(cli.stderr().split('\n').length, 2, 'one line');
    }
  });

  test('serve --help prints the usage and exits 0', async (t) => {
    const cli = run(t, ['serve', '--help']);
    assert.deepEqual(await cli.exited(), { code: 0, signal: null });
    assert.match(cli.stdout(), /Usage: sockwave serve/);
  });
});

describe('sockwave connect (child process)', { timeout: 60_000 }, () => {
  test('lines piped on stdin are sent, the echoes printed one per line, then it closes with 1000 and exits 0', async (t) => {
    const srv = await wsServer(t);
    const closes = new Queue<number>();
    srv.wss.on('connection', (socket) => {
      socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
      socket.on('close', (code) => closes.push(code));
    });
    const cli = run(t, ['connect', srv.url], 'pipe');
    cli.child.stdin!.end('one\ntwo words\nthree ✓ 😀\n');
    assert.deepEqual(await cli.exited(), { code: 0, signal: null });
    assert.equal(cli.stdout(), 'one\ntwo words\nthree ✓ 😀\n');
    assert.equal(cli.stderr(), '');
    assert.equal(await closes.next('the close at the server'), 1000);
  });

  test('a stdout read slowly loses nothing: every message is printed, in order, before it exits 0 on the server\'s close', async (t) => {
    const srv = await wsServer(t);
    srv.wss.on('connection', (socket) => {
      for (let i = 0; i < FLOOD; i++) socket.send(floodLine(i));
      socket.close(1000);
    });
    const cli = run(t, ['connect', srv.url, '--wait', '30'], 'pipe');
    // Nothing of stdout is read for a while: the pipe and the CLI's stream fill up.
    cli.child.stdout!.pause();
    await delay(1000);
    cli.child.stdout!.resume();
    assert.deepEqual(await cli.exited(), { code: 0, signal: null });
    assertFlood(cli.stdout());
  });

  test('the --wait countdown stops while stdout is full: replies already sent are all printed, then it closes with 1000', async (t) => {
    const srv = await wsServer(t);
    const closes = new Queue<number>();
    srv.wss.on('connection', (socket) => {
      for (let i = 0; i < FLOOD; i++) socket.send(floodLine(i));
      socket.on('close', (code) => closes.push(code));
    });
    // stdin ends at once: the countdown (0.5 s) starts when connected.
    const cli = run(t, ['connect', srv.url, '--wait', '0.5']);
    cli.child.stdout!.pause();
    await delay(1500);
    cli.child.stdout!.resume();
    assert.deepEqual(await cli.exited(), { code: 0, signal: null });
    assertFlood(cli.stdout());
    assert.equal(await closes.next('the close at the server'), 1000);
  });

  test('--echo sends text back as text and binary back as binary, and exits 0 when the server closes with 1000', async (t) => {
    const srv = await wsServer(t);
    const received = new Queue<{ data: Buffer; isBinary: boolean }>();
    srv.wss.on('connection', (socket) => {
      socket.on('message', (data, isBinary) => {
        received.push({ data: data as Buffer, isBinary });
        if (received.history.length === 2) socket.close(1000, 'done');
      });
      socket.send('text ✓');
      socket.send(Buffer.from([0, 0xff, 0x80]));
    });
    const cli = run(t, ['connect', srv.url, '--echo']);
    const [text, binary] = await received.take(2, 'both echoes');
    assert.deepEqual([text!.data.toString('utf8'), text!.isBinary], ['text ✓', false]);
    assert.deepEqual([binary!.data, binary!.isBinary], [Buffer.from([0, 0xff, 0x80]), true]);
    assert.deepEqual(await cli.exited(), { code: 0, signal: null });
  });

  test('--echo stopped by Ctrl-C while messages keep arriving: closes with 1000, exits 0, no stack trace', async (t) => {
    const srv = await wsServer(t);
    const echoes = new Queue<Buffer>();
    const closes = new Queue<number>();
    srv.wss.on('connection', (socket) => {
      // A steady stream: messages are still on the way when the CLI closes.
      const timer = setInterval(() => {
        for (let i = 0; i < 20; i++) socket.send(`stream ${i}`);
      }, 2);
      socket.on('message', (data) => echoes.push(data as Buffer));
      socket.on('close', (code) => {
        clearInterval(timer);
        closes.push(code);
      });
    });
    const cli = run(t, ['connect', srv.url, '--echo']);
    await echoes.take(50, 'echoes of the stream');
    assert.ok(cli.child.kill('SIGINT'));
    assert.equal(await closes.next('the close'), 1000);
    assert.deepEqual(await cli.exited(), { code: 0, signal: null }, `stderr: ${cli.stderr()}`);
    assert.doesNotMatch(cli.stderr(), /\n\s+at /);
  });

  test('a second Ctrl-C while the server does not answer the close ends with exit 1 and one line, not by the signal', async (t) => {
    // A server that completes the upgrade by hand and then reads nothing: the close is never answered.
    const closeFrames = new Queue<Buffer>();
    const silent = createNetServer((socket) => {
      socket.on('error', () => {});
      let head = '';
      const onHead = (chunk: Buffer): void => {
        head += chunk.toString('latin1');
        const key = /^sec-websocket-key: *(\S+)/im.exec(head)?.[1];
        if (!head.includes('\r\n\r\n') || key === undefined) return;
        socket.off('data', onHead);
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`);
        socket.write(Buffer.concat([Buffer.from([0x81, 5]), Buffer.from('ready')]));
        socket.on('data', (frame: Buffer) => closeFrames.push(frame));
      };
      socket.on('data', onHead);
    });
    await withTimeout(new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve())), 'the server to listen');
    t.after(() => silent.close());
    const cli = run(t, ['connect', `ws://127.0.0.1:${(silent.address() as AddressInfo).port}/`], 'pipe');
    t.after(() => cli.child.kill('SIGKILL'));
    assert.equal(await cli.lines.next('the first message'), 'ready');
    assert.ok(cli.child.kill('SIGINT'));
    const frame = await closeFrames.next('the close frame');
    assert.equal(frame[0], 0x88, 'the first Ctrl-C sent a close frame');
    assert.ok(cli.child.kill('SIGINT'));
    assert.deepEqual(await cli.exited(), { code: 1, signal: null }, `stderr: ${cli.stderr()}`);
    assert.match(cli.stderr(), /^sockwave: .*interrupted/m);
    assert.doesNotMatch(cli.stderr(), /\n\s+at /);
  });

  test('a connection to a closed port exits 1 with one line on stderr and no stack trace', async (t) => {
    const port = await closedPort();
    const cli = run(t, ['connect', `ws://127.0.0.1:${port}/`]);
    const exit = await cli.exited();
    assert.equal(exit.code, 1);
    const lines = cli.stderr().split('\n').filter((line) => line !== '');
    assert.equal(lines.length, 1, `stderr: ${cli.stderr()}`);
    assert.match(lines[0]!, /^sockwave: connection refused/);
    assert.doesNotMatch(cli.stderr(), /\n\s+at /);
  });

  test('a refused upgrade exits 1 naming the status on one stderr line', async (t) => {
    const srv = await startWsServer({ verifyClient: (_info, callback) => callback(false, 403, 'Forbidden') });
    t.after(() => srv.close());
    const cli = run(t, ['connect', srv.url]);
    assert.equal((await cli.exited()).code, 1);
    const lines = cli.stderr().split('\n').filter((line) => line !== '');
    assert.equal(lines.length, 1, `stderr: ${cli.stderr()}`);
    assert.match(lines[0]!, /403/);
  });

  test("--header 'X-Test: 1' (repeatable) arrives at the server", async (t) => {
    const srv = await wsServer(t);
    srv.wss.on('connection', (socket) => socket.close(1000));
    const cli = run(t, ['connect', srv.url, '--header', 'X-Test: 1', '--header', 'X-Other:  two words ']);
    const { request } = await srv.connections.next('the connection');
    assert.equal(request.headers['x-test'], '1');
    assert.equal(request.headers['x-other'], 'two words');
    assert.deepEqual(await cli.exited(), { code: 0, signal: null });
  });

  test('a close with an application code (4000) exits 1 and names the code and reason on stderr', async (t) => {
    const srv = await wsServer(t);
    srv.wss.on('connection', (socket) => socket.close(4000, 'custom'));
    const cli = run(t, ['connect', srv.url, '--echo']);
    assert.equal((await cli.exited()).code, 1);
    assert.match(cli.stderr(), /4000 \(custom\)/);
  });

  test("a close reason holding a line break and an escape sequence still gives exactly one stderr line, the controls escaped", async (t) => {
    const srv = await wsServer(t);
    srv.wss.on('connection', (socket) => socket.close(4000, 'first line\nsecond\x1b[31m'));
    const cli = run(t, ['connect', srv.url, '--echo']);
    assert.equal((await cli.exited()).code, 1);
    const lines = cli.stderr().split('\n').filter((line) => line !== '');
    assert.equal(lines.length, 1, `stderr: ${JSON.stringify(cli.stderr())}`);
    assert.ok(lines[0]!.includes(String.raw`4000 (first line\nsecond\u001b[31m)`), lines[0]);
  });

  test('wss:// to a plain TCP server that answers with HTTP text: exit 1, one line saying the server does not speak TLS', async (t) => {
    const plain = createNetServer((socket) => {
      socket.on('error', () => {});
      socket.resume(); // (reads the ClientHello, and so the client's FIN: the server can close)
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    });
    await withTimeout(new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', () => resolve())), 'the plain server to listen');
    t.after(() => new Promise<void>((resolve) => plain.close(() => resolve())));
    const cli = run(t, ['connect', `wss://127.0.0.1:${(plain.address() as AddressInfo).port}/`, '--echo']);
    assert.equal((await cli.exited()).code, 1);
    const lines = cli.stderr().split('\n').filter((line) => line !== '');
    assert.equal(lines.length, 1, `stderr: ${JSON.stringify(cli.stderr())}`);
    assert.match(lines[0]!, /^sockwave: the server does not speak TLS \(wss:\/\/127\.0\.0\.1:\d+\/\): is it a ws:\/\/ server\?$/);
  });

  test('wss:// to a plain `sockwave serve`: its 400 comes at once, and the one line says the server does not speak TLS', async (t) => {
    const { port } = await serve(t);
    const cli = run(t, ['connect', `wss://127.0.0.1:${port}/echo`, '--echo']);
    // Within 5 s, where the connect timeout is 10 s: the server answered the ClientHello at once.
    assert.equal((await cli.exited(5000)).code, 1);
    assert.match(cli.stderr().trim(), /^sockwave: the server does not speak TLS/);
  });

  test('a close with 1001 from the server exits 0', async (t) => {
    const srv = await wsServer(t);
    srv.wss.on('connection', (socket) => socket.close(1001));
    const cli = run(t, ['connect', srv.url, '--echo']);
    assert.deepEqual(await cli.exited(), { code: 0, signal: null });
  });

  test('an abnormal close (server terminates) exits 1', async (t) => {
    const srv = await wsServer(t);
    srv.wss.on('connection', (socket) => socket.terminate());
    const cli = run(t, ['connect', srv.url, '--echo']);
    assert.equal((await cli.exited()).code, 1);
    assert.match(cli.stderr(), /^sockwave: connection closed with 1006 \(dropped without a close frame\) \(ws:/m);
  });

  test('--max-payload: a message received over it closes with 1009, and the one line says how to take larger ones (exit 1)', async (t) => {
    const srv = await wsServer(t);
    srv.wss.on('connection', (socket) => socket.send('y'.repeat(2000)));
    const cli = run(t, ['connect', srv.url, '--echo', '--max-payload', '1000']);
    assert.equal((await cli.exited()).code, 1);
    assert.match(cli.stderr(), /^sockwave: connection closed with 1009 \(.*1000 bytes.*\); --max-payload takes larger ones \(ws:/m);
  });

  test('a stdin line longer than --max-payload: the lines before it go out and their echoes are printed, then exit 1 naming the line', async (t) => {
    const srv = await wsServer(t);
    const closes = new Queue<number>();
    srv.wss.on('connection', (socket) => {
      socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
      socket.on('close', (code) => closes.push(code));
    });
    const cli = run(t, ['connect', srv.url, '--max-payload', '100', '--wait', '0.5'], 'pipe');
    cli.child.stdin!.end(`one\ntwo\n${'z'.repeat(500)}\nnever sent\n`);
    assert.equal((await cli.exited()).code, 1);
    assert.equal(cli.stdout(), 'one\ntwo\n');
    assert.match(cli.stderr(), /^sockwave: line 3 of stdin is longer than --max-payload \(100 bytes\): it and the rest of stdin were not sent \(ws:[^\n]*\)\n$/);
    assert.equal(await closes.next('the close at the server'), 1000);
  });

  test('a server that drops TCP instead of answering our close frame: the one line says so, not that the connection dropped (exit 1)', async (t) => {
    const raw = await startRawWsServer(undefined, {
      paused: false,
      upgraded: (socket) => {
        // The client's frames are small and masked: 2 + 4 bytes of header, then the payload.
        let bytes = Buffer.alloc(0);
        socket.on('data', (chunk: Buffer) => {
          bytes = Buffer.concat([bytes, chunk]);
          for (let at = 0; at + 2 <= bytes.length; at += 6 + (bytes[at + 1]! & 0x7f)) {
            // Its close frame: dropped unanswered.
            if ((bytes[at]! & 0x0f) === 0x8) socket.destroy();
          }
        });
      },
    });
    t.after(() => raw.close());
    const cli = run(t, ['connect', `${raw.url}/`, '--execute', 'hello', '--wait', '0']);
    assert.equal((await cli.exited()).code, 1);
    assert.match(cli.stderr(), /^sockwave: connection closed with 1006 \(the server did not answer our close frame\) \(ws:/m);
  });

  test('--ping: a server that stops answering is taken as dead, and the one-line error says so (exit 1)', async (t) => {
    // Completes the handshake, then reads nothing and answers nothing (a half-open peer).
    const raw = await startRawWsServer();
    t.after(() => raw.close());
    const cli = run(t, ['connect', raw.url, '--echo', '--ping', '0.1']);
    assert.equal((await cli.exited()).code, 1);
    assert.match(cli.stderr(), /^sockwave: connection closed with 1006 \(ping unanswered for 2000 ms: the peer is taken as dead\) \(ws:/m);
  });

  test('--wait 0: a reply that arrives after our close frame went out, before the server answered it, is still printed', async (t) => {
    const raw = await startRawWsServer(Buffer.alloc(0), { paused: false });
    t.after(() => raw.close());
    const cli = run(t, ['connect', raw.url, '--execute', 'x', '--wait', '0']);
    const socket = await raw.sockets.next('the upgraded socket');
    // The client's frames: 'x' (masked, 7 bytes), then its close (masked, 8 bytes: 0x88 first).
    let received = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 15) return;
      assert.equal(received[7], 0x88, 'the close frame follows the message');
      // Only now does the reply go out, and the close answer after it.
      socket.end(Buffer.from([0x81, 10, ...Buffer.from('late reply'), 0x88, 2, 0x03, 0xe8]));
    });
    assert.deepEqual(await cli.exited(), { code: 0, signal: null }, cli.stderr());
    assert.equal(cli.stdout(), 'late reply\n');
  });

  const BAD_USAGE: ReadonlyArray<readonly string[]> = [
    [],
    ['connect'],
    ['bogus-command'],
    ['connect', 'ws://127.0.0.1:1/', 'extra'],
    ['connect', 'ws://127.0.0.1:1/', '--nope'],
    ['connect', 'ws://127.0.0.1:1/', '--header', 'no colon'],
    ['connect', 'ws://127.0.0.1:1/', '--header'],
    ['connect', 'ws://127.0.0.1:1/', '--header', 'Bad Name: v'],
    ['connect', 'ws://127.0.0.1:1/', '--header', 'X-Ok: line\nbreak'],
    ['connect', 'ws://127.0.0.1:1/', '--subprotocol', 'a b'],
    ['connect', 'ws://127.0.0.1:1/', '--wait', '-1'],
    ['connect', 'ws://127.0.0.1:1/', '--echo=yes'],
    ['serve', '--port'],
    ['serve', '--unknown'],
    ['serve', 'positional'],
    ['serve', '--tls-cert', 'only-cert.pem'],
    ['serve', '--host', ''],
    ['serve', '--backplane', 'redis://127.0.0.1:99999'],
    ['serve', '--backplane', 'redis://127.0.0.1:notaport'],
    ['serve', '--backplane', 'redis://127.0.0.1:6379/abc'],
    ['connect', 'ws://127.0.0.1:1/', '--max-payload', '0'],
  ];
  for (const args of BAD_USAGE) {
    test(`bad usage \`sockwave ${args.join(' ')}\` exits 2`, async (t) => {
      const cli = run(t, args);
      const exit = await cli.exited();
      assert.deepEqual(exit, { code: 2, signal: null }, `stderr: ${cli.stderr()}`);
      assert.doesNotMatch(cli.stderr(), /\n\s+at /);
      if (args.length > 0) assert.match(cli.stderr(), /^sockwave: [^\n]+\n$/, 'one line');
    });
  }

  test('--help exits 0 and prints the usage', async (t) => {
    const cli = run(t, ['connect', '--help']);
    assert.deepEqual(await cli.exited(), { code: 0, signal: null });
    assert.match(cli.stdout(), /Usage: sockwave connect URL/);
  });
});
