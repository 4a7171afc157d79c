import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { frameIntoSlab, leaseSlab, releaseSlab, shareSlab, Slab, SLAB_PAYLOAD_LIMIT, slabFrame } from '../../src/io/frame-slab.js';
import { Opcode } from '../../src/protocol/opcodes.js';
import { type MaskKeySource } from '../../src/protocol/mask.js';
import { patternBytes, rawFrame, RFC_KEY } from '../support/frames.js';
import { RawPeer, serve, turn } from '../support/server-kit.js';

/** A key source that always gives RFC 6455's example key, so that masked frames can be compared. */
const rfcKeys: MaskKeySource = {
  fill(target, offset) {
    target.set(RFC_KEY, offset);
  },
};

/** Frames `payload` into the slab and returns a copy of the frame, checking what slabFrame says of it. */
function framed(opcode: typeof Opcode.Text | typeof Opcode.Binary, payload: string | Buffer, maskKeys: MaskKeySource | null): Buffer {
  frameIntoSlab(opcode, payload, maskKeys);
  const { slab, start, end, payloadLength } = slabFrame;
  const buffer = slab.buffer;
  assert.equal(payloadLength, typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length, 'payloadLength');
  return Buffer.from(buffer.subarray(start, end));
}

/** Frames `payload` until a frame opens a slab (lands at its start): that slab. */
function frameAtSlabStart(payload: Buffer): Slab {
  do frameIntoSlab(Opcode.Binary, payload, null);
  while (slabFrame.start !== 0);
  return slabFrame.slab;
}

/** Frames `payload` until `slab` is left for another. */
function frameUntilLeft(slab: Slab, payload: Buffer): void {
  while (slabFrame.slab === slab) frameIntoSlab(Opcode.Binary, payload, null);
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

  test('successive frames lie side by side in one slab; a full slab that no one holds is filled again from its start', () => {
    const payload = patternBytes(SLAB_PAYLOAD_LIMIT, 5);
    frameIntoSlab(Opcode.Binary, payload, null);
    const first = slabFrame.slab;
    let previousEnd = slabFrame.end;
    let wraps = 0;
    // 64 KiB holds about 16 frames of 4 KiB: 40 of them fill the slab twice.
    for (let i = 0; i < 40; i++) {
      frameIntoSlab(Opcode.Binary, payload, i % 2 === 0 ? rfcKeys : null);
      const { slab, start, end } = slabFrame;
      const buffer = slab.buffer;
      assert.equal(slab, first, `frame ${i}: the same slab`);
      if (start === 0) wraps++;
      else assert.equal(start, previousEnd, `frame ${i} follows the one before it`);
      assert.ok(end <= buffer.length, `frame ${i} lies inside its slab`);
      assert.ok(buffer.subarray(start, end).equals(rawFrame({ opcode: Opcode.Binary, payload, mask: i % 2 === 0 })), `frame ${i} is whole`);
      previousEnd = end;
    }
    assert.ok(wraps >= 2, `filled again from the start: ${wraps} times`);
  });

  test('a slab leased or shared is left as it is when full: its frames stay intact while later ones go to other slabs', () => {
    const payload = patternBytes(SLAB_PAYLOAD_LIMIT, 6);
    for (const how of ['leased', 'shared by a fan-out', 'released unwritten'] as const) {
      // A fresh start: the next frame opens a slab.
      const held = frameAtSlabStart(payload);
      if (how === 'shared by a fan-out') shareSlab(held);
      else leaseSlab(held);
      if (how === 'released unwritten') releaseSlab(held, false);
      const kept = [{ start: slabFrame.start, end: slabFrame.end }];
      while (slabFrame.slab === held) {
        frameIntoSlab(Opcode.Binary, payload, null);
        if (slabFrame.slab === held) kept.push({ start: slabFrame.start, end: slabFrame.end });
      }
      assert.notEqual(slabFrame.slab.buffer, held.buffer, `${how}: the next frame is in other memory`);
      // Many more frames, over several slabs.
      const others = new Set<Slab>();
      for (let i = 0; i < 64; i++) {
        frameIntoSlab(Opcode.Text, 'x'.repeat(1000 + i), null);
        others.add(slabFrame.slab);
      }
      assert.ok(!others.has(held), `${how}: never filled again`);
      const expected = rawFrame({ opcode: Opcode.Binary, payload });
      for (const { start, end } of kept) assert.ok(held.buffer.subarray(start, end).equals(expected), `${how}: the frame at ${start} is intact`);
      if (how === 'leased') releaseSlab(held, false);
    }
  });

  test('a slab whose last lease ends after it was left becomes the spare: the next full slab goes on in it, not in new memory', () => {
    const payload = patternBytes(SLAB_PAYLOAD_LIMIT, 7);
    const first = frameAtSlabStart(payload);
    leaseSlab(first);
    frameUntilLeft(first, payload);
    const second = slabFrame.slab;
    // Written (the kernel took the frames): the first slab is free again, kept as the spare.
    releaseSlab(first, true);
    assert.equal(first.leases, 0);
    // The second is held too when it fills: the spare takes over.
    leaseSlab(second);
    frameUntilLeft(second, payload);
    assert.equal(slabFrame.slab, first, 'the spare is filled next');
    assert.equal(slabFrame.start, 0);
    releaseSlab(second, true);
    // Now the first fills with no lease on it: it goes on in itself; the second stays the spare.
    for (let i = 0; i < 40; i++) frameIntoSlab(Opcode.Binary, payload, null);
    assert.equal(slabFrame.slab, first);
    leaseSlab(first);
    frameUntilLeft(first, payload);
    assert.equal(slabFrame.slab, second, 'the second, the spare meanwhile, is filled next');
    releaseSlab(first, true);
  });

  test('a lease ended with the frames not written marks the slab shared for good, even as the spare would be', () => {
    const payload = patternBytes(SLAB_PAYLOAD_LIMIT, 8);
    const slab = frameAtSlabStart(payload);
    leaseSlab(slab);
    leaseSlab(slab);
    releaseSlab(slab, true);
    assert.equal(slab.shared, false, 'one lease written: not shared');
    releaseSlab(slab, false);
    assert.equal(slab.shared, true, 'one lease whose frames wait somewhere: shared');
    assert.equal(slab.leases, 0);
    frameUntilLeft(slab, payload);
    for (let i = 0; i < 40; i++) {
      frameIntoSlab(Opcode.Binary, payload, null);
      assert.notEqual(slabFrame.slab, slab);
    }
  });

  test('the largest frame (a masked string of 3-byte characters) is never cut at the end of a slab, wherever the slab is filled to', () => {
    const largest = '€'.repeat(SLAB_PAYLOAD_LIMIT);
    const expected = rawFrame({ opcode: Opcode.Text, payload: largest, mask: true });
    const fill = Buffer.alloc(SLAB_PAYLOAD_LIMIT);
    // Around 64 KiB less the largest frame: where a slab must be left for a new one.
    for (let target = 64 * 1024 - expected.length - 6; target <= 64 * 1024 - expected.length + 6; target++) {
      // A new slab, then frames of chosen sizes (126 to 4096 bytes of payload, 4 header bytes) up to `target` bytes used.
      frameAtSlabStart(fill);
      for (let rest = target - slabFrame.end; rest > 0; rest = target - slabFrame.end) {
        const size = rest > 2 * 4100 ? 4100 : rest > 4100 ? Math.floor(rest / 2) : rest;
        frameIntoSlab(Opcode.Binary, fill.subarray(0, size - 4), null);
      }
      assert.equal(slabFrame.end, target);
      frameIntoSlab(Opcode.Text, largest, rfcKeys);
      const { start, end } = slabFrame;
      const buffer = slabFrame.slab.buffer;
      assert.ok(end <= buffer.length, `filled to ${target}: the frame lies inside its slab`);
      assert.ok(buffer.subarray(start, end).equals(expected), `filled to ${target}: the frame is whole`);
    }
  });
});

