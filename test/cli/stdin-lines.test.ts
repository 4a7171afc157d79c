/** StdinLines: piped input cut into lines at LF or CR LF only, from chunks cut anywhere. */
import { strict as assert } from 'node:assert';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { StdinLines } from '../../src/cli/stdin-lines.js';

/** Feeds `chunks` to a StdinLines, ends the input, and resolves with what it passed on. */
function linesOf(chunks: readonly (string | Buffer)[]): Promise<Array<[string, boolean]>> {
  const input = new PassThrough();
  const seen: Array<[string, boolean]> = [];
  const done = new Promise<Array<[string, boolean]>>((resolve) => {
    new StdinLines(input, { line: (text, utf8) => seen.push([text, utf8]), end: () => resolve(seen) });
  });
  for (const chunk of chunks) input.write(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
  input.end();
  return done;
}

const valid = (...texts: string[]): Array<[string, boolean]> => texts.map((text) => [text, true]);

describe('StdinLines', () => {
  test('a line ends at LF or CR LF; a lone CR, anywhere else, stays in its line', async () => {
    assert.deepEqual(await linesOf(['a\rb\n', 'c\r\n', '\r\n', 'd\r\re\n']), valid('a\rb', 'c', '', 'd\r\re'));
  });

  test('empty lines are lines; the last one is passed on without a line end, and nothing after a final LF', async () => {
    assert.deepEqual(await linesOf(['\n\none\n', 'two']), valid('', '', 'one', 'two'));
    assert.deepEqual(await linesOf(['one\n']), valid('one'));
    assert.deepEqual(await linesOf([]), []);
  });

  test('the same lines whatever the chunks: split at every byte, a CR LF and a multi-byte character cut in two', async () => {
    const text = 'héllo ✓ 😀\r\nsecond\rline\n\nlast €';
    const bytes = Buffer.from(text, 'utf8');
    const expected = valid('héllo ✓ 😀', 'second\rline', '', 'last €');
    assert.deepEqual(await linesOf([bytes]), expected);
    for (let cut = 1; cut < bytes.length; cut++) {
      assert.deepEqual(await linesOf([bytes.subarray(0, cut), bytes.subarray(cut)]), expected, `cut at byte ${cut}`);
    }
    assert.deepEqual(await linesOf([...bytes].map((byte) => Buffer.from([byte]))), expected, 'one byte at a time');
  });

  test('a line that is not valid UTF-8 is flagged, with U+FFFD for its bad bytes; its neighbours are not', async () => {
    const lines = await linesOf([Buffer.from([0x61, 0x0a, 0xff, 0xfe, 0x41, 0x0a, 0xe2, 0x9c]), Buffer.from([0x93, 0x0a])]);
    assert.deepEqual(lines, [['a', true], ['\uFFFD\uFFFDA', false], ['✓', true]]);
  });

  test('a line longer than maxLineBytes stops the reading: the lines before it are passed on, then overlong() and no end', async () => {
    /** What a StdinLines with a 4-byte limit passes on for `chunks`, and whether it read to the end. */
    const outcome = async (chunks: readonly string[]): Promise<{ lines: string[]; how: string; reading: boolean }> => {
      const input = new PassThrough();
      const lines: string[] = [];
      const how = new Promise<string>((resolve) => {
        new StdinLines(input, { line: (text) => lines.push(text), end: () => resolve('end'), overlong: () => resolve('overlong') }, 4);
      });
      for (const chunk of chunks) input.write(chunk);
      input.end();
      const result = await how;
      return { lines, how: result, reading: input.listenerCount('data') !== 0 };
    };
    assert.deepEqual(await outcome(['abcd\nabcd\r\nab\n']), { lines: ['abcd', 'abcd', 'ab'], how: 'end', reading: false }, 'four bytes (and a CR LF) are not too long');
    assert.deepEqual(await outcome(['ok\nabcde\nnever\n']), { lines: ['ok'], how: 'overlong', reading: false }, 'a whole line in a chunk');
    assert.deepEqual(await outcome(['ok\nab', 'c', 'de', 'fgh', 'ijk\nnever\n']), { lines: ['ok'], how: 'overlong', reading: false }, 'a line that grows over chunks is stopped before its end');
    assert.deepEqual(await outcome(['ok\nabcde']), { lines: ['ok'], how: 'overlong', reading: false }, 'the last line, without a line end');
  });

  test('a line that never ends is not held whole: reading stops once it passes the limit', () => {
    const input = new PassThrough();
    let overlong = 0;
    new StdinLines(input, { line: () => assert.fail('no line ends'), end: () => assert.fail('no end'), overlong: () => overlong++ }, 1000);
    for (let i = 0; i < 100 && overlong === 0; i++) input.emit('data', Buffer.alloc(64, 0x7a));
    assert.equal(overlong, 1, 'stopped after 1000 bytes, within 16 chunks of 64');
    assert.equal(input.listenerCount('data'), 0, 'no longer read');
  });

  test('close() passes nothing more on, not even the rest of the chunk being split, nor the end', async () => {
    const input = new PassThrough();
    const seen: string[] = [];
    let ended = 0;
    const reader: StdinLines = new StdinLines(input, {
      line: (text) => {
        seen.push(text);
        if (text === 'two') reader.close();
      },
      end: () => ended++,
    });
    input.end('one\ntwo\nthree\nfour');
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(seen, ['one', 'two']);
    assert.equal(ended, 0);
    assert.equal(input.listenerCount('data'), 0);
  });

  test('pause() and resume() pause and resume the input', () => {
    const input = new PassThrough();
    const reader = new StdinLines(input, { line: () => {}, end: () => {} });
    reader.pause();
    assert.equal(input.isPaused(), true);
    reader.resume();
    assert.equal(input.isPaused(), false);
    reader.close();
    reader.resume();
    assert.equal(input.isPaused(), true, 'resumed after close()');
  });
});
