/** The CLI's screen helpers that need no terminal: oneLine keeps what reaches stderr on one line. */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { oneLine } from '../../src/cli/screen.js';

describe('oneLine', () => {
  test('leaves ordinary text (non-ASCII included) as it is', () => {
    assert.equal(oneLine('closed by the server: 1000 (bye, café ✓)'), 'closed by the server: 1000 (bye, café ✓)');
  });

  test('trims, and writes line breaks, tabs, escape sequences, DEL and C1 controls as escapes', () => {
    assert.equal(oneLine('  a\nb\r\tc\x1b[31md\x7fe\x85f\u0000 \n'), String.raw`a\nb\r\tc\u001b[31md\u007fe\u0085f\u0000`);
  });
});