describe('slab reuse over real connections', { timeout: 60_000 }, () => {
  for (const how of ['send', 'publish'] as const) {
    test(`frames waiting for a peer that stopped reading stay intact while a busy connection fills slabs again and again: ${how}`, async (t) => {
      const srv = await serve(t, { maxBufferedAmount: 64 * 1024 * 1024, onConnection: () => ({}) });
      const slow = await RawPeer.open(srv.port, { keepFrames: true });
      t.after(() => slow.destroy());
      slow.pause();
      const slowSide = (await srv.connections.next('the slow peer, server side')).connection;
      const busy = await RawPeer.open(srv.port, { keepFrames: false });
      t.after(() => busy.destroy());
      const busySide = (await srv.connections.next('the busy peer, server side')).connection;
      // Distinct small frames (framed in slabs), far more than the kernel buffers hold: the first
      // write leaves much of them waiting in the socket's handle, read from the slabs themselves.
      const SLOW = 8000;
      const tagged = (index: number): Buffer => {
        const payload = patternBytes(1000, index);
        payload.writeUInt32BE(index, 0);
        return payload;
      };
      // (Published: framed once for any number of receivers, kept by each one's queue.)
      if (how === 'publish') slowSide.subscribe('slow');
      for (let i = 0; i < SLOW; i++) {
        if (how === 'send') slowSide.send(tagged(i));
        else srv.server.publish('slow', tagged(i));
      }
      await turn();
      assert.ok(slowSide.bufferedAmount > 0, 'the slow peer has bytes waiting');
      // Meanwhile the busy connection gets 4 MiB in small frames, over many turns: every slab that
      // is free is filled again from its start.
      let sent = 0;
      for (let round = 0; round < 64; round++) {
        for (let i = 0; i < 64; i++, sent++) busySide.send(patternBytes(1000, 0xffff - i));
        await turn();
      }
      await busy.until(() => (busy.frameCount === sent ? true : undefined), 'the busy peer gets every frame', 20_000);
      slow.resume();
      await slow.until(() => (slow.frameCount === SLOW ? true : undefined), 'the slow peer gets every frame', 20_000);
      slow.frames.history.forEach((frame, i) => {
        assert.ok(frame.payload.equals(tagged(i)), `slow frame ${i} is intact (it carries ${frame.payload.readUInt32BE(0)})`);
      });
    });
  }
});
