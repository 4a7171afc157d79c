/**
 * The README's quick start, as a user runs it: the ten-line server (build/examples/quickstart-server.js)
 * and the three client styles (client-events, client-handler, client-pull) against it, each a child
 * process; and the README shows each of these files' code as it is.
 */
import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, runCommand, startServerProcess } from '../interop/support/child.js';

const example = (name: string): string => join(ROOT, 'build', 'examples', `${name}.js`);

const CLIENTS: ReadonlyArray<{ name: string; output: string }> = [
  { name: 'client-events', output: 'text: hello\nbinary: 3 bytes\nclosed with 1000\n' },
  { name: 'client-handler', output: 'connected\ngot {"hello":"world"}\ngot [1,2,3]\nclosed with 1000\n' },
  { name: 'client-pull', output: 'echo: one\necho: two\necho: three\nclosed\n' },
];

describe('the quick start examples', { timeout: 60_000 }, () => {
  test('the ten-line server echoes, relays on /room, and each client style talks to it; SIGTERM exits 0', async (t) => {
    const server = await startServerProcess(t, process.execPath, [example('quickstart-server')], { env: { PORT: '0' } });
    assert.equal(server.url.hostname, '127.0.0.1');
    for (const { name, output } of CLIENTS) {
      const run = await runCommand(process.execPath, [example(name), `ws://127.0.0.1:${server.port}/echo`], { ms: 15_000, t });
      assert.deepEqual([run.code, run.stdout, run.stderr], [0, output, ''], name);
    }
    const room = await runCommand(process.execPath, [example('client-events'), `ws://127.0.0.1:${server.port}/room`], { ms: 15_000, t });
    assert.equal(room.code, 0);
    assert.match(room.stdout, /^text: \S+ says hello\n/);
    assert.deepEqual(await server.terminate(5000), { code: 0, signal: null });
  });

  test('the README shows the code of each quick start example as it is', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    for (const name of ['quickstart-server', ...CLIENTS.map((c) => c.name)]) {
      const source = readFileSync(join(ROOT, 'examples', `${name}.ts`), 'utf8');
      const code = source.replace(/^\/\*\*[\s\S]*?\*\/\n/, '').trim();
      assert.ok(readme.includes(code), `README.md shows examples/${name}.ts without its header comment`);
    }
  });
});
