/**
 * `sockwave connect --reconnect` across a restart of `sockwave serve`, both as child processes
 * (dist/cli/main.js, built by `npm run build`) on a fixed port of 127.0.0.1.
 */
import { strict as assert } from 'node:assert';
import { describe, test, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { CONNECT_USAGE } from '../../src/cli/connect.js';
import { run, type Cli } from '../support/cli-process.js';
import { closedPort } from '../support/net.js';


/** `sockwave serve --port PORT`, once it printed its 'listening on' line. */
async function serve(t: TestContext, port: number): Promise<Cli> {
  const cli = run(t, ['serve', '--port', String(port)]);
  const line = await cli.lines.next("serve's 'listening on' line", 10_000);
  assert.equal(line, `listening on ws://127.0.0.1:${port}`);
  return cli;
}

/** Stops a serve child with SIGTERM (by PID: its clients get 1001) and checks it exits 0. */
async function stop(server: Cli): Promise<void> {
  process.kill(server.child.pid!, 'SIGTERM');
  assert.deepEqual(await server.exited(), { code: 0, signal: null });
}

/** Kills a serve child with SIGKILL (by PID), a crash: its clients see the TCP connection drop (1006). */
async function crash(server: Cli): Promise<void> {
  process.kill(server.child.pid!, 'SIGKILL');
  assert.deepEqual(await server.exited(), { code: null, signal: 'SIGKILL' });
}

/** Writes lines to the child's stdin one at a time, a few milliseconds apart. */
async function writeLines(cli: Cli, lines: readonly string[]): Promise<void> {
  for (const line of lines) {
    cli.child.stdin!.write(`${line}\n`);
    await delay(10);
  }
}

const batch = (prefix: string): string[] => [1, 2, 3, 4, 5].map((i) => `${prefix}${i} ✓`);

describe('sockwave connect --reconnect (child processes)', { timeout: 90_000 }, () => {
  test('the usage documents --reconnect and that a 1001 close counts as normal (exit 0)', () => {
    assert.match(CONNECT_USAGE, /--reconnect\s+reconnect after an abnormal close \(1006: the connection dropped\); any\s+other close ends the session/);
    assert.match(CONNECT_USAGE, /Exit status: 0 after a normal close \(1000, 1001 or no status\), 1 on a connection error or\s+an abnormal close/);
  });

  test('lines typed before, during and after a server crash and restart are each printed once, in order; exit 0', async (t) => {
    const port = await closedPort();
    const url = `ws://127.0.0.1:${port}/echo`;
    const first = await serve(t, port);
    const client = run(t, ['connect', '--reconnect', url], 'pipe');

    const before = batch('before ');
    await writeLines(client, before);
    assert.deepEqual(await client.lines.take(before.length, 'the echoes before the restart', 10_000), before);

    await crash(first);
    // Written while no server is listening: they wait in the outbox.
    const during = batch('during ');
    await writeLines(client, during);
    await delay(200);
    assert.equal(client.lines.pending, 0, `printed while the server was down: ${client.stdout()}`);
    assert.equal(client.child.exitCode, null, `the client exited while the server was down (stderr: ${client.stderr()})`);

    const second = await serve(t, port);
    assert.deepEqual(await client.lines.take(during.length, 'the echoes of the lines written while down', 15_000), during);

    const after = batch('after ');
    await writeLines(client, after);
    assert.deepEqual(await client.lines.take(after.length, 'the echoes after the restart', 10_000), after);
    client.child.stdin!.end();

    assert.deepEqual(await client.exited(), { code: 0, signal: null });
    assert.equal(client.stdout(), [...before, ...during, ...after].map((line) => `${line}\n`).join(''));
    assert.equal(client.stderr(), '');
    await stop(second);
  });

  for (const reconnect of [false, true]) {
    test(`${reconnect ? 'with' : 'without'} --reconnect, the server shutting down (1001) ends the session with exit 0, stdin still open`, async (t) => {
      const port = await closedPort();
      const server = await serve(t, port);
      const client = run(t, ['connect', ...(reconnect ? ['--reconnect'] : []), `ws://127.0.0.1:${port}/echo`], 'pipe');
      const lines = batch('line ');
      await writeLines(client, lines);
      assert.deepEqual(await client.lines.take(lines.length, 'the echoes', 10_000), lines);

      await stop(server);
      // stdin is never ended: the close from the server alone ends the session.
      assert.deepEqual(await client.exited(), { code: 0, signal: null });
      assert.equal(client.stdout(), lines.map((line) => `${line}\n`).join(''));
      assert.equal(client.stderr(), '');
    });
  }
});
