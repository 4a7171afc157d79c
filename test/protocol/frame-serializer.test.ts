import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { FrameParser, type FrameParserOptions } from '../../src/protocol/frame-parser.js';
import { encodeFrame, encodeMessage, frameHeader, frameHeaderSize, writeFrameHeader } from '../../src/protocol/frame-serializer.js';
import { defaultMaskKeys, type MaskKeySource } from '../../src/protocol/mask.js';
import { Opcode } from '../../src/protocol/opcodes.js';
import { ev, expectEvents, mulberry32, randomBytes, recorder } from '../support/chunking.js';
import { clientFrame, closeBody, hex, patternBytes, serverFrame } from '../support/frames.js';

const CLIENT: FrameParserOptions = { role: 'client', maxPayload: 1 << 24 };
const SERVER: FrameParserOptions = { role: 'server', maxPayload: 1 << 24 };

/** A deterministic key source that records every key it hands out. */
class CountingKeys implements MaskKeySource {
  readonly keys: Buffer[] = [];
  private next = 1;
  fill(target: Uint8Array, offset: number): void {
    const n = this.next++;
    const key = Buffer.from([0xa0 ^ n, (n * 7) & 0xff, (n * 13) & 0xff, 0x5c ^ (n >> 8)]);
    target.set(key, offset);
    this.keys.push(key);
  }
}

/** The 4-byte mask key of a masked frame. */
function maskKeyOf(frame: Buffer): Buffer {
  const len7 = frame[1]! & 0x7f;
  const at = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0);
  return frame.subarray(at, at + 4);
}

describe('frameHeaderSize', () => {
  test('is 2, 4 or 10 bytes by length form, plus 4 when masked', () => {
    const cases: Array<[number, number]> = [
      [0, 2],
      [125, 2],
      [126, 4],
      [65535, 4],
      [65536, 10],
      [2 ** 32, 10],
    ];
    for (const [length, size] of cases) {
      assert.equal(frameHeaderSize(length, false), size, `unmasked ${length}`);
      assert.equal(frameHeaderSize(length, true), size + 4, `masked ${length}`);
    }
  });
});

describe('frameHeader', () => {
  test('writes the 7-bit, 16-bit and 64-bit length forms big-endian', () => {
    assert.deepStrictEqual(frameHeader(Opcode.Text, 0), hex('81 00'));
    assert.deepStrictEqual(frameHeader(Opcode.Text, 5), hex('81 05'));
    assert.deepStrictEqual(frameHeader(Opcode.Binary, 125), hex('82 7d'));
    assert.deepStrictEqual(frameHeader(Opcode.Binary, 126), hex('82 7e 00 7e'));
    assert.deepStrictEqual(frameHeader(Opcode.Binary, 65535), hex('82 7e ff ff'));
    assert.deepStrictEqual(frameHeader(Opcode.Binary, 65536), hex('82 7f 00 00 00 00 00 01 00 00'));
    assert.deepStrictEqual(frameHeader(Opcode.Binary, 2 ** 32 + 5), hex('82 7f 00 00 00 01 00 00 00 05'));
    assert.deepStrictEqual(frameHeader(Opcode.Binary, Number.MAX_SAFE_INTEGER), hex('82 7f 00 1f ff ff ff ff ff ff'));
  });

  test('splits a 64-bit length into its words exactly when the low word is smaller than the high word', () => {
    // 2^32 + 5 and MAX_SAFE_INTEGER above would also pass with a high word of floor(length / (2^32 + 1)).
    assert.deepStrictEqual(frameHeader(Opcode.Binary, 2 ** 32), hex('82 7f 00 00 00 01 00 00 00 00'));
    assert.deepStrictEqual(frameHeader(Opcode.Binary, 3 * 2 ** 32 + 1), hex('82 7f 00 00 00 03 00 00 00 01'));
    assert.deepStrictEqual(frameHeader(Opcode.Binary, 2 ** 52), hex('82 7f 00 10 00 00 00 00 00 00'));
  });

  test('sets FIN by default, clears it on request, and sets RSV1 on request', () => {
    assert.deepStrictEqual(frameHeader(Opcode.Text, 3, { fin: false }), hex('01 03'));
    assert.deepStrictEqual(frameHeader(Opcode.Text, 3, { rsv1: true }), hex('c1 03'));
    assert.deepStrictEqual(frameHeader(Opcode.Continuation, 3, { fin: true }), hex('80 03'));
    assert.deepStrictEqual(frameHeader(Opcode.Ping, 0), hex('89 00'));
    assert.deepStrictEqual(frameHeader(Opcode.Pong, 1), hex('8a 01'));
    assert.deepStrictEqual(frameHeader(Opcode.Close, 2), hex('88 02'));
  });

  test('is never masked', () => {
    for (const length of [0, 10, 300, 70000]) assert.equal(frameHeader(Opcode.Binary, length)[1]! & 0x80, 0);
  });
});

