/** `sockwave` itself: the command list, --help, --version (child processes, dist/cli/main.js). */
import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../support/cli-process.js';
import { ROOT } from '../interop/support/child.js';

describe('sockwave (child process)', { timeout: 30_000 }, () => {
  test('--help lists the three commands and every command’s usage, exit 0', async (t) => {
    const cli = run(t, ['--help']);
    assert.deepEqual(await cli.exited(), { code: 0, signal: null });
    for (const line of [/^ {2}serve {5}/m, /^ {2}connect {3}/m, /^ {2}bench {5}/m, /Usage: sockwave serve/, /Usage: sockwave connect URL/, /Usage: sockwave bench/]) {
      assert.match(cli.stdout(), line);
    }
  });

  test('no command: the command list, on stderr (a usage error), not every option; nothing on stdout, exit 2', async (t) => {
    const cli = run(t, []);
    assert.deepEqual(await cli.exited(), { code: 2, signal: null });
    assert.equal(cli.stdout(), '');
    assert.match(cli.stderr(), /^Usage: sockwave <command>/);
    for (const line of [/^ {2}serve {5}/m, /^ {2}connect {3}/m, /^ {2}bench {5}/m, /'sockwave <command> --help'/]) assert.match(cli.stderr(), line);
    assert.doesNotMatch(cli.stderr(), /Usage: sockwave connect URL/, "the commands' options are for --help");
    assert.ok(cli.stderr().split('\n').length < 15, cli.stderr());
  });

  test('--version prints the package version', async (t) => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const cli = run(t, ['--version']);
    assert.deepEqual(await cli.exited(), { code: 0, signal: null });
    assert.equal(cli.stdout(), `sockwave ${version}\n`);
  });

  test('bench --help documents the options and the exit status', async (t) => {
    const cli = run(t, ['bench', '--help']);
    assert.deepEqual(await cli.exited(), { code: 0, signal: null });
    for (const option of ['--connections N', '--size BYTES', '--duration SECONDS', '--mode echo|broadcast', '--json', 'Exit status:']) assert.ok(cli.stdout().includes(option), option);
  });

  test('serve --help documents every server flag', async (t) => {
    const cli = run(t, ['serve', '--help']);
    assert.deepEqual(await cli.exited(), { code: 0, signal: null });
    for (const option of ['--tls-cert FILE', '--tls-key FILE', '--deflate', '--max-payload BYTES', '--max-connections N', '--heartbeat SECONDS', '--idle-timeout SECONDS', '--backplane URL', 'demo page']) {
      assert.ok(cli.stdout().includes(option), option);
    }
  });
});
