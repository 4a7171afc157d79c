import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { bodyPreview } from '../../src/handshake/body-preview.js';

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');
const CHUNKED = { 'transfer-encoding': 'chunked' };

describe('bodyPreview with Content-Length', () => {
  test('waits for the declared bytes, then gives them (and nothing after them)', () => {
    const headers = { 'content-length': '5' };
    assert.equal(bodyPreview(headers, bytes(''), false, 100), undefined);
    assert.equal(bodyPreview(headers, bytes('hell'), false, 100), undefined);
    assert.equal(bodyPreview(headers, bytes('hello'), false, 100), 'hello');
    assert.equal(bodyPreview(headers, bytes('hello, more'), false, 100), 'hello');
  });

  test('gives what came when the connection ended early', () => {
    assert.equal(bodyPreview({ 'content-length': '5' }, bytes('he'), true, 100), 'he');
  });

  test('a body longer than the limit: the limit is enough, the rest is not waited for', () => {
    const headers = { 'content-length': '5000' };
    assert.equal(bodyPreview(headers, bytes('abcdefg'), false, 8), undefined);
    assert.equal(bodyPreview(headers, bytes('abcdefgh'), false, 8), 'abcdefgh');
    assert.equal(bodyPreview(headers, bytes('abcdefghij'), false, 8), 'abcdefgh');
  });

  test('Content-Length 0 is an empty body at once', () => {
    assert.equal(bodyPreview({ 'content-length': '0' }, bytes(''), false, 100), '');
  });

  test('a Content-Length that is not a number is ignored: the body runs to the close (or the limit)', () => {
    for (const declared of ['', '-1', '5x', ' 5', '0x5']) {
      const headers = { 'content-length': declared };
      assert.equal(bodyPreview(headers, bytes('hello'), false, 8), undefined, declared);
      assert.equal(bodyPreview(headers, bytes('hello world'), false, 8), 'hello wo', declared);
    }
  });
});

describe('bodyPreview of a close-delimited body', () => {
  test('waits for the limit or the end', () => {
    assert.equal(bodyPreview({}, bytes('abc'), false, 4), undefined);
    assert.equal(bodyPreview({}, bytes('abcd'), false, 4), 'abcd');
    assert.equal(bodyPreview({}, bytes('abcdef'), false, 4), 'abcd');
    assert.equal(bodyPreview({}, bytes('abc'), true, 4), 'abc');
    assert.equal(bodyPreview({}, bytes(''), true, 4), '');
  });

  test('the limit is 1024 bytes unless given', () => {
    const body = Buffer.alloc(2000, 'x');
    assert.equal(bodyPreview({}, body.subarray(0, 1023), false), undefined);
    assert.equal(bodyPreview({}, body.subarray(0, 1024), false), 'x'.repeat(1024));
    assert.equal(bodyPreview({}, body, false), 'x'.repeat(1024));
  });

  test('decodes the preview as UTF-8', () => {
    assert.equal(bodyPreview({}, Buffer.from('dégagé'), true, 100), 'dégagé');
  });
});

describe('bodyPreview of a chunked body', () => {
  test('joins the chunks of a whole body, up to the last chunk', () => {
    const body = bytes('5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
    assert.equal(bodyPreview(CHUNKED, body, false, 100), 'hello world');
    assert.equal(bodyPreview(CHUNKED, Buffer.concat([body, bytes('junk after the body')]), false, 100), 'hello world');
  });

  test('wins over Content-Length, and is found in a list of codings, in any case', () => {
    const body = bytes('3\r\nabc\r\n0\r\n\r\n');
    assert.equal(bodyPreview({ ...CHUNKED, 'content-length': '1' }, body, false, 100), 'abc');
    assert.equal(bodyPreview({ 'transfer-encoding': 'gzip, Chunked' }, body, false, 100), 'abc');
  });

  test('reads hexadecimal sizes in either case, with spaces and chunk extensions', () => {
    const body = bytes(`A\r\n${'a'.repeat(10)}\r\nb;name=value\r\n${'b'.repeat(11)}\r\n 1 \r\nc\r\n10\r\n${'d'.repeat(16)}\r\n0\r\n\r\n`);
    assert.equal(bodyPreview(CHUNKED, body, false, 100), `${'a'.repeat(10)}${'b'.repeat(11)}c${'d'.repeat(16)}`);
  });

  test('waits for more while a size line or a chunk is incomplete, and gives what came at the end', () => {
    for (const partial of ['', '5', '5\r\nhel', '5\r\nhello', '5\r\nhello\r\n', '5\r\nhello\r\n6\r\n wo']) {
      assert.equal(bodyPreview(CHUNKED, bytes(partial), false, 100), undefined, JSON.stringify(partial));
    }
    assert.equal(bodyPreview(CHUNKED, bytes('5\r\nhel'), true, 100), 'hel');
    assert.equal(bodyPreview(CHUNKED, bytes('5\r\nhello\r\n6\r\n wo'), true, 100), 'hello wo');
    assert.equal(bodyPreview(CHUNKED, bytes('5\r\nhello\r\n'), true, 100), 'hello');
  });

  test('stops at the limit, inside a chunk or at its end, without waiting for the rest', () => {
    assert.equal(bodyPreview(CHUNKED, bytes('5\r\nhello\r\n6\r\n wo'), false, 7), 'hello w');
    assert.equal(bodyPreview(CHUNKED, bytes('5\r\nhello\r\n6\r\n wo'), false, 5), 'hello');
    assert.equal(bodyPreview(CHUNKED, bytes('5\r\nhel'), false, 3), 'hel');
    assert.equal(bodyPreview(CHUNKED, bytes('5\r\nhel'), false, 4), undefined);
  });

  test('a size line that is not hexadecimal ends the body: what came before it is the preview', () => {
    assert.equal(bodyPreview(CHUNKED, bytes('5\r\nhello\r\nzz\r\nmore\r\n'), false, 100), 'hello');
    assert.equal(bodyPreview(CHUNKED, bytes('\r\nhello'), false, 100), '');
  });
});
