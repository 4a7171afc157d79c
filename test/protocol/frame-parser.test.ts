import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { FrameParser, type FrameParserOptions } from '../../src/protocol/frame-parser.js';
import { compressedLimit } from '../../src/protocol/compressed-limit.js';
import {
  BYTE_BY_BYTE,
  describe as describeEvents,
  errorIndex,
  ev,
  expectError,
  expectEvents,
  feedEachWay,
  mulberry32,
  randInt,
  randomBytes,
  randomSplits,
  recorder,
  WHOLE,
  type ParserEvent,
} from '../support/chunking.js';
import { clientFrame, closeBody, concat, headerLength, hex, patternBytes, rawFrame, serverFrame } from '../support/frames.js';

const MiB = 1024 * 1024;
const SERVER: FrameParserOptions = { role: 'server', maxPayload: 16 * MiB };
const CLIENT: FrameParserOptions = { role: 'client', maxPayload: 16 * MiB };
const SERVER_RSV1: FrameParserOptions = { role: 'server', maxPayload: 16 * MiB, allowRsv1: true };

const TEXT = 0x1;
const BINARY = 0x2;
const CONT = 0x0;
const CLOSE = 0x8;
const PING = 0x9;
const PONG = 0xa;

/** ASCII text of `length` bytes. */
function asciiText(length: number): string {
  let s = '';
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789 ';
  for (let i = 0; i < length; i++) s += alphabet[i % alphabet.length];
  return s;
}

/** Masked text frame (client → server). */
function text(payload: string | Uint8Array, fin = true): Buffer {
  return clientFrame({ opcode: TEXT, payload, fin });
}
function binary(payload: Uint8Array, fin = true): Buffer {
  return clientFrame({ opcode: BINARY, payload, fin });
}
function cont(payload: string | Uint8Array, fin: boolean): Buffer {
  return clientFrame({ opcode: CONT, payload, fin });
}
function ping(payload: string | Uint8Array = ''): Buffer {
  return clientFrame({ opcode: PING, payload });
}
function pong(payload: string | Uint8Array = ''): Buffer {
  return clientFrame({ opcode: PONG, payload });
}
function close(payload: Uint8Array = Buffer.alloc(0)): Buffer {
  return clientFrame({ opcode: CLOSE, payload });
}

