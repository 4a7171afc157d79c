import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { FrameParser, type FrameParserOptions } from '../../src/protocol/frame-parser.js';
import { BYTE_BY_BYTE, checkInvariants, readsOf, describe as describeEvents, ev, FEED_MODES, recorder, WHOLE, type FeedMode, type ParserEvent } from '../support/chunking.js';
import { Opcode } from '../../src/protocol/opcodes.js';
import { simdMaskAvailable, simdReadBuffer } from '../../src/protocol/mask-simd.js';
import { clientFrame, closeBody, patternBytes, serverFrame } from '../support/frames.js';

const MiB = 1024 * 1024;
const { Text: TEXT, Binary: BINARY, Continuation: CONT, Close: CLOSE, Ping: PING, Pong: PONG } = Opcode;

/**
 * Feeds every piece through one buffer used again, as a socket reading into a shared buffer does:
 * each piece is copied into it, pushed, then the buffer is written over. Returns what was reported.
 */
function feedLent(stream: Buffer, options: FrameParserOptions, mode: FeedMode, text: boolean, readBuffer?: Buffer): ParserEvent[] {
  const rec = recorder(true, text);
  const parser = new FrameParser(options, rec.handler);
  const pieces = mode.split(stream);
  const lent = readBuffer ?? Buffer.alloc(pieces.reduce((most, piece) => Math.max(most, piece.length), 0));
  for (const piece of pieces) {
    piece.copy(lent);
    parser.push(lent.subarray(0, piece.length));
    lent.fill(0xee);
  }
  checkInvariants(rec.events, mode.name);
  return rec.events;
}

/** Frames of every kind a chunk can carry, with the events they must give (fragments reported). */
function traffic(frame: (f: { opcode: number; payload: string | Uint8Array; fin?: boolean }) => Buffer): { stream: Buffer; expected: ParserEvent[] } {
  const small = patternBytes(300, 1);
  const assembled = patternBytes(40 * 1024, 2); // spans chunks, up to the parser's assembly limit
  const large = patternBytes(100 * 1024, 3); // spans chunks, past it
  const frames = [
    frame({ opcode: BINARY, payload: small }),
    frame({ opcode: TEXT, payload: 'whole text, é and 😀' }),
    frame({ opcode: BINARY, payload: assembled }),
    frame({ opcode: PING, payload: 'ping body' }),
    frame({ opcode: BINARY, payload: large }),
    frame({ opcode: TEXT, payload: 'first half, ', fin: false }),
    frame({ opcode: PONG, payload: 'pong body' }),
    frame({ opcode: CONT, payload: 'second half €', fin: true }),
    frame({ opcode: BINARY, payload: small.subarray(0, 100), fin: false }),
    frame({ opcode: CONT, payload: small.subarray(100), fin: true }),
    frame({ opcode: CLOSE, payload: closeBody(1000, 'bye, and thanks') }),
  ];
  const expected: ParserEvent[] = [
    ev.binary(small),
    ev.text('whole text, é and 😀'),
    ev.binary(assembled),
    { type: 'ping', data: Buffer.from('ping body') },
    ev.binary(large),
    ev.fragment('first half, ', false, false),
    { type: 'pong', data: Buffer.from('pong body') },
    ev.fragment('second half €', false, true),
    ev.text('first half, second half €'),
    ev.fragment(small.subarray(0, 100), true, false),
    ev.fragment(small.subarray(100), true, true),
    ev.binary(small),
    { type: 'close', code: 1000, reason: 'bye, and thanks' },
  ];
  return { stream: Buffer.concat(frames), expected };
}

const ROLES: { name: string; options: FrameParserOptions; frame: Parameters<typeof traffic>[0] }[] = [
  { name: 'client (unmasked frames)', options: { role: 'client', maxPayload: 16 * MiB, lentChunks: true }, frame: serverFrame },
  { name: 'server (masked frames)', options: { role: 'server', maxPayload: 16 * MiB, lentChunks: true }, frame: clientFrame },
];