describe('writeFrameHeader', () => {
  test('writes at an offset, appends a fresh key when masking, and returns the offset after the header', () => {
    const keys = new CountingKeys();
    const target = Buffer.alloc(20, 0xee);
    const end = writeFrameHeader(target, 3, Opcode.Binary, 300, true, false, keys);
    assert.equal(end, 3 + 8);
    assert.deepStrictEqual(target.subarray(0, 3), Buffer.alloc(3, 0xee));
    assert.deepStrictEqual(target.subarray(3, 7), hex('82 fe 01 2c'));
    assert.deepStrictEqual(target.subarray(7, 11), keys.keys[0]);
    assert.deepStrictEqual(target.subarray(11), Buffer.alloc(9, 0xee));
    assert.equal(writeFrameHeader(target, 0, Opcode.Text, 5, false, true, null), 2);
    assert.deepStrictEqual(target.subarray(0, 2), hex('41 05'));
  });
});

describe('encodeFrame', () => {
  test('builds the same bytes as a hand-built frame, unmasked and masked', () => {
    for (const length of [0, 1, 125, 126, 65535, 65536]) {
      const payload = patternBytes(length, 4);
      assert.deepStrictEqual(encodeFrame(Opcode.Binary, payload), serverFrame({ opcode: Opcode.Binary, payload }), `unmasked ${length}`);
      const keys = new CountingKeys();
      const masked = encodeFrame(Opcode.Binary, payload, { mask: keys });
      assert.equal(keys.keys.length, 1);
      assert.deepStrictEqual(masked, clientFrame({ opcode: Opcode.Binary, payload, key: keys.keys[0]! }), `masked ${length}`);
    }
  });

  test('builds the RFC 6455 §5.7 single-frame examples', () => {
    assert.deepStrictEqual(encodeFrame(Opcode.Text, Buffer.from('Hello')), hex('81 05 48 65 6c 6c 6f'));
    const rfcKey: MaskKeySource = { fill: (t, o) => void t.set([0x37, 0xfa, 0x21, 0x3d], o) };
    assert.deepStrictEqual(encodeFrame(Opcode.Text, Buffer.from('Hello'), { mask: rfcKey }), hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'));
  });

  for (const length of [0, 1, 125, 126, 65535, 65536]) {
    test(`round-trips a ${length}-byte frame: unmasked to a client-role parser, masked to a server-role parser`, () => {
      const payload = patternBytes(length, 8);
      const textPayload = Buffer.from('a'.repeat(length));
      expectEvents([encodeFrame(Opcode.Binary, payload), encodeFrame(Opcode.Text, textPayload)], CLIENT, [ev.binary(payload), ev.message(textPayload, false)]);
      expectEvents(
        [encodeFrame(Opcode.Binary, payload, { mask: defaultMaskKeys }), encodeFrame(Opcode.Text, textPayload, { mask: defaultMaskKeys })],
        SERVER,
        [ev.binary(payload), ev.message(textPayload, false)],
      );
    });
  }

  test('round-trips control frames and a compressed (RSV1) frame', () => {
    const p = patternBytes(125);
    const frames = (mask: MaskKeySource | false) => [
      encodeFrame(Opcode.Ping, p, { mask }),
      encodeFrame(Opcode.Pong, Buffer.alloc(0), { mask }),
      encodeFrame(Opcode.Binary, Buffer.from([1, 2, 3]), { mask, rsv1: true }),
      encodeFrame(Opcode.Close, closeBody(4000, 'done'), { mask }),
    ];
    const expected = [ev.ping(p), ev.pong(''), ev.message(Buffer.from([1, 2, 3]), true, true), ev.close(4000, 'done')];
    expectEvents(frames(false), { ...CLIENT, allowRsv1: true }, expected);
    expectEvents(frames(defaultMaskKeys), { ...SERVER, allowRsv1: true }, expected);
  });

  test('round-trips multibyte text', () => {
    const s = 'κόσμε € 𝄞 😀 '.repeat(500);
    expectEvents([encodeFrame(Opcode.Text, Buffer.from(s), { mask: defaultMaskKeys })], SERVER, [ev.text(s)]);
  });

  test('does not modify the caller\'s payload when masking', () => {
    const rng = mulberry32(4);
    for (const length of [1, 7, 31, 32, 33, 125, 1000, 70000]) {
      const backing = randomBytes(rng, length + 3);
      const payload = backing.subarray(3); // misaligned view, as a caller might pass
      const before = Buffer.from(payload);
      const frame = encodeFrame(Opcode.Binary, payload, { mask: defaultMaskKeys });
      assert.deepStrictEqual(payload, before, `length ${length}`);
      // The frame may come from the same pool as the payload, but never overlaps it.
      const disjoint =
        frame.buffer !== payload.buffer ||
        frame.byteOffset + frame.length <= payload.byteOffset ||
        payload.byteOffset + payload.length <= frame.byteOffset;
      assert.ok(disjoint, 'the frame does not overlap the payload');
      // Unmasking the frame's payload gives the original bytes.
      assert.deepStrictEqual(frame.subarray(frame.length - length).map((b, i) => b ^ maskKeyOf(frame)[i & 3]!), before);
    }
  });

  test('uses a fresh mask key for every frame', () => {
    const keys = new CountingKeys();
    const frames = Array.from({ length: 10 }, () => encodeFrame(Opcode.Text, Buffer.from('same payload'), { mask: keys }));
    assert.equal(keys.keys.length, 10, 'one key drawn per frame');
    frames.forEach((f, i) => assert.deepStrictEqual(maskKeyOf(f), keys.keys[i]));
    // With the default CSPRNG source: distinct keys, so equal payloads give different bytes.
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) seen.add(maskKeyOf(encodeFrame(Opcode.Text, Buffer.from('x'), { mask: defaultMaskKeys })).toString('hex'));
    assert.ok(seen.size > 1990, `${seen.size} distinct keys in 2000 frames`);
  });

  test('an empty masked frame still carries a mask key', () => {
    const keys = new CountingKeys();
    const frame = encodeFrame(Opcode.Ping, Buffer.alloc(0), { mask: keys });
    assert.equal(frame.length, 6);
    assert.equal(frame[1], 0x80);
    assert.deepStrictEqual(frame.subarray(2), keys.keys[0]);
  });
});

