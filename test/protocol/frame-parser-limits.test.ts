/**
 * Boundaries of the frame parser's limits that frame-parser.test.ts leaves unchecked (found by
 * mutation testing: each test here fails against a mutant of src/protocol/frame-parser.ts that
 * the other tests let through).
 */
import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { FrameParser, type FrameParserOptions } from '../../src/protocol/frame-parser.js';
import { compressedLimit } from '../../src/protocol/compressed-limit.js';
import { errorIndex, ev, expectError, expectEvents, recorder } from '../support/chunking.js';
import { clientFrame, concat, patternBytes } from '../support/frames.js';

const TEXT = 0x1;
const BINARY = 0x2;
const CONT = 0x0;
const PING = 0x9;

function text(payload: string, fin = true): Buffer {
  return clientFrame({ opcode: TEXT, payload, fin });
}
function binary(payload: Uint8Array, fin = true): Buffer {
  return clientFrame({ opcode: BINARY, payload, fin });
}
function cont(payload: string | Uint8Array, fin: boolean): Buffer {
  return clientFrame({ opcode: CONT, payload, fin });
}

describe('FrameParser: maxFragments (1008)', () => {
  const THREE: FrameParserOptions = { role: 'server', maxPayload: 1 << 20, maxFragments: 3 };
  const tooMany = ev.error(1008, 'SW_TOO_MANY_FRAGMENTS');

  test('accepts a message in exactly maxFragments frames, control frames between them not counted', () => {
    expectEvents([text('a', false), cont('b', false), cont('c', true)], THREE, [ev.text('abc')]);
    expectEvents(
      [binary(Buffer.from([1]), false), clientFrame({ opcode: PING, payload: 'p' }), cont(Buffer.from([2]), false), clientFrame({ opcode: PING, payload: 'q' }), cont(Buffer.from([3]), true)],
      THREE,
      [ev.ping('p'), ev.ping('q'), ev.binary(Buffer.from([1, 2, 3]))],
    );
  });

  test('fails a message in one frame more than maxFragments with 1008 (SW_TOO_MANY_FRAGMENTS), from the extra frame\'s header', () => {
    const frames = [text('a', false), cont('b', false), cont('c', false), cont('d', true)];
    const results = expectError(frames, THREE, 1008);
    for (const r of results) assert.deepStrictEqual(r.events, [tooMany], r.mode);
    const before = concat(...frames.slice(0, 3));
    assert.equal(errorIndex(concat(...frames), THREE), before.length + 5, 'reported on the last byte of the 4th frame\'s header (with its mask key)');
    expectError([binary(patternBytes(10), false), cont(patternBytes(10), false), cont(patternBytes(10), false), cont(Buffer.alloc(0), true)], THREE, 1008);
  });

  test('counts each message afresh: two messages of maxFragments frames each are both accepted', () => {
    const message = [text('a', false), cont('b', false), cont('c', true)];
    expectEvents([...message, ...message, binary(Buffer.from([7]))], THREE, [ev.text('abc'), ev.text('abc'), ev.binary(Buffer.from([7]))]);
  });

  test('maxFragments 1 accepts unfragmented messages only', () => {
    const ONE: FrameParserOptions = { role: 'server', maxPayload: 1 << 20, maxFragments: 1 };
    expectEvents([text('whole'), binary(Buffer.from([1, 2]))], ONE, [ev.text('whole'), ev.binary(Buffer.from([1, 2]))]);
    const results = expectError([text('ok'), text('a', false), cont('b', true)], ONE, 1008, [ev.text('ok')]);
    for (const r of results) assert.equal(r.errors[0]!.code, 'SW_TOO_MANY_FRAGMENTS', r.mode);
  });
});

describe('FrameParser: the 64-bit length form beyond 32 bits', () => {
  /** A masked binary frame header that declares `length` bytes in the 64-bit form (no payload follows). */
  const header64 = (length: bigint): Buffer => clientFrame({ opcode: BINARY, payload: Buffer.alloc(0), length, lengthForm: 64 });

  test('the high word counts units of 2^32: with maxPayload 2^32, a declared 2^32 is accepted and 2^32 + 1 refused with 1009', () => {
    const options: FrameParserOptions = { role: 'server', maxPayload: 2 ** 32 };
    for (const declared of [2n ** 32n, 2n ** 32n - 1n]) {
      const rec = recorder();
      const parser = new FrameParser(options, rec.handler);
      parser.push(header64(declared));
      assert.deepStrictEqual(rec.events, [], `a header declaring ${declared} bytes is accepted`);
      assert.equal(parser.stopped, false);
    }
    expectError([header64(2n ** 32n + 1n)], options, 1009);
    assert.equal(errorIndex(header64(2n ** 32n + 1n), options), 13, 'reported on the last header byte');
  });

  test('a 64-bit length whose high word is odd (top bit clear) is a length, not a protocol error: 1009 over maxPayload', () => {
    for (const declared of [2n ** 32n, 2n ** 32n + 5n, 3n * 2n ** 32n, 2n ** 63n - 1n]) {
      expectError([header64(declared)], { role: 'server', maxPayload: 100 }, 1009);
    }
  });
});

describe('FrameParser: maxPayload for a compressed message (RSV1)', () => {
  const LIMIT = 1000;
  const options: FrameParserOptions = { role: 'server', maxPayload: LIMIT, allowRsv1: true };
  /** A masked compressed binary frame that declares `length` bytes (its payload does not follow). */
  const compressed = (length: number, fin = true): Buffer => clientFrame({ opcode: BINARY, payload: Buffer.alloc(0), length: BigInt(length), lengthForm: 64, rsv1: true, fin });

  test("its wire bytes may pass maxPayload up to deflate's worst case (a message that did not compress); one byte more is 1009", () => {
    const bound = compressedLimit(LIMIT);
    assert.ok(bound > LIMIT);
    const rec = recorder();
    new FrameParser(options, rec.handler).push(compressed(bound));
    assert.deepStrictEqual(rec.events, [], 'a header declaring the bound is accepted');
    expectError([compressed(bound + 1)], options, 1009);
    // Across fragments, the whole message counts, at the compressed bound.
    const first = clientFrame({ opcode: BINARY, payload: Buffer.alloc(LIMIT), rsv1: true, fin: false });
    const rest = (length: number): Buffer => clientFrame({ opcode: CONT, payload: Buffer.alloc(0), length: BigInt(length), lengthForm: 64, fin: true });
    for (const [length, failed] of [[bound - LIMIT, false], [bound - LIMIT + 1, true]] as const) {
      const fragments = recorder();
      const parser = new FrameParser(options, fragments.handler);
      parser.push(concat(first, rest(length)));
      const last = fragments.events[fragments.events.length - 1];
      assert.equal(last?.type === 'error' && last.closeCode === 1009, failed, `${length} more bytes: ${JSON.stringify(last)}`);
    }
  });

  test('an uncompressed message is still held to maxPayload itself', () => {
    expectError([clientFrame({ opcode: BINARY, payload: Buffer.alloc(0), length: BigInt(LIMIT + 1), lengthForm: 64 })], options, 1009);
  });
});
