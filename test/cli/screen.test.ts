/** The CLI's screen helpers that need no terminal: oneLine keeps what reaches stderr on one line; piped input. */
import { strict as assert } from 'node:assert';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { oneLine, Screen } from '../../src/cli/screen.js';

describe('oneLine', () => {
  test('leaves ordinary text (non-ASCII included) as it is', () => {
    assert.equal(oneLine('closed by the server: 1000 (bye, café ✓)'), 'closed by the server: 1000 (bye, café ✓)');
  });

  test('trims, and writes line breaks, tabs, escape sequences, DEL and C1 controls as escapes', () => {
    assert.equal(oneLine('  a\nb\r\tc\x1b[31md\x7fe\x85f\u0000 \n'), String.raw`a\nb\r\tc\u001b[31md\u007fe\u0085f\u0000`);
  });
});

describe('Screen: piped input', () => {
  test('once stdin has ended, pausing and resuming input leave the closed line reader alone (Node 24 throws on resume)', async () => {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const screen = new Screen({ stdin: stdin as unknown as NodeJS.ReadStream, stdout: stdout as unknown as NodeJS.WriteStream, stderr: stdout as unknown as NodeJS.WriteStream, colour: false });
    const lines: string[] = [];
    let ended = 0;
    const closed = new Promise<void>((resolve) => screen.readLines((line) => lines.push(line), () => {
      ended++;
      resolve();
    }, () => {}));
    stdin.end('one\ntwo\n');
    await closed;
    assert.deepEqual(lines, ['one', 'two']);
    assert.equal(ended, 1);
    // Counted rather than read back through isPaused(): Node 26 ignores pause() on a stream that
    // has ended and been destroyed, so the stream's own state says nothing here.
    const calls: string[] = [];
    stdin.pause = () => {
      calls.push('pause');
      return stdin;
    };
    stdin.resume = () => {
      calls.push('resume');
      return stdin;
    };
    screen.pauseInput();
    screen.resumeInput();
    assert.deepEqual(calls, [], 'the closed reader still paused or resumed stdin');
    assert.equal(ended, 1);
  });
});
