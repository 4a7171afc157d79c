/**
 * Property-based tests of the frame layer (fast-check): what the serializer writes, the parser
 * reads back identically however the bytes are chunked; and no byte stream, however broken, makes
 * the parser or the session throw, loop, or report anything after their one terminal event.
 */
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { type ProtocolError } from '../../../src/errors.js';
import { FrameParser, type FrameParserHandler } from '../../../src/protocol/frame-parser.js';
import { encodeFrame, encodeMessage } from '../../../src/protocol/frame-serializer.js';
import { type MaskKeySource } from '../../../src/protocol/mask.js';
import { Opcode } from '../../../src/protocol/opcodes.js';
import { ProtocolSession } from '../../../src/protocol/session.js';

/** One event the parser reports, with its payload copied out. */
export type WireEvent =
  | { kind: 'text' | 'binary'; data: string }
  | { kind: 'ping' | 'pong'; data: string }
  | { kind: 'close'; code: number; reason: string }
  | { kind: 'error'; closeCode: number };

/** A control frame to interleave between the fragments of a message (RFC 6455 §5.4). */
interface ControlSpec {
  kind: 'ping' | 'pong';
  payload: Uint8Array;
}

interface MessageSpec {
  binary: boolean;
  payload: Uint8Array;
  fragmentSize: number;
  /** Control frames sent after the first fragment (or before the message, unfragmented). */
  interleaved: ControlSpec[];
}

/** Fixed mask keys drawn by fast-check, so a failing case replays exactly. */
class SeqMaskKeys implements MaskKeySource {
  private next = 0;
  constructor(private readonly keys: readonly number[]) {}
  fill(target: Uint8Array, offset: number): void {
    const key = this.keys[this.next++ % this.keys.length]!;
    target[offset] = key >>> 24;
    target[offset + 1] = (key >>> 16) & 0xff;
    target[offset + 2] = (key >>> 8) & 0xff;
    target[offset + 3] = key & 0xff;
  }
}

const controlArb: fc.Arbitrary<ControlSpec> = fc.record({
  kind: fc.constantFrom('ping' as const, 'pong' as const),
  payload: fc.uint8Array({ maxLength: 125 }),
});

const textPayload = fc.string({ unit: 'grapheme', maxLength: 300 }).map((text) => new Uint8Array(Buffer.from(text, 'utf8')));

const messageArb: fc.Arbitrary<MessageSpec> = fc.record({
  binary: fc.boolean(),
  payload: fc.uint8Array({ maxLength: 400 }),
  text: textPayload,
  fragmentSize: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.constant(100_000)),
  interleaved: fc.array(controlArb, { maxLength: 3 }),
}).map(({ binary, payload, text, fragmentSize, interleaved }) => ({ binary, payload: binary ? payload : text, fragmentSize, interleaved }));

const closeArb = fc.option(
  fc.record({
    code: fc.constantFrom(1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4999),
    reason: fc.string({ maxLength: 30 }),
  }),
  { nil: undefined },
);

/** Chunk boundaries: sizes cycled over the stream (1 byte, small, or large). */
const chunkSizesArb = fc.array(fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 5000 })), {
  minLength: 1,
  maxLength: 20,
});

/** Splits a fresh copy of `stream` into chunks of the given sizes, cycling through them. */
export function chunk(stream: Uint8Array, sizes: readonly number[]): Buffer[] {
  const copy = Buffer.from(stream);
  const out: Buffer[] = [];
  let at = 0;
  for (let i = 0; at < copy.length; i++) {
    const size = sizes[i % sizes.length]!;
    out.push(copy.subarray(at, at + size));
    at += size;
  }
  return out;
}