describe('FrameParser: lent chunks (a read buffer used again)', () => {
  for (const role of ROLES) {
    test(`${role.name}: every payload reported survives the chunk being written over, however it is split`, () => {
      const { stream, expected } = traffic(role.frame);
      for (const mode of FEED_MODES) {
        for (const text of [false, true]) {
          const events = feedLent(stream, role.options, mode, text);
          assert.deepStrictEqual(events, expected, `${mode.name}${text ? ', text as strings' : ''}: ${describeEvents(events)}`);
        }
      }
    });
  }

  test('read into the SIMD module\'s read buffer, where frames are unmasked without a copy, in reads of up to 64 KiB', { skip: !simdMaskAvailable }, () => {
    const readBuffer = simdReadBuffer()!;
    const reads = readsOf(65536);
    for (const role of ROLES) {
      const { stream, expected } = traffic(role.frame);
      for (const mode of [reads, BYTE_BY_BYTE, ...FEED_MODES.filter((m) => m !== WHOLE && m !== BYTE_BY_BYTE)]) {
        const events = feedLent(stream, role.options, mode, false, readBuffer);
        assert.deepStrictEqual(events, expected, `${role.name}, ${mode.name}: ${describeEvents(events)}`);
      }
    }
  });

  test('many whole frames in one read, binary and text, small and large, with control frames between: each is unmasked once', () => {
    const payloads: Buffer[] = [];
    const frames: Buffer[] = [];
    const expected: ParserEvent[] = [];
    for (let i = 0; i < 60; i++) {
      const length = [0, 1, 3, 31, 32, 33, 125, 126, 1024, 1000, 5000][i % 11]!;
      const payload = patternBytes(length, i);
      payloads.push(payload);
      if (i % 7 === 3) {
        frames.push(clientFrame({ opcode: PING, payload: payload.subarray(0, 125) }));
        expected.push(ev.ping(payload.subarray(0, 125)));
      } else if (i % 5 === 2) {
        const text = 'é'.repeat(length >> 1) + 'x'.repeat(length & 1);
        frames.push(clientFrame({ opcode: TEXT, payload: text }));
        expected.push(ev.text(text));
      } else {
        frames.push(clientFrame({ opcode: BINARY, payload }));
        expected.push(ev.binary(payload));
      }
    }
    const stream = Buffer.concat(frames);
    const reads = readsOf(16384);
    const buffers: (Buffer | undefined)[] = simdMaskAvailable ? [undefined, simdReadBuffer()!] : [undefined];
    for (const readBuffer of buffers) {
      for (const mode of [reads, WHOLE, ...FEED_MODES]) {
        if (readBuffer !== undefined && mode === WHOLE) continue;
        for (const text of [false, true]) {
          const events = feedLent(stream, ROLES[1]!.options, mode, text, readBuffer);
          assert.deepStrictEqual(events, expected, `${readBuffer ? 'SIMD read buffer' : 'plain buffer'}, ${mode.name}${text ? ', text as strings' : ''}`);
        }
      }
    }
  });

  test('without the option, payloads are views of the chunk, so the same feeding corrupts them (the check above can fail)', () => {
    const { stream, expected } = traffic(serverFrame);
    for (const mode of [WHOLE, BYTE_BY_BYTE]) {
      const events = feedLent(stream, { role: 'client', maxPayload: 16 * MiB }, mode, false);
      assert.notDeepStrictEqual(events, expected, mode.name);
    }
  });
});

describe('FrameParser: lent chunks, copied once', () => {
  for (const role of ROLES) {
    test(`${role.name}: the payloads kept from one chunk are views of one copy of it, made at the first of them; a later chunk is copied in its turn`, () => {
      const messages: Buffer[] = [];
      const parser = new FrameParser(role.options, {
        onMessage: (data) => void messages.push(data),
        onText: () => {},
        onPing: (data) => void messages.push(data),
        onPong: () => {},
        onClose: () => {},
        onError: (error) => assert.fail(error.message),
      });
      const payloads = [patternBytes(10, 1), patternBytes(200, 2), patternBytes(5, 3)];
      const chunk = Buffer.concat([
        role.frame({ opcode: TEXT, payload: 'decoded from the chunk, no copy needed' }),
        role.frame({ opcode: BINARY, payload: payloads[0]! }),
        role.frame({ opcode: TEXT, payload: 'between' }),
        role.frame({ opcode: BINARY, payload: payloads[1]! }),
        role.frame({ opcode: PING, payload: payloads[2]! }),
      ]);
      // (Not from the pool that small copies come from: the copy must not share its memory.)
      const lent = Buffer.allocUnsafeSlow(chunk.length);
      chunk.copy(lent);
      parser.push(lent);
      lent.fill(0xee);
      assert.equal(messages.length, 3);
      for (let i = 0; i < 3; i++) assert.ok(messages[i]!.equals(payloads[i]!), `payload ${i}`);
      assert.notEqual(messages[0]!.buffer, lent.buffer);
      assert.equal(messages[1]!.buffer, messages[0]!.buffer);
      assert.equal(messages[2]!.buffer, messages[0]!.buffer);
      // The copy starts at the first payload kept: the text before it was not copied.
      assert.equal(messages[1]!.byteOffset - messages[0]!.byteOffset, payloads[0]!.length + role.frame({ opcode: TEXT, payload: 'between' }).length + (role.options.role === 'server' ? 8 : 4));
      const again = Buffer.from(role.frame({ opcode: BINARY, payload: payloads[1]! }));
      parser.push(again);
      again.fill(0xee);
      assert.ok(messages[3]!.equals(payloads[1]!));
    });
  }
});
