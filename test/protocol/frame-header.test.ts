import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { headerSize, MAX_HEADER } from '../../src/protocol/frame-header.js';
import { clientFrame, serverFrame, rawFrame, patternBytes } from '../support/frames.js';
import { Opcode } from '../../src/protocol/opcodes.js';

describe('headerSize', () => {
  test('is the header length of frames in every length form, masked and not (the frames the test support writes)', () => {
    for (const length of [0, 1, 125, 126, 65535, 65536]) {
      const payload = patternBytes(length);
      for (const frame of [clientFrame({ opcode: Opcode.Binary, payload }), serverFrame({ opcode: Opcode.Binary, payload })]) {
        assert.equal(headerSize(frame[1]!), frame.length - length, `length ${length}, ${frame[1]! & 0x80 ? 'masked' : 'unmasked'}`);
      }
    }
    const longest = rawFrame({ opcode: Opcode.Binary, payload: patternBytes(3), mask: true, lengthForm: 64 });
    assert.equal(headerSize(longest[1]!), MAX_HEADER);
    assert.equal(longest.length, MAX_HEADER + 3);
  });
});
