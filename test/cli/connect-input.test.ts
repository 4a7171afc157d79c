/**
 * `sockwave connect` as a child process (dist/cli/main.js, built by `npm run build`): what happens
 * to the lines of stdin when the connection is not open yet, never opens, or is being re-opened
 * (--reconnect), and when stdout goes away. Real sockets on 127.0.0.1.
 */
import { strict as assert } from 'node:assert';
import { describe, test, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { CONNECT_USAGE } from '../../src/cli/connect.js';
import { run, type Cli } from '../support/cli-process.js';
import { closedPort, Queue, startSilentServer, startWsServer, type StartedWsServer } from '../support/net.js';

/**
 * A `ws` server that answers the upgrade only after `delayMs` (so that stdin is read, and has
 * ended, well before the connection opens) and records the text messages it receives and the
 * close codes.
 */
async function slowServer(t: TestContext, delayMs: number): Promise<{ srv: StartedWsServer; received: string[]; closes: Queue<number> }> {
  const srv = await startWsServer({ verifyClient: (_info, callback) => void setTimeout(() => callback(true), delayMs) });
  t.after(() => srv.close());
  const received: string[] = [];
  const closes = new Queue<number>();
  srv.wss.on('connection', (socket) => {
    socket.on('message', (data) => received.push(String(data)));
    socket.on('close', (code) => closes.push(code));
  });
  return { srv, received, closes };
}

/** The non-empty lines of the child's stderr. */
function stderrLines(cli: Cli): string[] {
  return cli.stderr().split('\n').filter((line) => line !== '');
}

/** `sockwave serve --port PORT`, once it printed its 'listening on' line. */
async function serve(t: TestContext, port: number): Promise<Cli> {
  const cli = run(t, ['serve', '--port', String(port)]);
  assert.equal(await cli.lines.next("serve's 'listening on' line", 10_000), `listening on ws://127.0.0.1:${port}`);
  return cli;
}

async function stop(server: Cli): Promise<void> {
  process.kill(server.child.pid!, 'SIGTERM');
  assert.deepEqual(await server.exited(), { code: 0, signal: null });
}

/** SIGKILL, a crash: the clients see their connection drop (1006), which --reconnect comes back after. */
async function crash(server: Cli): Promise<void> {
  process.kill(server.child.pid!, 'SIGKILL');
  assert.deepEqual(await server.exited(), { code: null, signal: 'SIGKILL' });
}

describe('sockwave connect: stdin before the connection opens', { timeout: 60_000 }, () => {
  test('lines piped and ended before the handshake completes are all sent, in order, even with --wait 0', async (t) => {
    const { srv, received, closes } = await slowServer(t, 1000);
    const cli = run(t, ['connect', srv.url, '--wait', '0'], 'pipe');
    cli.child.stdin!.end('one\ntwo ✓\nthree\n');
    assert.deepEqual(await cli.exited(), { code: 0, signal: null }, `stderr: ${cli.stderr()}`);
    assert.deepEqual(received, ['one', 'two ✓', 'three']);
    assert.equal(await closes.next('the close at the server'), 1000);
    assert.equal(cli.stderr(), '');
  });

  test('5000 lines piped before the connection opens: none dropped, all in order, exit 0', async (t) => {
    const { srv, received } = await slowServer(t, 500);
    const cli = run(t, ['connect', srv.url, '--wait', '0.2'], 'pipe');
    const lines = Array.from({ length: 5000 }, (_, i) => `line ${i}`);
    cli.child.stdin!.end(`${lines.join('\n')}\n`);
    assert.deepEqual(await cli.exited(15_000), { code: 0, signal: null }, `stderr: ${cli.stderr().slice(0, 300)}`);
    assert.equal(received.length, lines.length);
    assert.deepEqual(received, lines);
    assert.equal(cli.stderr(), '');
  });

  test('a large piped input (about 3 MB) goes out whole and in order (stdin paused and resumed)', async (t) => {
    const { srv, received } = await slowServer(t, 200);
    const cli = run(t, ['connect', srv.url, '--wait', '0.2'], 'pipe');
    const filler = 'x'.repeat(290);
    const lines = Array.from({ length: 10_000 }, (_, i) => `${i} ${filler}`);
    cli.child.stdin!.end(`${lines.join('\n')}\n`);
    assert.deepEqual(await cli.exited(20_000), { code: 0, signal: null }, `stderr: ${cli.stderr().slice(0, 300)}`);
    assert.equal(received.length, lines.length);
    assert.ok(received.every((line, i) => line === lines[i]), 'the lines arrived in order');
  });

  test('while not connected, reading a large piped input pauses instead of buffering all of it', async (t) => {
    const silent = await startSilentServer();
    t.after(() => silent.close());
    const cli = run(t, ['connect', `ws://127.0.0.1:${silent.port}/`, '--timeout', '30'], 'pipe');
    await silent.sockets.next('the connection attempt', 10_000);
    // 16 MB of lines: a client that read it all would let our end of the pipe drain; one that
    // paused leaves nearly all of it waiting here. (A slow machine can only make this pass.)
    const line = `${'y'.repeat(99)}\n`;
    let more = true;
    for (let i = 0; i < 160_000; i++) more = cli.child.stdin!.write(line);
    assert.equal(more, false);
    const drained = await Promise.race([
      new Promise<boolean>((resolve) => cli.child.stdin!.once('drain', () => resolve(true))),
      delay(3000).then(() => false),
    ]);
    assert.equal(drained, false, 'the client read all of stdin while not connected');
    assert.ok(cli.child.stdin!.writableLength > 8 * 1024 * 1024, `only ${cli.child.stdin!.writableLength} bytes left unread`);
  });

  test('a server that never answers the upgrade: exit 1 with one line naming the timeout, not exit 0', async (t) => {
    const silent = await startSilentServer();
    t.after(() => silent.close());
    // stdin is empty (ignored) and --wait 0: the session must not end as a "normal close".
    const cli = run(t, ['connect', `ws://127.0.0.1:${silent.port}/`, '--timeout', '2', '--wait', '0']);
    const exit = await cli.exited(15_000);
    assert.deepEqual(exit, { code: 1, signal: null }, `stderr: ${cli.stderr()}`);
    const lines = stderrLines(cli);
    assert.equal(lines.length, 1, `stderr: ${cli.stderr()}`);
    assert.match(lines[0]!, /^sockwave: timed out waiting for the server to answer \(ws:\/\/127\.0\.0\.1:\d+\/\)$/);
  });

  test('with a line on stdin and no answer, the error says the line was not sent', async (t) => {
    const silent = await startSilentServer();
    t.after(() => silent.close());
    const cli = run(t, ['connect', `ws://127.0.0.1:${silent.port}/`, '--timeout', '2'], 'pipe');
    cli.child.stdin!.end('hello\n');
    assert.equal((await cli.exited(15_000)).code, 1);
    const lines = stderrLines(cli);
    assert.equal(lines.length, 1, `stderr: ${cli.stderr()}`);
    assert.match(lines[0]!, /^sockwave: timed out waiting for the server to answer .*; 1 line not sent$/);
  });

  test('SIGTERM before the connection ever opened exits 1 with one line', async (t) => {
    const silent = await startSilentServer();
    t.after(() => silent.close());
    const cli = run(t, ['connect', `ws://127.0.0.1:${silent.port}/`, '--timeout', '30'], 'pipe');
    await silent.sockets.next('the connection attempt', 10_000);
    process.kill(cli.child.pid!, 'SIGTERM');
    assert.deepEqual(await cli.exited(), { code: 1, signal: null });
    const lines = stderrLines(cli);
    assert.equal(lines.length, 1, `stderr: ${cli.stderr()}`);
    assert.match(lines[0]!, /^sockwave: stopped by SIGTERM before the connection opened/);
  });
});

describe('sockwave connect --reconnect: stdin ending while disconnected', { timeout: 90_000 }, () => {
  test('lines written while the server is down, then stdin ends: they are sent once reconnected, exit 0', async (t) => {
    const port = await closedPort();
    const url = `ws://127.0.0.1:${port}/echo`;
    const first = await serve(t, port);
    const client = run(t, ['connect', '--reconnect', '--wait', '0.2', url], 'pipe');
    client.child.stdin!.write('a\n');
    assert.equal(await client.lines.next('the echo of a', 10_000), 'a');

    await crash(first);
    client.child.stdin!.end('b ✓\nc\n');
    // Longer than --wait: the client must keep waiting for the reconnection, not leave.
    await delay(1000);
    assert.equal(client.child.exitCode, null, `exited while the server was down (stderr: ${client.stderr()})`);

    const second = await serve(t, port);
    assert.deepEqual(await client.exited(15_000), { code: 0, signal: null }, `stderr: ${client.stderr()}`);
    assert.equal(client.stdout(), 'a\nb ✓\nc\n');
    assert.equal(client.stderr(), '');
    await stop(second);
  });

  test('no reconnection within --timeout after stdin ended: exit 1, one line saying how many lines were not sent', async (t) => {
    const port = await closedPort();
    const server = await serve(t, port);
    const client = run(t, ['connect', '--reconnect', '--timeout', '1', '--wait', '0.2', `ws://127.0.0.1:${port}/echo`], 'pipe');
    client.child.stdin!.write('a\n');
    assert.equal(await client.lines.next('the echo of a', 10_000), 'a');
    await crash(server);
    client.child.stdin!.end('b\nc\n');
    assert.deepEqual(await client.exited(15_000), { code: 1, signal: null }, `stderr: ${client.stderr()}`);
    const lines = stderrLines(client);
    assert.equal(lines.length, 1, `stderr: ${client.stderr()}`);
    assert.match(lines[0]!, /^sockwave: not reconnected within 1 s .*; 2 lines not sent$/);
    assert.equal(client.stdout(), 'a\n');
  });

  test('a reconnection refused for good (403) ends the session with exit 1 instead of hanging', async (t) => {
    let attempts = 0;
    const srv = await startWsServer({
      verifyClient: (_info, callback) => {
        attempts++;
        if (attempts === 1) callback(true);
        else callback(false, 403, 'Forbidden');
      },
    });
    t.after(() => srv.close());
    // The first connection is dropped (1006): the client reconnects and is refused.
    srv.wss.on('connection', (socket) => setTimeout(() => socket.terminate(), 100));
    const client = run(t, ['connect', '--reconnect', srv.url], 'pipe');
    assert.deepEqual(await client.exited(15_000), { code: 1, signal: null }, `stderr: ${client.stderr()}`);
    const lines = stderrLines(client);
    assert.equal(lines.length, 1, `stderr: ${client.stderr()}`);
    assert.match(lines[0]!, /the server answered 403/);
  });

  test('a server that drops every connection sooner than --wait: the countdown runs on through reconnections, exit 0', async (t) => {
    const srv = await startWsServer();
    t.after(() => srv.close());
    const received: string[] = [];
    let connections = 0;
    srv.wss.on('connection', (socket) => {
      connections++;
      socket.on('message', (data) => received.push(String(data)));
      setTimeout(() => socket.terminate(), 300);
    });
    const client = run(t, ['connect', '--reconnect', '--wait', '1.5', srv.url], 'pipe');
    client.child.stdin!.end('hello\n');
    // The countdown started over at each reconnection: the session never ended.
    assert.deepEqual(await client.exited(15_000), { code: 0, signal: null }, `stderr: ${client.stderr()}`);
    assert.deepEqual(received, ['hello']);
    assert.ok(connections >= 2, `the server dropped the connection during the wait (${connections} made)`);
  });

  for (const [label, close, exit, stderr] of [
    ['a normal close without a status (1005) ends it with exit 0', (socket: import('ws').WebSocket) => socket.close(), 0, /^$/],
    ['an error close (1011) ends it with exit 1 and one line', (socket: import('ws').WebSocket) => socket.close(1011, 'broken'), 1, /^sockwave: connection closed by the server with 1011 \(broken\)/],
  ] as const) {
    test(`--reconnect comes back after 1006 only: ${label}, with one connection made`, async (t) => {
      const srv = await startWsServer();
      t.after(() => srv.close());
      let connections = 0;
      srv.wss.on('connection', (socket) => {
        connections++;
        setTimeout(() => close(socket), 100);
      });
      const client = run(t, ['connect', '--reconnect', srv.url], 'pipe');
      assert.deepEqual(await client.exited(15_000), { code: exit, signal: null }, `stderr: ${client.stderr()}`);
      assert.match(stderrLines(client).join('\n'), stderr);
      await delay(300);
      assert.equal(connections, 1, 'reconnected');
    });
  }
});

describe('sockwave connect: stdout', { timeout: 60_000 }, () => {
  test('stdout closed by its reader (EPIPE): closes with 1000 and exits 0, no stack trace', async (t) => {
    const srv = await startWsServer();
    t.after(() => srv.close());
    const closes = new Queue<number>();
    srv.wss.on('connection', (socket) => {
      let i = 0;
      const timer = setInterval(() => socket.send(`message ${i++}`), 5);
      socket.on('close', (code) => {
        clearInterval(timer);
        closes.push(code);
      });
    });
    // stdin stays open: only the closed stdout can end the session.
    const cli = run(t, ['connect', srv.url], 'pipe');
    await cli.lines.next('the first message', 10_000);
    cli.child.stdout!.destroy();
    assert.deepEqual(await cli.exited(), { code: 0, signal: null }, `stderr: ${cli.stderr()}`);
    assert.equal(cli.stderr(), '');
    assert.equal(await closes.next('the close at the server'), 1000);
  });

  test('a line ends at LF or CR LF only: a lone CR stays in its message; a line not valid UTF-8 is sent with U+FFFD, said once on stderr', async (t) => {
    const { srv, received, closes } = await slowServer(t, 0);
    const cli = run(t, ['connect', srv.url, '--wait', '0'], 'pipe');
    cli.child.stdin!.end(Buffer.concat([Buffer.from('a\rb\r\nc\n'), Buffer.from([0xff, 0x41, 0x0a, 0xfe, 0x0a]), Buffer.from('ok\n')]));
    assert.deepEqual(await cli.exited(), { code: 0, signal: null }, `stderr: ${cli.stderr()}`);
    assert.deepEqual(received, ['a\rb', 'c', '\uFFFDA', '\uFFFD', 'ok']);
    assert.deepEqual(stderrLines(cli), ['sockwave: line 3 of stdin is not valid UTF-8: it is sent with U+FFFD in place of the bad bytes (later such lines are not reported)']);
    assert.equal(await closes.next('the close at the server'), 1000);
  });

  test("a message's own line breaks are printed as they are, and the usage says so", async (t) => {
    assert.doesNotMatch(CONNECT_USAGE, /exactly one message per line/);
    assert.match(CONNECT_USAGE, /A message's own line breaks are printed as they are\s+\(not escaped\)/);
    const srv = await startWsServer();
    t.after(() => srv.close());
    srv.wss.on('connection', (socket) => socket.send('two\nlines \\n kept'));
    const cli = run(t, ['connect', srv.url, '--wait', '0.5']);
    assert.deepEqual(await cli.exited(), { code: 0, signal: null });
    assert.equal(cli.stdout(), 'two\nlines \\n kept\n');
  });
});
