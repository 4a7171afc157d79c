/**
 * Opcodes, on their own (RFC 6455 §5.2, §5.5): all sixteen values of the 4-bit field. The parser's
 * reaction to reserved and control opcodes on the wire is tested in frame-parser.test.ts.
 */
import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { isControlOpcode, isKnownOpcode, MAX_CONTROL_PAYLOAD, Opcode } from '../../src/protocol/opcodes.js';

describe('opcodes', () => {
  test('the six defined opcodes carry their RFC 6455 numbers', () => {
    assert.deepEqual(
      { ...Opcode },
      { Continuation: 0x0, Text: 0x1, Binary: 0x2, Close: 0x8, Ping: 0x9, Pong: 0xa },
    );
  });

  test('exactly 0x0–0x2 and 0x8–0xA are known; 0x3–0x7 and 0xB–0xF are reserved', () => {
    const known = [];
    for (let opcode = 0; opcode <= 0xf; opcode++) if (isKnownOpcode(opcode)) known.push(opcode);
    assert.deepEqual(known, [0x0, 0x1, 0x2, 0x8, 0x9, 0xa]);
  });

  test('control opcodes are those with the high bit set (0x8–0xF), reserved ones included', () => {
    for (let opcode = 0; opcode <= 0xf; opcode++) assert.equal(isControlOpcode(opcode), opcode >= 0x8, `0x${opcode.toString(16)}`);
  });

  test('a control frame carries at most 125 payload bytes', () => {
    assert.equal(MAX_CONTROL_PAYLOAD, 125);
  });
});