describe('FrameParser: data frames', () => {
  for (const length of [0, 1, 125, 126, 65535, 65536]) {
    const form = length < 126 ? '7-bit' : length < 65536 ? '16-bit' : '64-bit';
    test(`parses a masked text message of ${length} bytes (${form} length)`, () => {
      const payload = asciiText(length);
      const frame = text(payload);
      assert.equal(frame.length, headerLength(length, true) + length);
      expectEvents(frame, SERVER, [ev.text(payload)]);
    });

    test(`parses a masked binary message of ${length} bytes (${form} length)`, () => {
      const payload = patternBytes(length, length);
      expectEvents(binary(payload), SERVER, [ev.binary(payload)]);
    });

    test(`parses an unmasked ${length}-byte text and binary message in the client role`, () => {
      const t = asciiText(length);
      const b = patternBytes(length, 3);
      expectEvents(
        [serverFrame({ opcode: TEXT, payload: t }), serverFrame({ opcode: BINARY, payload: b })],
        CLIENT,
        [ev.text(t), ev.binary(b)],
      );
    });
  }

  test('parses a 3 MiB binary message and a 2 MiB multibyte text message', () => {
    const big = patternBytes(3 * MiB + 5, 9);
    const unit = 'aé€😀'; // 1 + 2 + 3 + 4 bytes
    const bigText = unit.repeat(Math.floor((2 * MiB) / 10));
    expectEvents([binary(big), text(bigText)], SERVER, [ev.binary(big), ev.text(bigText)]);
  });

  test('parses text with 2-, 3- and 4-byte code points', () => {
    const samples = ['é', 'ß ñ ü', '€', '日本語のテキスト', '😀', '𝄞 music', 'aé€😀 mixed 𐍈 ok', '\u0000\u007f\u0080\u07ff\u0800\uffff\u{10000}\u{10ffff}'];
    expectEvents(
      samples.map((s) => text(s)),
      SERVER,
      samples.map((s) => ev.text(s)),
    );
  });

  test('parses many frames delivered in one chunk, in order', () => {
    const rng = mulberry32(3);
    const frames: Buffer[] = [];
    const expected: ParserEvent[] = [];
    for (let i = 0; i < 300; i++) {
      const kind = randInt(rng, 0, 3);
      const length = randInt(rng, 0, kind >= 2 ? 125 : 300);
      if (kind === 0) {
        const s = asciiText(length) + 'é'.repeat(i % 3);
        frames.push(text(s));
        expected.push(ev.text(s));
      } else if (kind === 1) {
        const b = randomBytes(rng, length);
        frames.push(binary(b));
        expected.push(ev.binary(b));
      } else if (kind === 2) {
        const b = randomBytes(rng, length);
        frames.push(ping(b));
        expected.push(ev.ping(b));
      } else {
        const b = randomBytes(rng, length);
        frames.push(pong(b));
        expected.push(ev.pong(b));
      }
    }
    expectEvents(frames, SERVER, expected);
  });

  test('decodes the RFC 6455 §5.7 examples', () => {
    expectEvents(hex('81 05 48 65 6c 6c 6f'), CLIENT, [ev.text('Hello')]);
    expectEvents(hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'), SERVER, [ev.text('Hello')]);
    expectEvents(hex('01 03 48 65 6c 80 02 6c 6f'), CLIENT, [ev.text('Hello')]);
    expectEvents(hex('89 05 48 65 6c 6c 6f'), CLIENT, [ev.ping('Hello')]);
    expectEvents(hex('8a 85 37 fa 21 3d 7f 9f 4d 51 58'), SERVER, [ev.pong('Hello')]);
    expectEvents(concat(hex('82 7e 01 00'), patternBytes(256)), CLIENT, [ev.binary(patternBytes(256))]);
    expectEvents(concat(hex('82 7f 00 00 00 00 00 01 00 00'), patternBytes(65536)), CLIENT, [ev.binary(patternBytes(65536))]);
  });

  test('delivers a frame that arrives whole in one chunk as a view of that chunk, unmasked in place', () => {
    const payload = Buffer.from('a view, not a copy');
    const frame = text(payload);
    const [whole] = feedEachWay(frame, SERVER, { modes: [WHOLE] });
    const event = whole!.events[0];
    assert.ok(event && event.type === 'message');
    const chunk = whole!.chunks[0]!;
    assert.equal(event.data.buffer, chunk.buffer, 'same memory');
    assert.equal(event.data.byteOffset, chunk.byteOffset + headerLength(payload.length, true));
    assert.deepStrictEqual(Buffer.from(event.data), payload);
    assert.deepStrictEqual(chunk.subarray(6), payload, 'the chunk was unmasked in place');
  });

  test('accepts a frame whose length uses a longer form than needed', () => {
    expectEvents(
      [
        clientFrame({ opcode: TEXT, payload: 'short', lengthForm: 16 }),
        clientFrame({ opcode: BINARY, payload: Buffer.from([1, 2, 3]), lengthForm: 64 }),
      ],
      SERVER,
      [ev.text('short'), ev.binary(Buffer.from([1, 2, 3]))],
    );
  });

  test('a zero-length message between others does not disturb parsing', () => {
    expectEvents([text('a'), text(''), binary(Buffer.alloc(0)), text('b')], SERVER, [
      ev.text('a'),
      ev.text(''),
      ev.binary(Buffer.alloc(0)),
      ev.text('b'),
    ]);
  });
});

describe('FrameParser: fragmented messages', () => {
  test('assembles a text message from three fragments', () => {
    expectEvents([text('Hel', false), cont('lo, ', false), cont('world', true)], SERVER, [ev.text('Hello, world')]);
  });

  test('assembles a binary message from fragments, some empty', () => {
    const a = patternBytes(200, 1);
    const b = patternBytes(70000, 2);
    expectEvents(
      [binary(Buffer.alloc(0), false), cont(a, false), cont(Buffer.alloc(0), false), cont(b, false), cont(Buffer.alloc(0), true)],
      SERVER,
      [ev.binary(concat(a, b))],
    );
  });

  test('assembles a message whose fragments are all empty into an empty message', () => {
    expectEvents([text('', false), cont('', false), cont('', true)], SERVER, [ev.text('')]);
    expectEvents([binary(Buffer.alloc(0), false), cont('', true)], SERVER, [ev.binary(Buffer.alloc(0))]);
  });

  test('delivers control frames interleaved between fragments at once, before the message', () => {
    expectEvents(
      [text('one ', false), ping('p1'), cont('two ', false), pong('p2'), ping(''), cont('three', true), text('next')],
      SERVER,
      [ev.ping('p1'), ev.pong('p2'), ev.ping(''), ev.text('one two three'), ev.text('next')],
    );
  });

  test('a close frame between fragments is reported and the unfinished message is dropped', () => {
    expectEvents([text('half', false), close(closeBody(1000, 'bye')), cont('rest', true)], SERVER, [ev.close(1000, 'bye')]);
  });

  test('reports each fragment to onFragment in order with its fin flag, then the whole message', () => {
    expectEvents(
      [text('ab', false), ping('x'), cont('', false), cont('cd', false), cont('e', true)],
      SERVER,
      [
        ev.fragment('ab', false, false),
        ev.ping('x'),
        ev.fragment('', false, false),
        ev.fragment('cd', false, false),
        ev.fragment('e', false, true),
        ev.text('abcde'),
      ],
      { fragments: true },
    );
    const a = patternBytes(300, 5);
    const b = patternBytes(7, 6);
    expectEvents([binary(a, false), cont(b, true)], SERVER, [ev.fragment(a, true, false), ev.fragment(b, true, true), ev.binary(concat(a, b))], {
      fragments: true,
    });
  });

  test('does not call onFragment for an unfragmented message', () => {
    expectEvents([text('whole'), binary(Buffer.from([1]))], SERVER, [ev.text('whole'), ev.binary(Buffer.from([1]))], { fragments: true });
  });

  test('starts a fresh message after a fragmented one completes', () => {
    expectEvents(
      [text('a', false), cont('b', true), binary(Buffer.from([9]), false), cont(Buffer.from([8]), true), text('c')],
      SERVER,
      [ev.text('ab'), ev.binary(Buffer.from([9, 8])), ev.text('c')],
    );
  });

  test('accepts a code point split across two fragments', () => {
    const smile = Buffer.from('😀', 'utf8'); // f0 9f 98 80
    const euro = Buffer.from('€', 'utf8'); // e2 82 ac
    expectEvents([text(smile.subarray(0, 1), false), cont(smile.subarray(1), true)], SERVER, [ev.text('😀')]);
    expectEvents([text(smile.subarray(0, 2), false), cont(smile.subarray(2), true)], SERVER, [ev.text('😀')]);
    expectEvents([text(smile.subarray(0, 3), false), cont(smile.subarray(3), true)], SERVER, [ev.text('😀')]);
    expectEvents(
      [text(concat(Buffer.from('x'), euro.subarray(0, 1)), false), ping('p'), cont(euro.subarray(1, 2), false), cont(euro.subarray(2), true)],
      SERVER,
      [ev.ping('p'), ev.text('x€')],
    );
  });

  test('flags a message compressed when its first frame has RSV1 and RSV1 is allowed', () => {
    const deflated = hex('f2 48 cd c9 c9 07 00'); // not valid UTF-8: must not be checked as text
    expectEvents([clientFrame({ opcode: TEXT, payload: deflated, rsv1: true })], SERVER_RSV1, [ev.message(deflated, false, true)]);
    expectEvents(
      [clientFrame({ opcode: BINARY, payload: deflated.subarray(0, 3), rsv1: true, fin: false }), cont(deflated.subarray(3), true)],
      SERVER_RSV1,
      [ev.fragment(deflated.subarray(0, 3), true, false, true), ev.fragment(deflated.subarray(3), true, true, true), ev.message(deflated, true, true)],
      { fragments: true },
    );
    // A following uncompressed text message is validated again.
    expectError([clientFrame({ opcode: TEXT, payload: deflated, rsv1: true }), text(hex('ff'))], SERVER_RSV1, 1007, [
      ev.message(deflated, false, true),
    ]);
  });

  test('setAllowRsv1 lets an extension negotiated later claim RSV1', () => {
    const rec = recorder();
    const parser = new FrameParser({ role: 'server', maxPayload: 1000 }, rec.handler);
    parser.setAllowRsv1(true);
    parser.push(clientFrame({ opcode: BINARY, payload: Buffer.from([1, 2]), rsv1: true }));
    assert.deepStrictEqual(rec.events, [ev.message(Buffer.from([1, 2]), true, true)]);
    parser.setAllowRsv1(false);
    parser.push(clientFrame({ opcode: BINARY, payload: Buffer.from([1, 2]), rsv1: true }));
    assert.equal(rec.events.length, 2);
    assert.deepStrictEqual(rec.events[1], ev.error(1002));
  });
});

describe('FrameParser: protocol errors (1002)', () => {
  /** Asserts a 1002 every way, and that it is reported within the frame header (no payload needed). */
  function expect1002(frames: Buffer[], options: FrameParserOptions, before: ParserEvent[] = [], headerEnd?: number): void {
    expectError(frames, options, 1002, before);
    if (headerEnd !== undefined) {
      assert.equal(errorIndex(concat(...frames), options), headerEnd, 'reported as soon as the header arrived');
    }
  }

  test('rejects RSV1 on a data frame with no extension negotiated', () => {
    expect1002([clientFrame({ opcode: TEXT, payload: 'x', rsv1: true })], SERVER, [], 5);
    expect1002([clientFrame({ opcode: BINARY, payload: 'xyz', rsv1: true })], SERVER, [], 5);
    expect1002([text('ok'), clientFrame({ opcode: TEXT, payload: 'x', rsv1: true })], SERVER, [ev.text('ok')]);
  });

  for (const [name, bits] of [
    ['RSV2', { rsv2: true }],
    ['RSV3', { rsv3: true }],
    ['RSV2 and RSV3', { rsv2: true, rsv3: true }],
  ] as const) {
    test(`rejects ${name} on data and control frames, even with RSV1 allowed`, () => {
      for (const options of [SERVER, SERVER_RSV1]) {
        for (const opcode of [TEXT, BINARY, PING, PONG, CLOSE]) {
          expect1002([clientFrame({ opcode, payload: opcode === CLOSE ? closeBody(1000) : 'ab', ...bits })], options, [], 5);
        }
        expect1002([text('a', false), clientFrame({ opcode: CONT, payload: 'b', ...bits })], options);
      }
    });
  }

  test('accepts RSV1 on the first frame of a text or binary message when allowed', () => {
    expectEvents(
      [clientFrame({ opcode: TEXT, payload: 'x', rsv1: true }), clientFrame({ opcode: BINARY, payload: 'y', rsv1: true })],
      SERVER_RSV1,
      [ev.message(Buffer.from('x'), false, true), ev.message(Buffer.from('y'), true, true)],
    );
  });

  test('rejects RSV1 on a continuation frame even when RSV1 is allowed', () => {
    expect1002([clientFrame({ opcode: TEXT, payload: 'a', rsv1: true, fin: false }), clientFrame({ opcode: CONT, payload: 'b', rsv1: true })], SERVER_RSV1);
    expect1002([text('a', false), clientFrame({ opcode: CONT, payload: 'b', rsv1: true })], SERVER_RSV1);
  });

  test('rejects RSV1 on a ping, pong or close frame even when RSV1 is allowed', () => {
    for (const options of [SERVER, SERVER_RSV1]) {
      expect1002([clientFrame({ opcode: PING, payload: 'p', rsv1: true })], options, [], 5);
      expect1002([clientFrame({ opcode: PONG, payload: 'p', rsv1: true })], options, [], 5);
      expect1002([clientFrame({ opcode: CLOSE, payload: closeBody(1000), rsv1: true })], options, [], 5);
    }
  });

  for (const opcode of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
    test(`rejects reserved opcode 0x${opcode.toString(16)} with 1002`, () => {
      expect1002([clientFrame({ opcode, payload: '' })], SERVER, [], 5);
      expect1002([clientFrame({ opcode, payload: 'abc' })], SERVER, [], 5);
      expect1002([text('before'), clientFrame({ opcode, payload: 'abc', fin: false })], SERVER, [ev.text('before')]);
      expect1002([serverFrame({ opcode, payload: 'abc' })], CLIENT, [], 1);
    });
  }

  test('accepts a control frame of exactly 125 bytes', () => {
    const p = patternBytes(125);
    expectEvents([ping(p), pong(p), close(closeBody(1000, 'r'.repeat(123)))], SERVER, [ev.ping(p), ev.pong(p), ev.close(1000, 'r'.repeat(123))]);
  });

  test('rejects a ping longer than 125 bytes with 1002', () => {
    expect1002([ping(patternBytes(126))], SERVER, [], headerLength(126, true) - 1);
    expect1002([clientFrame({ opcode: PING, payload: patternBytes(130), lengthForm: 64 })], SERVER);
  });

  test('rejects a pong or close frame longer than 125 bytes with 1002', () => {
    expect1002([pong(patternBytes(126))], SERVER, [], headerLength(126, true) - 1);
    expect1002([close(closeBody(1000, 'x'.repeat(124)))], SERVER, [], headerLength(126, true) - 1);
    expect1002([serverFrame({ opcode: PING, payload: patternBytes(200) })], CLIENT, [], 3);
  });

  test('rejects a control frame that uses the 16-bit or 64-bit length form, from its header alone', () => {
    expect1002([clientFrame({ opcode: PING, payload: Buffer.alloc(0), length: 126 })], SERVER, [], 7);
    expect1002([clientFrame({ opcode: PONG, payload: Buffer.alloc(0), length: 70000n })], SERVER, [], 13);
    expect1002([clientFrame({ opcode: CLOSE, payload: Buffer.alloc(0), length: 5, lengthForm: 16 })], SERVER);
  });

  test('rejects a fragmented control frame (FIN=0 ping, pong or close)', () => {
    expect1002([clientFrame({ opcode: PING, payload: 'p', fin: false })], SERVER, [], 5);
    expect1002([clientFrame({ opcode: PONG, payload: '', fin: false })], SERVER, [], 5);
    expect1002([clientFrame({ opcode: CLOSE, payload: closeBody(1000), fin: false })], SERVER, [], 5);
    expect1002([text('a', false), clientFrame({ opcode: PING, payload: 'p', fin: false })], SERVER);
  });

  test('rejects a continuation frame with no message started', () => {
    expect1002([cont('x', true)], SERVER, [], 5);
    expect1002([cont('x', false)], SERVER, [], 5);
    expect1002([cont('', true)], SERVER, [], 5);
    expect1002([text('done'), cont('x', true)], SERVER, [ev.text('done')]);
    expect1002([text('a', false), cont('b', true), cont('c', true)], SERVER, [ev.text('ab')]);
  });

  test('rejects a new text or binary frame inside a fragmented message', () => {
    expect1002([text('a', false), text('b', true)], SERVER);
    expect1002([text('a', false), binary(Buffer.from([1]), true)], SERVER);
    expect1002([binary(Buffer.from([1]), false), cont(Buffer.from([2]), false), binary(Buffer.from([3]), false)], SERVER);
    expect1002([text('a', false), ping('p'), text('b', false)], SERVER, [ev.ping('p')]);
    expectError([text('a', false), text('b', true)], SERVER, 1002, [ev.fragment('a', false, false)], { fragments: true });
  });

  test('rejects a 64-bit length with its most significant bit set, from the header alone', () => {
    for (const declared of [0x8000000000000000n, 0x8000000000000001n, 0xffffffffffffffffn]) {
      const header = clientFrame({ opcode: BINARY, payload: Buffer.alloc(0), length: declared });
      assert.equal(header.length, 14);
      expect1002([header], SERVER, [], 13);
      expect1002([header], { role: 'server', maxPayload: Infinity }, [], 13);
    }
    expect1002([serverFrame({ opcode: TEXT, payload: Buffer.alloc(0), length: 0x8000000000000005n })], { role: 'client', maxPayload: Infinity }, [], 9);
  });

  test('rejects an unmasked frame sent to a server', () => {
    expect1002([serverFrame({ opcode: TEXT, payload: 'hi' })], SERVER, [], 1);
    expect1002([serverFrame({ opcode: BINARY, payload: '' })], SERVER, [], 1);
    expect1002([serverFrame({ opcode: PING, payload: 'p' })], SERVER, [], 1);
    expect1002([serverFrame({ opcode: CLOSE, payload: closeBody(1000) })], SERVER, [], 1);
    expect1002([text('a', false), serverFrame({ opcode: CONT, payload: 'b' })], SERVER);
  });

  test('rejects a masked frame sent to a client', () => {
    expect1002([clientFrame({ opcode: TEXT, payload: 'hi' })], CLIENT, [], 5);
    expect1002([clientFrame({ opcode: PONG, payload: '' })], CLIENT, [], 5);
    expect1002([serverFrame({ opcode: TEXT, payload: 'ok' }), clientFrame({ opcode: CLOSE, payload: closeBody(1000) })], CLIENT, [ev.text('ok')]);
  });

  test('ignores everything after a protocol error', () => {
    const results = expectError([serverFrame({ opcode: TEXT, payload: 'x' }), text('a'), ping('p'), close()], SERVER, 1002);
    for (const r of results) {
      r.parser.push(text('more'));
      r.parser.push(hex('ff ff ff ff'));
      assert.equal(r.events.length, 1, r.mode);
    }
  });
});

describe('FrameParser: maxPayload (1009)', () => {
  const SMALL: FrameParserOptions = { role: 'server', maxPayload: 100 };

  test('accepts a message of exactly maxPayload bytes', () => {
    expectEvents([binary(patternBytes(100))], SMALL, [ev.binary(patternBytes(100))]);
    expectEvents([text('x'.repeat(60), false), cont('y'.repeat(40), true)], SMALL, [ev.text('x'.repeat(60) + 'y'.repeat(40))]);
  });

  test('rejects a single frame over maxPayload with 1009', () => {
    expectError([binary(patternBytes(101))], SMALL, 1009);
    expectError([text('ok'), text('z'.repeat(101))], SMALL, 1009, [ev.text('ok')]);
    expectEvents([text('')], { role: 'server', maxPayload: 0 }, [ev.text('')]);
    expectError([binary(Buffer.from([1]))], { role: 'server', maxPayload: 0 }, 1009);
  });

  test('rejects a fragmented message whose fragments sum to more than maxPayload', () => {
    expectError([text('a'.repeat(60), false), cont('b'.repeat(41), true)], SMALL, 1009);
    expectError([binary(patternBytes(50), false), ping('p'), cont(patternBytes(50), false), cont(patternBytes(1), true)], SMALL, 1009, [
      ev.ping('p'),
    ]);
    expectError(
      [binary(patternBytes(60), false), cont(patternBytes(41), true)],
      SMALL,
      1009,
      [ev.fragment(patternBytes(60), true, false)],
      { fragments: true },
    );
  });

  test('reports 1009 from the header, before any of the payload arrives', () => {
    const options: FrameParserOptions = { role: 'server', maxPayload: 1000 };
    // 7-, 16- and 64-bit forms: push the header (with its mask key) only.
    for (const declared of [101, 1001, 65535, 65536, 2 ** 40, 2 ** 53]) {
      const header = clientFrame({ opcode: BINARY, payload: Buffer.alloc(0), length: BigInt(declared) });
      const opts = declared <= 125 ? { role: 'server' as const, maxPayload: 100 } : options;
      expectError([header], opts, 1009);
      assert.equal(errorIndex(header, opts), header.length - 1, `length ${declared}: reported on the last header byte`);
    }
    // The sum of fragments: the second fragment's header alone already exceeds it.
    const first = text('a'.repeat(900), false);
    const secondHeader = clientFrame({ opcode: CONT, payload: Buffer.alloc(0), length: 101 });
    expectError([first, secondHeader], options, 1009);
    assert.equal(errorIndex(concat(first, secondHeader), options), first.length + secondHeader.length - 1);
    // Client role, unmasked header.
    const clientHeader = serverFrame({ opcode: TEXT, payload: Buffer.alloc(0), length: 70000 });
    expectError([clientHeader], { role: 'client', maxPayload: 65535 }, 1009);
    assert.equal(errorIndex(clientHeader, { role: 'client', maxPayload: 65535 }), 9);
  });
});

describe('FrameParser: invalid UTF-8 (1007)', () => {
  const CASES: Array<[string, string]> = [
    ['an overlong 2-byte form C0 AF', '41 c0 af'],
    ['an overlong 3-byte form E0 80 AF', 'e0 80 af'],
    ['an overlong 4-byte form F0 80 80 AF', 'f0 80 80 af'],
    ['a surrogate ED A0 80', '61 ed a0 80 62'],
    ['a low surrogate ED BF BF', 'ed bf bf'],
    ['a code point above U+10FFFF F4 90 80 80', 'f4 90 80 80'],
    ['the byte F5', 'f5 80 80 80'],
    ['the byte FF', '61 ff'],
    ['a lone continuation byte 80', '80'],
    ['a continuation byte after ASCII', '48 69 bf'],
    ['a sequence truncated at the end of the message', '48 65 e2 82'],
    ['a 4-byte sequence truncated at the end of the message', 'f0 9f 98'],
  ];
  for (const [name, bytesHex] of CASES) {
    test(`rejects a text message containing ${name} with 1007`, () => {
      const payload = hex(bytesHex);
      expectError([text(payload)], SERVER, 1007);
      expectError([serverFrame({ opcode: TEXT, payload })], CLIENT, 1007);
      expectError([text(payload.subarray(0, 1), false), cont(payload.subarray(1), true)], SERVER, 1007);
    });
  }

  const FAIL_FAST: Array<[string, string]> = [
    ['ED A0 (surrogate)', 'ed a0'],
    ['F4 90 (above U+10FFFF)', 'f4 90'],
    ['E0 80 (overlong)', 'e0 80'],
    ['F0 80 (overlong)', 'f0 80'],
    ['C0', 'c0'],
    ['C1', 'c1'],
    ['F5', 'f5'],
    ['FF', 'ff'],
    ['80 (lone continuation)', '80'],
  ];
  for (const [name, bad] of FAIL_FAST) {
    test(`reports invalid UTF-8 ${name} as soon as the offending byte arrives, long before the frame ends`, () => {
      const prefix = concat(Buffer.from('valid text é € 😀 then '), hex(bad));
      // The frame declares 10000 bytes; only the prefix is pushed.
      const partial = clientFrame({ opcode: TEXT, payload: prefix, length: 10000 });
      expectError([partial], SERVER, 1007);
      assert.equal(errorIndex(partial, SERVER), partial.length - 1, 'reported on the offending byte');
      // The first fragment of a fragmented message, complete, with nothing after it.
      const fragment = text(prefix, false);
      expectError([fragment], SERVER, 1007);
      assert.equal(errorIndex(fragment, SERVER), fragment.length - 1);
    });
  }

  test('catches an invalid sequence split across two fragments', () => {
    // ED | A0 80: a surrogate whose lead byte ended the first fragment.
    const first = text(hex('61 ed'), false);
    const second = cont(hex('a0 80'), true);
    expectError([first, second], SERVER, 1007);
    assert.equal(errorIndex(concat(first, second), SERVER), first.length + 6, 'reported on A0, the first payload byte of the continuation');
    // E2 82 | 41: a sequence interrupted by ASCII in the next fragment, with a ping in between.
    expectError([text(hex('e2 82'), false), ping('p'), cont('A', true)], SERVER, 1007, [ev.ping('p')]);
    // F4 | 90 80 80, fragments reported to onFragment first.
    expectError([text(hex('f4'), false), cont(hex('90 80 80'), true)], SERVER, 1007, [ev.fragment(hex('f4'), false, false)], { fragments: true });
  });

  test('rejects a fragmented text message that ends inside a code point', () => {
    expectError([text(hex('e2'), false), cont(hex('82'), true)], SERVER, 1007);
    expectError([text(hex('f0 9f 98'), false), cont('', true)], SERVER, 1007);
    expectError([text('ok', false), cont(hex('c3'), true)], SERVER, 1007);
  });

  test('does not check binary messages for UTF-8', () => {
    const junk = hex('ff fe ed a0 80 c0 80 f4 90');
    expectEvents([binary(junk), binary(junk.subarray(0, 4), false), cont(junk.subarray(4), true)], SERVER, [ev.binary(junk), ev.binary(junk)]);
  });

  test('a binary message between text messages does not disturb UTF-8 validation', () => {
    expectEvents([text('é'), binary(hex('c3')), text('ok')], SERVER, [ev.text('é'), ev.binary(hex('c3')), ev.text('ok')]);
  });
});

describe('FrameParser: close frames', () => {
  test('reports an empty close frame as code 1005 with no reason', () => {
    expectEvents([close()], SERVER, [ev.close(1005, '')]);
    expectEvents([serverFrame({ opcode: CLOSE, payload: '' })], CLIENT, [ev.close(1005, '')]);
  });

  test('rejects a close frame with a 1-byte payload with 1002', () => {
    expectError([close(Buffer.from([0x03]))], SERVER, 1002);
    expectError([serverFrame({ opcode: CLOSE, payload: Buffer.from([0xe8]) })], CLIENT, 1002);
  });

  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
    test(`rejects close code ${code} with 1002`, () => {
      const results = expectError([close(closeBody(code))], SERVER, 1002);
      expectError([close(closeBody(code, 'why'))], SERVER, 1002);
      expectError([serverFrame({ opcode: CLOSE, payload: closeBody(code) })], CLIENT, 1002);
      assert.equal(results[0]!.errors[0]!.code, 'SW_INVALID_CLOSE_CODE');
    });
  }

  for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]) {
    test(`accepts close code ${code} with its reason`, () => {
      expectEvents([close(closeBody(code))], SERVER, [ev.close(code, '')]);
      expectEvents([close(closeBody(code, 'going away — bye 😀'))], SERVER, [ev.close(code, 'going away — bye 😀')]);
      expectEvents([serverFrame({ opcode: CLOSE, payload: closeBody(code, 'r') })], CLIENT, [ev.close(code, 'r')]);
    });
  }

  test('accepts a 123-byte reason with multi-byte characters', () => {
    const reason = '€'.repeat(41);
    expectEvents([close(closeBody(1000, reason))], SERVER, [ev.close(1000, reason)]);
  });

  test('rejects a close reason that is not valid UTF-8 with 1007', () => {
    for (const bad of ['ff', 'ed a0 80', 'c0 80', 'f4 90 80 80', '61 e2 82', '80']) {
      expectError([close(closeBody(1000, hex(bad)))], SERVER, 1007);
    }
  });

  test('ignores every byte after a close frame', () => {
    const results = expectEvents(
      [text('before'), close(closeBody(1001, 'done')), text('after'), serverFrame({ opcode: TEXT, payload: 'bad' }), hex('ff ff ff')],
      SERVER,
      [ev.text('before'), ev.close(1001, 'done')],
    );
    for (const r of results) {
      assert.equal(r.parser.stopped, true);
      r.parser.push(ping('more'));
      assert.equal(r.events.length, 2, r.mode);
    }
  });

  test('parses a close frame interleaved in a fragmented text message after valid fragments', () => {
    expectEvents([text(hex('e2 82'), false), close(closeBody(1000))], SERVER, [ev.close(1000, '')]);
  });
});

