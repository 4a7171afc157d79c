/**
 * `sockwave serve --backplane redis://HOST:PORT`: two serve processes on different ports share
 * /broadcast through a real redis-server (started by the test on a free port, killed by PID).
 */
import { describe, test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { closedPort, openWs, recordWs, closeWs } from '../support/net.js';
import { run, type Cli } from '../support/cli-process.js';
import { hasRedisServer, RedisServer } from '../support/redis-server.js';

const skip = hasRedisServer() ? false : 'redis-server is not installed (.ci/run installs it)';

async function serveWith(t: TestContext, backplane: string): Promise<{ cli: Cli; url: string }> {
  const cli = run(t, ['serve', '--port', '0', '--backplane', backplane]);
  const line = await cli.lines.next("the 'listening on' line", 15_000);
  const match = /^listening on (ws:\/\/127\.0\.0\.1:\d+)$/.exec(line);
  assert.ok(match, `unexpected first line: ${JSON.stringify(line)} (stderr: ${cli.stderr()})`);
  // stderr: the demo page line, after any line about the backplane.
  const demo = `demo page: ${match[1]!.replace('ws:', 'http:')}/`;
  while ((await cli.errLines.next('the demo page line on stderr')) !== demo);
  return { cli, url: match[1]! };
}

async function client(t: TestContext, url: string) {
  const ws = await openWs(`${url}/broadcast`);
  t.after(() => closeWs(ws));
  return { ws, rec: recordWs(ws, url) };
}

describe('sockwave serve --backplane', { skip }, () => {
  test('two serve processes on different ports share /broadcast', async (t) => {
    const redis = await RedisServer.start(t);
    const one = await serveWith(t, redis.url);
    const two = await serveWith(t, redis.url);
    assert.notEqual(one.url, two.url);
    const a = await client(t, one.url);
    const b = await client(t, two.url);
    const b2 = await client(t, two.url);
    a.ws.send('from one');
    b.ws.send('from two');
    for (const { rec } of [a, b, b2]) {
      const got = (await rec.messages.take(2, 'both messages', 10_000)).map((m) => m.data.toString()).sort();
      assert.deepEqual(got, ['from one', 'from two']);
    }
    b2.ws.send('last');
    for (const { rec } of [a, b, b2]) assert.equal((await rec.messages.next('the last one, with no repeat before it', 10_000)).data.toString(), 'last');
    one.cli.child.kill('SIGTERM');
    assert.deepEqual(await one.cli.exited(), { code: 0, signal: null });
  });

  test('a URL that is not redis:// is a usage error; with Redis unreachable it still serves locally', async (t) => {
    const bad = run(t, ['serve', '--port', '0', '--backplane', 'http://x']);
    const exit = await bad.exited();
    assert.notEqual(exit.code, 0);
    assert.match(bad.stderr(), /redis:\/\/HOST:PORT/);
    const port = await closedPort();
    const nowhere = await serveWith(t, `redis://:secret@127.0.0.1:${port}`);
    // Not silent: one line says that /broadcast is not shared yet (the password not shown).
    assert.deepEqual(nowhere.cli.stderr().trim().split('\n'), [
      `backplane: no connection to redis://:***@127.0.0.1:${port} within 5 s (connect ECONNREFUSED 127.0.0.1:${port}); retrying in the background (/broadcast stays on this node until then)`,
      `demo page: ${nowhere.url.replace('ws:', 'http:')}/`,
    ]);
    const a = await client(t, nowhere.url);
    a.ws.send('still served locally');
    assert.equal((await a.rec.messages.next('the local echo of /broadcast', 10_000)).data.toString(), 'still served locally');
  });

  test('SIGTERM while serve still waits for a Redis that never answers exits 0 at once', async (t) => {
    // A "Redis" that accepts and never answers: serve keeps waiting for it (up to 5 s). The first
    // bytes serve sends it come from a socket callback, so its signal handlers, installed before
    // the wait begins, are in place by then; a fixed delay instead raced a slow start.
    const sockets: Socket[] = [];
    let heard!: () => void;
    const firstBytes = new Promise<void>((resolve) => (heard = resolve));
    const silent = createServer((socket) => {
      sockets.push(socket);
      socket.once('data', () => heard());
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      for (const socket of sockets) socket.destroy();
      silent.close();
    });
    const { port } = silent.address() as AddressInfo;
    const cli = run(t, ['serve', '--port', '0', '--backplane', `redis://127.0.0.1:${port}`]);
    await firstBytes;
    assert.ok(cli.child.kill('SIGTERM'));
    assert.deepEqual(await cli.exited(3000), { code: 0, signal: null }, `stderr: ${cli.stderr()}`);
    assert.equal(cli.stdout(), '', 'it never listened');
  });

  test('credentials Redis refuses end serve with one line and exit 1 (retrying cannot fix them); the password is not shown', async (t) => {
    const redis = await RedisServer.start(t, 'right');
    for (const [url, answer] of [
      [`redis://:wrong@127.0.0.1:${redis.port}`, 'WRONGPASS'],
      [redis.url, 'NOAUTH'],
    ] as const) {
      const cli = run(t, ['serve', '--port', '0', '--backplane', url]);
      assert.deepEqual(await cli.exited(), { code: 1, signal: null });
      assert.equal(cli.stdout(), '', 'it never said it was listening');
      const lines = cli.stderr().trimEnd().split('\n');
      assert.equal(lines.length, 1, cli.stderr());
      assert.match(lines[0]!, new RegExp(`^sockwave: the Redis server at redis://(:\\*\\*\\*@)?127\\.0\\.0\\.1:${redis.port} refused the credentials \\(${answer}\\b`));
      assert.doesNotMatch(lines[0]!, /wrong/);
    }
    // The right password: it serves, with /broadcast shared.
    const served = await serveWith(t, `redis://:right@127.0.0.1:${redis.port}`);
    assert.equal(served.cli.stderr(), `demo page: ${served.url.replace('ws:', 'http:')}/\n`, 'nothing on stderr but the demo page line');
  });
});
