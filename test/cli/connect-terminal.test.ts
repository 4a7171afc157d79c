/**
 * `sockwave connect` at a terminal: the CLI runs in a pseudo-terminal (Python's pty module, see
 * test/support/pty.ts) against `sockwave serve`, keystrokes are typed into it, and the test reads
 * the screen as a person would see it: marks, line editing, history, slash commands, messages
 * arriving while a line is half typed, and the close printed on exit.
 */
import { describe, test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openWs, closeWs, recordWs } from '../support/net.js';
import { MAIN, run } from '../support/cli-process.js';
import { KEY, runInPty, type PtyProgram } from '../support/pty.js';

async function serve(t: TestContext): Promise<string> {
  const cli = run(t, ['serve', '--port', '0']);
  const line = await cli.lines.next("the 'listening on' line", 10_000);
  const match = /^listening on (ws:\/\/127\.0\.0\.1:\d+)$/.exec(line);
  assert.ok(match, line);
  return match[1]!;
}

/** `sockwave connect URL` in a pty, with its history in a fresh temporary file. */
function connectInPty(t: TestContext, url: string, extra: readonly string[] = [], previous?: readonly string[]): { program: PtyProgram; history: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sockwave-pty-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const history = join(dir, 'history');
  if (previous) writeFileSync(history, `${previous.join('\n')}\n`);
  const program = runInPty(t, process.execPath, [MAIN, 'connect', url, ...extra], { TERM: 'xterm-256color', SOCKWAVE_HISTORY: history, NO_COLOR: '' });
  return { program, history };
}

describe('sockwave connect in a terminal (pty)', { timeout: 60_000 }, () => {
  test('marks and colours messages, edits lines, recalls history, answers /ping and /close, prints the close', async (t) => {
    const base = await serve(t);
    const url = `${base}/echo`;
    const { program, history } = connectInPty(t, url);
    await program.waitForLine(`* connected to ${url}; /help for commands`, 'the connected note');

    program.type(`hello terminal ✓${KEY.enter}`);
    await program.waitForLine('< hello terminal ✓', 'the echo, marked as received');
    assert.ok(program.screen.lines().includes('> hello terminal ✓'), 'the typed line stays, marked as sent');
    // On a terminal, colours: the '<' mark in cyan, the prompt in green.
    assert.match(program.raw(), /\x1b\[36m<\x1b\[0m hello terminal ✓/);
    assert.match(program.raw(), /\x1b\[32m> \x1b\[0m/);

    // Line editing: the cursor moves left and a character goes in the middle.
    // One key at a time, each echoed before the next (as a person types).
    await program.press('abc', 'abc');
    await program.press(KEY.left, 'the left arrow');
    await program.press('X', 'X');
    await program.waitForCursorLine('> abXc', 'the edited line at the prompt');
    program.type(KEY.enter);
    await program.waitForLine('< abXc', 'the echo of the edited line');

    // History: the up arrow brings back the last line, Enter sends it again.
    await program.waitForCursorLine('>', 'an empty prompt');
    await program.press(KEY.up, 'the up arrow');
    await program.waitForCursorLine('> abXc', 'the recalled line at the prompt');
    program.type(KEY.enter);
    await program.waitForLine(/^> abXc$/, 'the recalled line sent');
    const echoes = (): number => program.screen.lines().filter((line) => line === '< abXc').length;
    await program.waitFor(() => echoes() === 2, 'a second echo of the recalled line');

    program.type(`/ping hi${KEY.enter}`);
    await program.waitForLine(/^\* pong "hi" after \d+\.\d ms$/, 'the pong with its round trip');

    program.type(`/nope${KEY.enter}`);
    await program.waitForLine(/^sockwave: unknown command \/nope/, 'an unknown command is refused, not sent');

    program.type(`/close 4000 bye now${KEY.enter}`);
    await program.waitForLine('* closing with 4000 (bye now)', 'the close note');
    await program.waitForLine('* closed by us: 4000 (bye now)', 'the close code and reason on exit');
    assert.equal(await program.exited(), 0);

    const saved = readFileSync(history, 'utf8').split('\n');
    assert.ok(saved.includes('hello terminal ✓') && saved.includes('abXc'), `the history file: ${saved.join(' | ')}`);
  });

  test('--echo at a terminal: Ctrl-C closes with 1000 and exits 0 (the process is not killed by the signal)', async (t) => {
    const base = await serve(t);
    const { program } = connectInPty(t, `${base}/echo`, ['--echo']);
    await program.waitForLine(/connected to/, 'the connected note');
    program.type(KEY.ctrlC);
    await program.waitForLine(/closed by us: 1000/, 'the close on exit');
    assert.equal(await program.exited(), 0);
  });

  test('a message arriving while a line is half typed prints above the prompt, and the typing survives', async (t) => {
    const base = await serve(t);
    const url = `${base}/broadcast`;
    const other = await openWs(url);
    t.after(() => closeWs(other));
    const rec = recordWs(other);
    const { program } = connectInPty(t, url);
    await program.waitForLine(`* connected to ${url}; /help for commands`, 'the connected note');

    await program.press('half typ', 'the typing');
    await program.waitForLine('> half typ', 'the half-typed line');
    other.send('from outside');
    await program.waitForLine('< from outside', 'the message from the other client');
    // The prompt and the half-typed line are redrawn below the message.
    await program.waitForCursorLine('> half typ', 'the half-typed line redrawn under the message');

    program.type(`ed${KEY.enter}`);
    const got = await rec.messages.take(2, 'the room’s messages at the other client');
    assert.deepEqual(got.map((message) => message.data.toString()), ['from outside', 'half typed']);
    await program.waitForLine('< half typed', 'the broadcast back to the terminal');

    // Ctrl-D ends the input: after --wait (1 s) the client closes with 1000 and exits 0.
    program.type(KEY.ctrlD);
    await program.waitForLine('* closed by us: 1000', 'the normal close on exit');
    assert.equal(await program.exited(), 0);
  });

  test('the history of an earlier session comes back with the up arrow', async (t) => {
    const base = await serve(t);
    const url = `${base}/echo`;
    const { program } = connectInPty(t, url, [], ['older line', 'from last time']);
    await program.waitForLine(`* connected to ${url}; /help for commands`, 'the connected note');
    await program.press(KEY.up, 'the up arrow');
    await program.waitForCursorLine('> from last time', 'the last line of the earlier session');
    await program.press(KEY.up, 'the up arrow again');
    await program.waitForCursorLine('> older line', 'the line before it');
    program.type(KEY.enter);
    await program.waitForLine('< older line', 'the recalled line sent and echoed');
    program.type(KEY.ctrlC);
    await program.waitForLine('* closed by us: 1000', 'Ctrl-C closes normally');
    assert.equal(await program.exited(), 0);
  });
});