describe('FrameParser: robustness', () => {
  /** The parser's private buffers, read for the memory these tests are about. */
  interface Held {
    framePiece: Buffer | null;
    framePieces: Buffer[] | null;
    block: Buffer | null;
    messagePieces: Buffer[] | null;
  }

  for (const [role, options] of [
    ['server (masked, 256 KiB)', SERVER],
    ['client (unmasked, 256 KiB)', CLIENT],
    ['server, lent chunks', { ...SERVER, lentChunks: true }],
  ] as const) {
    test(`a frame over 64 KiB trickled a byte per read is held in blocks, not a Buffer per read: ${role}`, () => {
      const payload = patternBytes(256 * 1024);
      const wire = role.startsWith('client') ? serverFrame({ opcode: BINARY, payload }) : binary(payload);
      const rec = recorder();
      const parser = new FrameParser(options, rec.handler);
      const held = parser as unknown as Held;
      const cut = wire.length - 1000;
      // Reads of one byte, then of 3 KiB (still small), then the rest in one.
      // (Each read a buffer of its own, as a socket's are.)
      for (let at = 0; at < 200_000; at++) parser.push(Buffer.from(wire.subarray(at, at + 1)));
      for (let at = 200_000; at < cut; at += 3072) parser.push(Buffer.from(wire.subarray(at, Math.min(at + 3072, cut))));
      const pieces = held.framePieces?.length ?? 1;
      assert.ok(pieces <= 8, `${pieces} pieces held for ${cut} bytes received`);
      const blocks = (held.framePieces ?? []).concat(held.block ?? []);
      // Each of its own memory, the first byte too: not a view of the read (here of Node's buffer
      // pool, 8 KiB on Node 20 and 64 KiB on Node 26) that it came in.
      assert.ok(blocks.every((piece) => piece.length <= 64 * 1024 && piece.buffer.byteLength < 2 * piece.length), blocks.map((piece) => `${piece.length} of ${piece.buffer.byteLength}`).join(', '));
      parser.push(wire.subarray(cut));
      assert.deepEqual(rec.events, [ev.binary(payload)]);
      assert.equal(held.framePieces, null);
      assert.equal(held.block, null);
      // Large reads are still kept as they come (no copy): a frame of four 64 KiB reads is four pieces.
      const big = new FrameParser(options, recorder().handler);
      const bigHeld = big as unknown as Held;
      const parts = [wire.subarray(0, 70_000), wire.subarray(70_000, 140_000), wire.subarray(140_000, 210_000)];
      for (const part of parts) big.push(Buffer.from(part));
      assert.equal(bigHeld.framePieces?.length, 3);
      assert.equal(bigHeld.block, null);
    });
  }

  test('tiny fragments that came in large reads do not keep those reads: each is copied out (RFC 6455 §5.4 messages, bounded memory)', () => {
    const rec = recorder();
    const parser = new FrameParser(SERVER, rec.handler);
    const held = parser as unknown as Held;
    // Each read: one 1-byte continuation frame, then 400 unsolicited pongs (about 50 KB).
    const pongs = concat(...Array.from({ length: 400 }, () => pong(patternBytes(120))));
    parser.push(binary(Buffer.from([0]), false));
    for (let i = 1; i <= 50; i++) parser.push(concat(cont(Buffer.from([i]), false), pongs));
    const kept = held.messagePieces!;
    assert.equal(kept.length, 51);
    const pinned = kept.reduce((sum, piece) => sum + piece.buffer.byteLength, 0);
    assert.ok(pinned < 51 * 1024, `the fragments hold ${pinned} bytes of memory for 51 bytes`);
    parser.push(cont(Buffer.from([51]), true));
    const messages = rec.events.filter((event) => event.type === 'message');
    assert.deepEqual(messages, [ev.binary(Buffer.from(Array.from({ length: 52 }, (_, i) => i)))]);
    assert.equal(rec.events.filter((event) => event.type === 'pong').length, 50 * 400);
  });

  test('never throws on random garbage and reports at most one error', () => {
    const rng = mulberry32(20240601);
    const optionsList: FrameParserOptions[] = [
      { role: 'server', maxPayload: 1 << 20 },
      { role: 'client', maxPayload: 1 << 20 },
      { role: 'server', maxPayload: 16, allowRsv1: true },
      { role: 'client', maxPayload: 0, allowRsv1: true },
    ];
    const modes = [WHOLE, BYTE_BY_BYTE, randomSplits(5)];
    for (let iter = 0; iter < 4000; iter++) {
      const data = randomBytes(rng, randInt(rng, 0, 80));
      const options = optionsList[iter % optionsList.length]!;
      const results = feedEachWay(data, options, { modes, fragments: iter % 2 === 0 });
      // Every feeding of the same bytes reports the same events.
      const first = describeEvents(results[0]!.events);
      for (const r of results) assert.equal(describeEvents(r.events), first, `${data.toString('hex')} (${r.mode})`);
    }
  });

  test('never throws on valid frame streams with random bytes flipped', () => {
    const rng = mulberry32(777);
    const modes = [WHOLE, BYTE_BY_BYTE, randomSplits(9)];
    for (let iter = 0; iter < 1500; iter++) {
      const frames = [
        text('hello é€😀', false),
        ping('p'),
        cont(patternBytes(randInt(rng, 0, 200)).toString('latin1').replace(/[^\x20-\x7e]/g, 'x'), true),
        binary(patternBytes(randInt(rng, 0, 300))),
        close(closeBody(1000, 'bye')),
      ];
      const stream = concat(...frames);
      const flips = randInt(rng, 1, 4);
      for (let k = 0; k < flips; k++) stream[randInt(rng, 0, stream.length - 1)] ^= 1 << randInt(rng, 0, 7);
      const options: FrameParserOptions = { role: 'server', maxPayload: randInt(rng, 0, 1) ? 1 << 20 : 150, allowRsv1: iter % 3 === 0 };
      const results = feedEachWay(stream, options, { modes, fragments: iter % 2 === 1 });
      const first = describeEvents(results[0]!.events);
      for (const r of results) assert.equal(describeEvents(r.events), first, `${stream.toString('hex')} (${r.mode})`);
    }
  });

  test('a frame whose header is split at every possible position parses the same', () => {
    const frame = clientFrame({ opcode: BINARY, payload: patternBytes(70000), lengthForm: 64 });
    for (let cut = 1; cut < 20; cut++) {
      const rec = recorder();
      const parser = new FrameParser(SERVER, rec.handler);
      const copy = Buffer.from(frame);
      parser.push(copy.subarray(0, cut));
      parser.push(copy.subarray(cut));
      assert.deepStrictEqual(rec.events.length, 1);
      assert.deepStrictEqual(rec.events[0], ev.binary(patternBytes(70000)), `cut at ${cut}`);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Differential test against a naive reference parser written straight from RFC 6455.

/**
 * A whole-buffer reference parser: simple, slow, and independent of the incremental one. It
 * applies the same rules; a stream that ends mid-frame reports what the bytes so far allow (UTF-8
 * is checked with a streaming fatal TextDecoder, which fails at the first impossible byte).
 */
function referenceParse(stream: Buffer, options: FrameParserOptions, fragments: boolean): ParserEvent[] {
  const events: ParserEvent[] = [];
  const fail = (closeCode: number, code?: string): ParserEvent[] => {
    events.push(ev.error(closeCode, code));
    return events;
  };
  const maxPayload = options.maxPayload === Infinity ? null : BigInt(options.maxPayload);
  // A compressed message may be longer on the wire than maxPayload, up to deflate's worst case.
  const maxCompressed = options.maxPayload === Infinity ? null : BigInt(compressedLimit(options.maxPayload));
  let pos = 0;
  let messageOpcode = 0;
  let compressed = false;
  let parts: Buffer[] = [];
  let messageLength = 0n;
  let frames = 0;
  let decoder: InstanceType<typeof TextDecoder> | null = null;
  while (stream.length - pos >= 2) {
    const b0 = stream[pos]!;
    const b1 = stream[pos + 1]!;
    const fin = (b0 & 0x80) !== 0;
    const rsv1 = (b0 & 0x40) !== 0;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    const len7 = b1 & 0x7f;
    const extra = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
    const headerSize = 2 + extra + (masked ? 4 : 0);
    if (stream.length - pos < headerSize) break;
    if ((b0 & 0x30) !== 0) return fail(1002);
    if (![0, 1, 2, 8, 9, 10].includes(opcode)) return fail(1002);
    if (masked !== (options.role === 'server')) return fail(1002);
    const control = opcode >= 8;
    let length = BigInt(len7);
    if (len7 === 126) length = BigInt(stream.readUInt16BE(pos + 2));
    if (len7 === 127) length = stream.readBigUInt64BE(pos + 2);
    if (control) {
      if (!fin || len7 > 125 || rsv1) return fail(1002);
    } else {
      if (length >= 1n << 63n) return fail(1002);
      if (opcode === 0) {
        if (messageOpcode === 0 || rsv1) return fail(1002);
      } else {
        if (messageOpcode !== 0) return fail(1002);
        if (rsv1 && !options.allowRsv1) return fail(1002);
        messageOpcode = opcode;
        compressed = rsv1;
        parts = [];
        messageLength = 0n;
        frames = 0;
        decoder = opcode === 1 && !compressed ? new TextDecoder('utf-8', { fatal: true }) : null;
      }
      const limit = compressed ? maxCompressed : maxPayload;
      if (limit !== null && messageLength + length > limit) return fail(1009);
      messageLength += length;
    }
    const start = pos + headerSize;
    const available = Math.min(Number(length), stream.length - start);
    const payload = Buffer.from(stream.subarray(start, start + available));
    if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= stream[start - 4 + (i % 4)]!;
    if (!control && decoder) {
      try {
        decoder.decode(payload, { stream: true });
      } catch {
        return fail(1007);
      }
    }
    if (BigInt(available) < length) break;
    pos = start + available;
    if (opcode === 9) events.push({ type: 'ping', data: payload });
    else if (opcode === 10) events.push({ type: 'pong', data: payload });
    else if (opcode === 8) {
      if (payload.length === 1) return fail(1002);
      if (payload.length === 0) {
        events.push(ev.close(1005));
        return events;
      }
      const code = payload.readUInt16BE(0);
      const valid = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
      if (!valid) return fail(1002, 'SW_INVALID_CLOSE_CODE');
      let reason: string;
      try {
        reason = new TextDecoder('utf-8', { fatal: true }).decode(payload.subarray(2));
      } catch {
        return fail(1007);
      }
      events.push(ev.close(code, reason));
      return events;
    } else {
      const binary = messageOpcode === 2;
      if (fin && decoder) {
        try {
          decoder.decode();
        } catch {
          return fail(1007);
        }
      }
      if (fragments && !(fin && frames === 0)) events.push({ type: 'fragment', data: payload, binary, fin, compressed });
      frames++;
      parts.push(payload);
      if (fin) {
        events.push({ type: 'message', data: Buffer.concat(parts), binary, compressed });
        messageOpcode = 0;
      }
    }
  }
  return events;
}

/** A random, mostly well-formed frame stream with occasional violations of every kind. */
function randomStream(rng: () => number, role: 'server' | 'client'): Buffer {
  const frames: Buffer[] = [];
  const count = randInt(rng, 1, 8);
  const texts = ['', 'a', 'hello', 'é', '€uro', '😀', 'mixed é€😀 text'];
  const badUtf8 = ['ff', 'c0 80', 'ed a0 80', 'f4 90 80 80', 'e2 82', '80', 'f0 9f'];
  let inMessage = false;
  for (let k = 0; k < count; k++) {
    const r = rng();
    let opcode: number;
    if (r < 0.05) opcode = [3, 4, 5, 6, 7, 11, 12, 13, 14, 15][randInt(rng, 0, 9)]!;
    else if (r < 0.2) opcode = [PING, PONG][randInt(rng, 0, 1)]!;
    else if (r < 0.27) opcode = CLOSE;
    else if (inMessage && rng() < 0.8) opcode = CONT;
    else if (rng() < 0.05) opcode = CONT;
    else opcode = rng() < 0.5 ? TEXT : BINARY;
    let payload: Buffer;
    if (opcode === CLOSE) {
      const c = rng();
      if (c < 0.15) payload = Buffer.alloc(0);
      else if (c < 0.2) payload = Buffer.from([0x03]);
      else {
        const codes = [0, 999, 1000, 1001, 1004, 1005, 1006, 1007, 1011, 1014, 1015, 1016, 2999, 3000, 4999, 5000, 65535];
        const reason = rng() < 0.15 ? hex(badUtf8[randInt(rng, 0, badUtf8.length - 1)]!) : Buffer.from(texts[randInt(rng, 0, texts.length - 1)]!);
        payload = closeBody(codes[randInt(rng, 0, codes.length - 1)]!, reason);
      }
    } else if (rng() < 0.6) {
      const pieces: Buffer[] = [];
      for (let i = randInt(rng, 0, 4); i > 0; i--) {
        pieces.push(rng() < 0.1 ? hex(badUtf8[randInt(rng, 0, badUtf8.length - 1)]!) : Buffer.from(texts[randInt(rng, 0, texts.length - 1)]!));
      }
      payload = Buffer.concat(pieces);
      // Sometimes cut inside a code point, to be continued in the next fragment.
      if (payload.length > 1 && rng() < 0.3) payload = payload.subarray(0, randInt(rng, 1, payload.length - 1));
    } else {
      payload = randomBytes(rng, rng() < 0.05 ? randInt(rng, 126, 300) : randInt(rng, 0, 40));
    }
    const fin = opcode >= 8 ? rng() > 0.05 : rng() < 0.6;
    const rsv = rng();
    const mask = rng() < 0.04 ? role === 'client' : role === 'server';
    const frame = rawFrame({
      opcode,
      payload,
      fin,
      rsv1: rsv < 0.06,
      rsv2: rsv > 0.98,
      rsv3: rsv > 0.97 && rsv <= 0.98,
      mask: mask ? randomBytes(rng, 4) : false,
      ...(rng() < 0.03 ? { lengthForm: 64 as const, length: 0x8000000000000000n + BigInt(payload.length) } : {}),
    });
    frames.push(frame);
    if (opcode === TEXT || opcode === BINARY) inMessage = !fin;
    else if (opcode === CONT && fin) inMessage = false;
  }
  let stream = Buffer.concat(frames);
  if (rng() < 0.2) stream = stream.subarray(0, randInt(rng, 0, stream.length));
  return stream;
}

describe('FrameParser: differential test against a reference parser', () => {
  test('reports the same events as a naive RFC 6455 parser on random frame streams, fed every way', () => {
    const rng = mulberry32(0xc0ffee);
    const modes = [WHOLE, BYTE_BY_BYTE, randomSplits(11), randomSplits(12)];
    const tally = new Map<string, number>();
    for (let iter = 0; iter < 3000; iter++) {
      const role = iter % 2 === 0 ? 'server' : 'client';
      const options: FrameParserOptions = {
        role,
        maxPayload: rng() < 0.2 ? randInt(rng, 0, 60) : 1 << 20,
        allowRsv1: rng() < 0.5,
      };
      const fragments = rng() < 0.5;
      const stream = randomStream(rng, role);
      const expected = referenceParse(stream, options, fragments);
      const last = expected.at(-1);
      const key = last === undefined ? 'none' : last.type === 'error' ? `error ${last.closeCode}` : last.type;
      tally.set(key, (tally.get(key) ?? 0) + 1);
      const results = feedEachWay(stream, options, { modes, fragments });
      for (const r of results) {
        assert.equal(
          describeEvents(r.events),
          describeEvents(expected),
          `${r.mode}, ${JSON.stringify(options)}, fragments ${fragments}, stream ${stream.toString('hex')}`,
        );
      }
    }
    // Every outcome is exercised.
    for (const key of ['message', 'close', 'error 1002', 'error 1007', 'error 1009']) {
      assert.ok((tally.get(key) ?? 0) > 20, `${key}: ${JSON.stringify([...tally])}`);
    }
  });
});

describe('FrameParser: text as strings (onText)', () => {
  /** A handler with onText that records which callback each message took. */
  function paths() {
    const calls: Array<{ via: 'onText' | 'onMessage'; text: string; bytes: number }> = [];
    const errors: number[] = [];
    const handler = {
      onMessage(data: Buffer, binary: boolean) {
        if (!binary) calls.push({ via: 'onMessage' as const, text: data.toString(), bytes: data.length });
      },
      onText(text: string, bytes: number) {
        calls.push({ via: 'onText' as const, text, bytes });
      },
      onPing() {},
      onPong() {},
      onClose() {},
      onError(error: { closeCode: number }) {
        errors.push(error.closeCode);
      },
    };
    return { handler, calls, errors };
  }

  test('a whole single-frame text message in one chunk goes to onText with its byte length', () => {
    const { handler, calls } = paths();
    const parser = new FrameParser(SERVER, handler);
    parser.push(concat(text('héllo'), text('€'), text('')));
    assert.deepStrictEqual(calls, [
      { via: 'onText', text: 'héllo', bytes: 6 },
      { via: 'onText', text: '€', bytes: 3 },
      { via: 'onMessage', text: '', bytes: 0 },
    ]);
  });

  test('fragmented text, text split across chunks, and the text: false option go to onMessage', () => {
    const { handler, calls } = paths();
    const parser = new FrameParser(SERVER, handler);
    parser.push(concat(text('frag', false), cont('ment', true)));
    const split = text('split here');
    parser.push(split.subarray(0, 9));
    parser.push(split.subarray(9));
    const off = paths();
    new FrameParser({ ...SERVER, text: false }, off.handler).push(text('plain'));
    assert.deepStrictEqual(calls.map((c) => [c.via, c.text]), [['onMessage', 'fragment'], ['onMessage', 'split here']]);
    assert.deepStrictEqual(off.calls.map((c) => [c.via, c.text]), [['onMessage', 'plain']]);
  });

  test('invalid UTF-8 in a whole frame fails with 1007; a real U+FFFD is delivered', () => {
    const bad = paths();
    const parser = new FrameParser(SERVER, bad.handler);
    parser.push(concat(text('ok'), clientFrame({ opcode: TEXT, payload: hex('61 ed a0 80') }), text('never')));
    assert.deepStrictEqual(bad.calls.map((c) => c.text), ['ok']);
    assert.deepStrictEqual(bad.errors, [1007]);
    const good = paths();
    new FrameParser(SERVER, good.handler).push(text('a\uFFFDb'));
    assert.deepStrictEqual(good.calls, [{ via: 'onText', text: 'a\uFFFDb', bytes: 5 }]);
  });

  test('the client role decodes unmasked text the same way', () => {
    const { handler, calls } = paths();
    new FrameParser(CLIENT, handler).push(serverFrame({ opcode: TEXT, payload: 'from server 😀' }));
    assert.deepStrictEqual(calls, [{ via: 'onText', text: 'from server 😀', bytes: 16 }]);
  });
});

describe('FrameParser: options where the types do not reach', () => {
  const handler = recorder().handler;
  test('a role other than server or client, a missing or NaN maxPayload, and a maxFragments under 1 or NaN are refused when the parser is made', () => {
    assert.throws(() => new FrameParser({ role: 'srv' as 'server', maxPayload: 10 }, handler), TypeError);
    assert.throws(() => new FrameParser({ role: 'server' } as FrameParserOptions, handler), TypeError);
    assert.throws(() => new FrameParser({ role: 'server', maxPayload: NaN }, handler), TypeError);
    assert.throws(() => new FrameParser({ role: 'server', maxPayload: -1 }, handler), RangeError);
    assert.throws(() => new FrameParser({ role: 'server', maxPayload: 10, maxFragments: 0 }, handler), RangeError);
    assert.throws(() => new FrameParser({ role: 'server', maxPayload: 10, maxFragments: NaN }, handler), TypeError);
    new FrameParser({ role: 'client', maxPayload: Infinity, maxFragments: Infinity }, handler);
  });
});
