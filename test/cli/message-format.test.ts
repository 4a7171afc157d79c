import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { encodeLine, EncodingError, renderMessage, toHex } from '../../src/cli/message-format.js';

describe('connect: lines to messages, messages to text', () => {
  test('encodeLine: text stays a string; binary, hex and base64 give bytes', () => {
    assert.equal(encodeLine('héllo', 'text'), 'héllo');
    assert.deepEqual(encodeLine('hé', 'binary'), Buffer.from('hé', 'utf8'));
    for (const line of ['00ff41', '00 ff 41', '0x00 0xFF 0x41', '00:ff:41']) assert.deepEqual(encodeLine(line, 'hex'), Buffer.from([0, 0xff, 0x41]), line);
    assert.deepEqual(encodeLine('', 'hex'), Buffer.alloc(0));
    assert.deepEqual(encodeLine('aGk=', 'base64'), Buffer.from('hi'));
    assert.deepEqual(encodeLine('_-8', 'base64'), Buffer.from([0xff, 0xef, 0xfc]).subarray(0, 2), 'base64url');
  });

  test('encodeLine refuses what is not hex or base64', () => {
    for (const [line, mode] of [['0g', 'hex'], ['abc', 'hex'], ['a', 'base64'], ['not base64!', 'base64']] as const) {
      assert.throws(() => encodeLine(line, mode), EncodingError, `${mode} ${line}`);
    }
  });

  test('renderMessage: text as is, or pretty JSON with --json', () => {
    const plain = { mode: 'text', json: false } as const;
    assert.deepEqual(renderMessage('{"a":1}', false, plain, false), { text: '{"a":1}' });
    assert.deepEqual(renderMessage('{"a":1}', false, { ...plain, json: true }, false), { text: '{\n  "a": 1\n}' });
    assert.deepEqual(renderMessage('{broken', false, { ...plain, json: true }, false), { text: '{broken' });
    assert.deepEqual(renderMessage('42', false, { ...plain, json: true }, false), { text: '42' });
  });

  test('renderMessage: binary by mode, for a pipe and for a terminal', () => {
    const bytes = Buffer.from([0, 0xff, 0x41]);
    const tag = 'binary, 3 bytes';
    assert.deepEqual(renderMessage(bytes, true, { mode: 'hex', json: false }, false), { text: '00 ff 41', tag });
    assert.deepEqual(renderMessage(bytes, true, { mode: 'base64', json: false }, true), { text: 'AP9B', tag });
    assert.deepEqual(renderMessage(bytes, true, { mode: 'binary', json: false }, false), { text: '', raw: bytes, tag });
    assert.deepEqual(renderMessage(bytes, true, { mode: 'binary', json: false }, true), { text: '00 ff 41', tag });
    // Default mode: a pipe gets UTF-8 (the contract); a terminal gets hex for bytes that are not text.
    assert.deepEqual(renderMessage(bytes, true, { mode: 'text', json: false }, false), { text: bytes.toString('utf8'), tag });
    assert.deepEqual(renderMessage(bytes, true, { mode: 'text', json: false }, true), { text: '00 ff 41', tag });
    assert.deepEqual(renderMessage(Buffer.from('ok ✓'), true, { mode: 'text', json: false }, true), { text: 'ok ✓', tag: 'binary, 6 bytes' });
    assert.equal(toHex(Buffer.from([1])), '01');
    assert.equal(renderMessage(Buffer.from([1]), true, { mode: 'hex', json: false }, true).tag, 'binary, 1 byte');
  });
});