/** A handler recording what the parser reports, payloads copied. */
export function recordingHandler(events: WireEvent[]): FrameParserHandler {
  return {
    onMessage: (data, binary) => void events.push({ kind: binary ? 'binary' : 'text', data: data.toString('hex') }),
    onPing: (data) => void events.push({ kind: 'ping', data: data.toString('hex') }),
    onPong: (data) => void events.push({ kind: 'pong', data: data.toString('hex') }),
    onClose: (code, reason) => void events.push({ kind: 'close', code, reason }),
    onError: (error: ProtocolError) => void events.push({ kind: 'error', closeCode: error.closeCode }),
  };
}

/** Parses a stream pushed in the given chunks; returns the events. */
export function parseChunks(chunks: readonly Buffer[], role: 'server' | 'client', maxPayload: number): WireEvent[] {
  const events: WireEvent[] = [];
  const parser = new FrameParser({ role, maxPayload }, recordingHandler(events));
  for (const piece of chunks) parser.push(piece);
  return events;
}

function serialize(messages: readonly MessageSpec[], close: { code: number; reason: string } | undefined, mask: MaskKeySource | false): { stream: Buffer; expected: WireEvent[] } {
  const frames: Buffer[] = [];
  const expected: WireEvent[] = [];
  const control = (spec: ControlSpec): void => {
    frames.push(encodeFrame(spec.kind === 'ping' ? Opcode.Ping : Opcode.Pong, spec.payload, { mask }));
    expected.push({ kind: spec.kind, data: Buffer.from(spec.payload).toString('hex') });
  };
  for (const message of messages) {
    const parts = encodeMessage(message.binary ? Opcode.Binary : Opcode.Text, message.payload, { fragmentSize: message.fragmentSize, mask });
    if (parts.length === 1) message.interleaved.forEach(control);
    parts.forEach((part, index) => {
      frames.push(part);
      if (index === 0 && parts.length > 1) message.interleaved.forEach(control);
    });
    expected.push({ kind: message.binary ? 'binary' : 'text', data: Buffer.from(message.payload).toString('hex') });
  }
  if (close) {
    const body = Buffer.alloc(2 + Buffer.byteLength(close.reason));
    body.writeUInt16BE(close.code, 0);
    body.write(close.reason, 2, 'utf8');
    if (body.length <= 125) {
      frames.push(encodeFrame(Opcode.Close, body, { mask }));
      expected.push({ kind: 'close', code: close.code, reason: close.reason });
    }
  }
  return { stream: Buffer.concat(frames), expected };
}

/** Valid message sequences, serialized and re-parsed under random chunking, come back identical. */
export function roundTripProperty(): fc.IPropertyWithHooks<[boolean, MessageSpec[], { code: number; reason: string } | undefined, number[], number[]]> {
  return fc.property(
    fc.boolean(),
    fc.array(messageArb, { maxLength: 8 }),
    closeArb,
    fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 1, maxLength: 4 }),
    chunkSizesArb,
    (serverRole, messages, close, keys, sizes) => {
      // A server parses masked client frames; a client parses unmasked server frames.
      const { stream, expected } = serialize(messages, close, serverRole ? new SeqMaskKeys(keys) : false);
      const events = parseChunks(chunk(stream, sizes), serverRole ? 'server' : 'client', 1 << 20);
      assert.deepEqual(events, expected);
    },
  );
}

/** A broken stream: a valid one mutated, or bytes drawn at random, or a frame header with a huge length. */
export const hostileStreamArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 3, arbitrary: mutatedStreamArb() },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 600 }) },
  { weight: 1, arbitrary: hugeLengthArb() },
);