describe('encodeMessage', () => {
  /** Decoded header bits of a frame. */
  function bits(frame: Buffer): { fin: boolean; rsv1: boolean; opcode: number; masked: boolean } {
    return { fin: (frame[0]! & 0x80) !== 0, rsv1: (frame[0]! & 0x40) !== 0, opcode: frame[0]! & 0x0f, masked: (frame[1]! & 0x80) !== 0 };
  }

  test('returns one frame when no fragment size is given or the payload fits', () => {
    const payload = patternBytes(1000);
    for (const frames of [encodeMessage(Opcode.Binary, payload), encodeMessage(Opcode.Binary, payload, { fragmentSize: 1000 })]) {
      assert.equal(frames.length, 1);
      assert.deepStrictEqual(bits(frames[0]!), { fin: true, rsv1: false, opcode: Opcode.Binary, masked: false });
      assert.deepStrictEqual(frames[0], encodeFrame(Opcode.Binary, payload));
    }
    const empty = encodeMessage(Opcode.Text, Buffer.alloc(0), { fragmentSize: 4, rsv1: true });
    assert.equal(empty.length, 1);
    assert.deepStrictEqual(bits(empty[0]!), { fin: true, rsv1: true, opcode: Opcode.Text, masked: false });
  });

  test('fragments: the first frame has the opcode and RSV1, the rest are continuations, FIN only on the last', () => {
    const payload = Buffer.from('abcdefghij');
    const frames = encodeMessage(Opcode.Text, payload, { fragmentSize: 3, rsv1: true });
    assert.equal(frames.length, 4);
    assert.deepStrictEqual(frames.map(bits), [
      { fin: false, rsv1: true, opcode: Opcode.Text, masked: false },
      { fin: false, rsv1: false, opcode: Opcode.Continuation, masked: false },
      { fin: false, rsv1: false, opcode: Opcode.Continuation, masked: false },
      { fin: true, rsv1: false, opcode: Opcode.Continuation, masked: false },
    ]);
    assert.deepStrictEqual(
      frames.map((f) => f.subarray(2).toString()),
      ['abc', 'def', 'ghi', 'j'],
    );
    // An exact multiple of the fragment size: no empty trailing frame.
    const exact = encodeMessage(Opcode.Binary, patternBytes(9), { fragmentSize: 3 });
    assert.equal(exact.length, 3);
    assert.deepStrictEqual(exact.map((f) => bits(f).fin), [false, false, true]);
  });

  test('masks every fragment with its own key when asked, without touching the payload', () => {
    const keys = new CountingKeys();
    const payload = patternBytes(10);
    const before = Buffer.from(payload);
    const frames = encodeMessage(Opcode.Binary, payload, { fragmentSize: 4, mask: keys });
    assert.equal(frames.length, 3);
    assert.equal(keys.keys.length, 3);
    frames.forEach((f, i) => {
      assert.equal(bits(f).masked, true);
      assert.deepStrictEqual(maskKeyOf(f), keys.keys[i]);
    });
    assert.deepStrictEqual(payload, before);
  });

  test('fragmented messages round-trip through the parser, fragments reported in order', () => {
    const s = 'héllo wörld, ünïcödé 😀 split anywhere';
    const payload = Buffer.from(s);
    for (const fragmentSize of [1, 2, 3, 5, 7, 16, 100]) {
      const frames = encodeMessage(Opcode.Text, payload, { fragmentSize, mask: defaultMaskKeys });
      expectEvents(frames, SERVER, [ev.text(s)]);
      const pieces: Buffer[] = [];
      for (let i = 0; i < payload.length; i += fragmentSize) pieces.push(payload.subarray(i, i + fragmentSize));
      const expected =
        pieces.length === 1
          ? [ev.text(s)]
          : [...pieces.map((p, i) => ev.fragment(p, false, i === pieces.length - 1)), ev.text(s)];
      expectEvents(encodeMessage(Opcode.Text, payload, { fragmentSize }), CLIENT, expected, { fragments: true });
    }
    const big = patternBytes(200_000);
    expectEvents(encodeMessage(Opcode.Binary, big, { fragmentSize: 65536, mask: defaultMaskKeys }), SERVER, [ev.binary(big)]);
  });

  test('a compressed fragmented message parses as compressed with RSV1 allowed', () => {
    const frames = encodeMessage(Opcode.Binary, patternBytes(10), { fragmentSize: 4, rsv1: true });
    expectEvents(frames, { ...CLIENT, allowRsv1: true }, [ev.message(patternBytes(10), true, true)]);
  });

  test('rejects a fragment size that is not positive', () => {
    for (const fragmentSize of [0, -1, NaN]) {
      assert.throws(() => encodeMessage(Opcode.Text, Buffer.from('abc'), { fragmentSize }), RangeError, String(fragmentSize));
    }
  });

  test('the parser accepts a whole encoded message pushed at once', () => {
    const rec = recorder();
    const parser = new FrameParser(CLIENT, rec.handler);
    parser.push(Buffer.concat(encodeMessage(Opcode.Binary, patternBytes(100), { fragmentSize: 7 })));
    assert.deepStrictEqual(rec.events, [ev.binary(patternBytes(100))]);
  });
});

