import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { frameIntoSlab, SLAB_PAYLOAD_LIMIT, slabFrame } from '../../src/io/frame-slab.js';
import { Opcode } from '../../src/protocol/opcodes.js';
import { type MaskKeySource } from '../../src/protocol/mask.js';
import { patternBytes, rawFrame, RFC_KEY } from '../support/frames.js';

/** A key source that always gives RFC 6455's example key, so that masked frames can be compared. */
const rfcKeys: MaskKeySource = {
  fill(target, offset) {
    target.set(RFC_KEY, offset);
  },
};

/** Frames `payload` into the slab and returns a copy of the frame, checking what slabFrame says of it. */
function framed(opcode: typeof Opcode.Text | typeof Opcode.Binary, payload: string | Buffer, maskKeys: MaskKeySource | null): Buffer {
  frameIntoSlab(opcode, payload, maskKeys);
  const { buffer, start, end, payloadLength } = slabFrame;
  assert.equal(payloadLength, typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length, 'payloadLength');
  return Buffer.from(buffer.subarray(start, end));
}

const TEXTS = [
  '',
  'hi',
  // 41 units: the short path (at most 3 bytes each, under 126 in all).
  'a'.repeat(41),
  // 42 units: no longer certain to fit the 7-bit length, though it does.
  'a'.repeat(42),
  'é'.repeat(62), // 124 bytes
  'é'.repeat(62) + 'a', // 125 bytes: the longest for the 7-bit length
  'é'.repeat(63), // 126 bytes: the 16-bit length
  '€'.repeat(41), // 123 bytes on the short path
  '€'.repeat(42), // 126 bytes: the 16-bit length
  '€'.repeat(50), // 150 bytes
  '€ and 🎉 '.repeat(50),
  '€'.repeat(SLAB_PAYLOAD_LIMIT), // the most a string may take: 3 bytes per unit
];
const SIZES = [0, 1, 125, 126, 127, 300, SLAB_PAYLOAD_LIMIT];

describe('frameIntoSlab', () => {
  test('text, unmasked and masked: the frame a WebSocket peer expects, its UTF-8 length in the header', () => {
    for (const text of TEXTS) {
      const what = `${text.length} units, ${Buffer.byteLength(text)} bytes`;
      assert.deepEqual(framed(Opcode.Text, text, null), rawFrame({ opcode: Opcode.Text, payload: text }), `unmasked, ${what}`);
      assert.deepEqual(framed(Opcode.Text, text, rfcKeys), rawFrame({ opcode: Opcode.Text, payload: text, mask: true }), `masked, ${what}`);
    }
  });

  test('binary, unmasked and masked, on both sides of the 7-bit length', () => {
    for (const size of SIZES) {
      const payload = patternBytes(size, 3);
      assert.deepEqual(framed(Opcode.Binary, payload, null), rawFrame({ opcode: Opcode.Binary, payload }), `unmasked, ${size} bytes`);
      assert.deepEqual(framed(Opcode.Binary, payload, rfcKeys), rawFrame({ opcode: Opcode.Binary, payload, mask: true }), `masked, ${size} bytes`);
    }
  });

  test('a payload viewing part of a larger buffer is framed from its own bytes only', () => {
    const whole = patternBytes(600, 9);
    const part = whole.subarray(100, 400);
    assert.deepEqual(framed(Opcode.Binary, part, null), rawFrame({ opcode: Opcode.Binary, payload: Buffer.from(part) }));
  });

  test('successive frames lie side by side in one slab; a full slab is left as it is and a new one begun', () => {
    const payload = patternBytes(SLAB_PAYLOAD_LIMIT, 5);
    frameIntoSlab(Opcode.Binary, payload, null);
    let previous = { buffer: slabFrame.buffer, end: slabFrame.end };
    const kept: Array<{ buffer: Buffer; start: number; end: number }> = [];
    let newSlabs = 0;
    // 64 KiB holds about 16 frames of 4 KiB: 40 of them need new slabs.
    for (let i = 0; i < 40; i++) {
      frameIntoSlab(Opcode.Binary, payload, i % 2 === 0 ? rfcKeys : null);
      const { buffer, start, end } = slabFrame;
      if (buffer === previous.buffer) assert.equal(start, previous.end, `frame ${i} follows the one before it`);
      else newSlabs++;
      assert.ok(end <= buffer.length, `frame ${i} lies inside its slab`);
      kept.push({ buffer, start, end });
      previous = { buffer, end };
    }
    assert.ok(newSlabs >= 2, `new slabs: ${newSlabs}`);
    // Nothing framed later overwrote an earlier frame (a slab is never reused).
    kept.forEach(({ buffer, start, end }, i) => {
      const expected = rawFrame({ opcode: Opcode.Binary, payload, mask: i % 2 === 0 });
      assert.ok(buffer.subarray(start, end).equals(expected), `frame ${i} is intact`);
    });
  });

  test('the largest frame (a masked string of 3-byte characters) is never cut at the end of a slab, wherever the slab is filled to', () => {
    const largest = '€'.repeat(SLAB_PAYLOAD_LIMIT);
    const expected = rawFrame({ opcode: Opcode.Text, payload: largest, mask: true });
    const fill = Buffer.alloc(SLAB_PAYLOAD_LIMIT);
    // Around 64 KiB less the largest frame: where a slab must be left for a new one.
    for (let target = 64 * 1024 - expected.length - 6; target <= 64 * 1024 - expected.length + 6; target++) {
      // A new slab, then frames of chosen sizes (126 to 4096 bytes of payload, 4 header bytes) up to `target` bytes used.
      do frameIntoSlab(Opcode.Binary, fill, null);
      while (slabFrame.start !== 0);
      for (let rest = target - slabFrame.end; rest > 0; rest = target - slabFrame.end) {
        const size = rest > 2 * 4100 ? 4100 : rest > 4100 ? Math.floor(rest / 2) : rest;
        frameIntoSlab(Opcode.Binary, fill.subarray(0, size - 4), null);
      }
      assert.equal(slabFrame.end, target);
      frameIntoSlab(Opcode.Text, largest, rfcKeys);
      const { buffer, start, end } = slabFrame;
      assert.ok(end <= buffer.length, `filled to ${target}: the frame lies inside its slab`);
      assert.ok(buffer.subarray(start, end).equals(expected), `filled to ${target}: the frame is whole`);
    }
  });
});