function mutatedStreamArb(): fc.Arbitrary<Uint8Array> {
  const mutation = fc.oneof(
    fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ op: fc.constant('xor' as const), at: fc.nat(), value: fc.integer({ min: 1, max: 255 }) }),
    fc.record({ op: fc.constant('insert' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ op: fc.constant('delete' as const), at: fc.nat(), value: fc.constant(0) }),
    fc.record({ op: fc.constant('truncate' as const), at: fc.nat(), value: fc.constant(0) }),
  );
  return fc
    .tuple(fc.array(messageArb, { minLength: 1, maxLength: 4 }), closeArb, fc.array(mutation, { minLength: 1, maxLength: 6 }), fc.integer({ min: 0, max: 0xffffffff }))
    .map(([messages, close, mutations, key]) => {
      const bytes = [...serialize(messages, close, new SeqMaskKeys([key])).stream];
      for (const { op, at, value } of mutations) {
        if (bytes.length === 0) break;
        const i = at % bytes.length;
        if (op === 'set') bytes[i] = value;
        else if (op === 'xor') bytes[i] = bytes[i]! ^ value;
        else if (op === 'insert') bytes.splice(i, 0, value);
        else if (op === 'delete') bytes.splice(i, 1);
        else bytes.length = i;
      }
      return Uint8Array.from(bytes);
    });
}

function hugeLengthArb(): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.integer({ min: 0, max: 255 }), fc.boolean(), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.uint8Array({ maxLength: 64 }))
    .map(([b0, masked, length, tail]) => {
      const header = Buffer.alloc(10);
      header[0] = b0;
      header[1] = (masked ? 0x80 : 0) | 127;
      header.writeBigUInt64BE(length, 2);
      return Uint8Array.from([...header, ...(masked ? [1, 2, 3, 4] : []), ...tail]);
    });
}

/** Close codes a parser may fail a connection with. */
const FAILURE_CODES = new Set([1002, 1007, 1009]);

/**
 * Hostile bytes, pushed in random chunks: the parser never throws, ends in at most one terminal
 * event (a close frame or an error with 1002/1007/1009) and reports nothing after it; and it
 * reports the same events however the stream is chunked.
 */
export function hostileParserProperty(): fc.IPropertyWithHooks<[Uint8Array, boolean, number[], number]> {
  return fc.property(hostileStreamArb, fc.boolean(), chunkSizesArb, fc.constantFrom(0, 10, 125, 1000, 1 << 20), (stream, serverRole, sizes, maxPayload) => {
    const role = serverRole ? 'server' : 'client';
    const whole = parseChunks([Buffer.from(stream)], role, maxPayload);
    const chunked = parseChunks(chunk(stream, sizes), role, maxPayload);
    assert.deepEqual(chunked, whole);
    const terminal = chunked.findIndex((event) => event.kind === 'close' || event.kind === 'error');
    if (terminal !== -1) assert.equal(terminal, chunked.length - 1, 'nothing after a close frame or an error');
    const last = chunked[chunked.length - 1];
    if (last?.kind === 'error') assert.ok(FAILURE_CODES.has(last.closeCode), `unexpected close code ${last.closeCode}`);
  });
}

/**
 * Hostile bytes to a whole session: it never throws, writes at most one close frame, and when it
 * failed the connection that frame carries the failure's code.
 */
export function hostileSessionProperty(): fc.IPropertyWithHooks<[Uint8Array, number[]]> {
  return fc.property(hostileStreamArb, chunkSizesArb, (stream, sizes) => {
    const written: Buffer[] = [];
    let errors = 0;
    let peerCloses = 0;
    const session = new ProtocolSession(
      { role: 'server', maxPayload: 1000 },
      {
        onMessage() {},
        onPing() {},
        onPong() {},
        onPeerClose: () => void peerCloses++,
        onProtocolError: () => void errors++,
        write: (bytes) => void written.push(Buffer.from(bytes)),
      },
    );
    for (const piece of chunk(stream, sizes)) session.receive(piece);
    assert.ok(errors + peerCloses <= 1, 'one terminal event at most');
    const closes = parseChunks([Buffer.concat(written)], 'client', 1 << 20).filter((event) => event.kind === 'close');
    assert.ok(closes.length <= 1, 'one close frame at most');
    for (const close of closes) assert.doesNotMatch((close as { reason: string }).reason, /\.js|\bat\b.*:\d+|node:/, 'nothing internal in a close reason');
    if (session.failure) {
      assert.equal(closes.length, 1);
      assert.equal((closes[0] as { code: number }).code, session.failure.closeCode);
    }
  });
}