describe('frames RFC 6455 forbids are refused, not built', () => {
  test('an undefined opcode, a control frame over 125 bytes or fragmented, and a length that is not a whole number of bytes are RangeErrors', () => {
    for (const opcode of [3, 7, 11, 15, 16, 99, -1, 1.5]) assert.throws(() => encodeFrame(opcode as Opcode, Buffer.alloc(1)), RangeError, `opcode ${opcode}`);
    for (const opcode of [Opcode.Ping, Opcode.Pong, Opcode.Close]) {
      assert.throws(() => encodeFrame(opcode, Buffer.alloc(126)), RangeError);
      assert.throws(() => encodeFrame(opcode, Buffer.alloc(1), { fin: false }), RangeError);
      assert.throws(() => encodeMessage(opcode as unknown as typeof Opcode.Text, Buffer.alloc(300), { fragmentSize: 100 }), RangeError);
      assert.equal(encodeFrame(opcode, Buffer.alloc(125)).length, 127);
    }
    for (const length of [-1, NaN, 1.5, Infinity, 2 ** 53]) assert.throws(() => frameHeader(Opcode.Binary, length), RangeError, `length ${length}`);
    assert.throws(() => frameHeader(Opcode.Ping, 126), RangeError);
    for (const opcode of [Opcode.Ping, Opcode.Pong, Opcode.Close]) assert.throws(() => frameHeader(opcode, 1, { fin: false }), RangeError, `fragmented control frame header ${opcode}`);
  });

  test('a payload that is not bytes (a string, say) is a TypeError, not a frame of zero bytes', () => {
    assert.throws(() => encodeFrame(Opcode.Text, 'abc' as unknown as Buffer), TypeError);
    assert.throws(() => encodeFrame(Opcode.Text, undefined as unknown as Buffer), TypeError);
  });
});
