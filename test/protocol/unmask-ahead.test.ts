import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { unmaskWholeFrames } from '../../src/protocol/unmask-ahead.js';
import { Opcode } from '../../src/protocol/opcodes.js';
import { clientFrame, headerLength, patternBytes, rawFrame, serverFrame } from '../support/frames.js';

/** The frame with its payload unmasked: the bytes the parser must find once the frame is clear. */
function cleared(frame: Buffer, payloadLength: number): Buffer {
  const out = Buffer.from(frame);
  const start = frame.length - payloadLength;
  const key = frame.subarray(start - 4, start);
  for (let i = 0; i < payloadLength; i++) out[start + i]! ^= key[i % 4]!;
  return out;
}

describe('unmaskWholeFrames', () => {
  test('unmasks every whole frame from the offset on, in each length form, and returns the end of the last', () => {
    const lengths = [0, 1, 5, 125, 126, 1024, 65535, 65536 - 200];
    const frames = lengths.map((length, i) => clientFrame({ opcode: i % 2 === 0 ? Opcode.Binary : Opcode.Text, payload: patternBytes(length, i) }));
    // A 64-bit length form for a short payload too.
    frames.push(rawFrame({ opcode: Opcode.Ping, payload: patternBytes(9, 99), mask: [1, 2, 3, 4], lengthForm: 64 }));
    const prefix = Buffer.from('untouched before the offset');
    const chunk = Buffer.concat([prefix, ...frames]);
    const end = unmaskWholeFrames(chunk, prefix.length);
    assert.equal(end, chunk.length);
    assert.ok(chunk.subarray(0, prefix.length).equals(prefix));
    const want = Buffer.concat([prefix, ...frames.map((frame, i) => cleared(frame, i < lengths.length ? lengths[i]! : 9))]);
    assert.ok(chunk.equals(want));
  });

  test('stops at a frame not whole in the chunk, wherever it is cut, and leaves it masked', () => {
    const first = clientFrame({ opcode: Opcode.Binary, payload: patternBytes(300, 1) });
    const second = clientFrame({ opcode: Opcode.Binary, payload: patternBytes(70_000, 2) });
    for (const cut of [1, 2, 3, headerLength(70_000, true) - 1, headerLength(70_000, true), 5000, second.length - 1]) {
      const chunk = Buffer.concat([first, second.subarray(0, cut)]);
      assert.equal(unmaskWholeFrames(chunk, 0), first.length, `cut at ${cut}`);
      assert.ok(chunk.subarray(0, first.length).equals(cleared(first, 300)));
      assert.ok(chunk.subarray(first.length).equals(second.subarray(0, cut)), `cut at ${cut}: the partial frame is as it came`);
    }
  });

  test('stops at an unmasked frame (which the parser then rejects) and at a 64-bit length past 4 GiB', () => {
    const masked = clientFrame({ opcode: Opcode.Binary, payload: patternBytes(40, 1) });
    const unmasked = serverFrame({ opcode: Opcode.Binary, payload: patternBytes(40, 2) });
    const chunk = Buffer.concat([masked, unmasked, masked]);
    assert.equal(unmaskWholeFrames(chunk, 0), masked.length);
    assert.ok(chunk.subarray(masked.length).equals(Buffer.concat([unmasked, masked])));
    const huge = rawFrame({ opcode: Opcode.Binary, payload: patternBytes(8, 3), mask: true, length: 2n ** 32n + 8n });
    assert.equal(unmaskWholeFrames(Buffer.concat([huge, masked]), 0), 0);
  });

  test('an offset at the end, or two bytes short of a header, unmasks nothing', () => {
    const frame = clientFrame({ opcode: Opcode.Binary, payload: patternBytes(10, 1) });
    assert.equal(unmaskWholeFrames(frame, frame.length), frame.length);
    assert.equal(unmaskWholeFrames(frame, frame.length - 1), frame.length - 1);
    assert.equal(unmaskWholeFrames(Buffer.alloc(0), 0), 0);
  });
});
