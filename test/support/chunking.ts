/**
 * Feeds a byte stream to a FrameParser three ways — whole, one byte at a time, and in random
 * splits (seeded, several seeds) — and records what the parser reported, in order.
 *
 * The parser unmasks payloads in place in the chunks it is given (and keeps views of them), so
 * every feeding gets its own fresh copy of the input.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { type ProtocolError } from '../../src/errors.js';
import { FrameParser, type FrameParserHandler, type FrameParserOptions } from '../../src/protocol/frame-parser.js';

// ---------------------------------------------------------------------------------------------
// Seeded PRNG

/** mulberry32: a tiny seeded PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [lo, hi] (inclusive). */
export function randInt(rng: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

export function randomBytes(rng: () => number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(rng() * 256);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Recording handler

export type ParserEvent =
  | { type: 'message'; data: Buffer; binary: boolean; compressed: boolean }
  | { type: 'fragment'; data: Buffer; binary: boolean; fin: boolean; compressed: boolean }
  | { type: 'ping'; data: Buffer }
  | { type: 'pong'; data: Buffer }
  | { type: 'close'; code: number; reason: string }
  | { type: 'error'; closeCode: number; code: string };

export interface Recording {
  handler: FrameParserHandler;
  events: ParserEvent[];
  /** The ProtocolError objects reported, in order. */
  errors: ProtocolError[];
}

/** A FrameParserHandler that records every event; with `fragments`, it also has onFragment. */
/**
 * A parser handler that records what it is told. With `text`, it also takes whole text messages
 * as strings (`onText`) and records them exactly like `onMessage` would, after checking the byte
 * length it was given: the same expectations hold with and without the parser's text path.
 */
export function recorder(fragments = false, text = false): Recording {
  const events: ParserEvent[] = [];
  const errors: ProtocolError[] = [];
  const handler: FrameParserHandler = {
    onMessage(data, binary, compressed) {
      events.push({ type: 'message', data, binary, compressed });
    },
    onPing(data) {
      events.push({ type: 'ping', data });
    },
    onPong(data) {
      events.push({ type: 'pong', data });
    },
    onClose(code, reason) {
      events.push({ type: 'close', code, reason });
    },
    onError(error) {
      errors.push(error);
      events.push({ type: 'error', closeCode: error.closeCode, code: error.code });
    },
  };
  if (text) {
    handler.onText = (decoded, byteLength) => {
      const data = Buffer.from(decoded, 'utf8');
      assert.equal(byteLength, data.length, 'onText byteLength');
      events.push({ type: 'message', data, binary: false, compressed: false });
    };
  }
  if (fragments) {
    handler.onFragment = (data, binary, fin, compressed) => {
      events.push({ type: 'fragment', data, binary, fin, compressed });
    };
  }
  return { handler, events, errors };
}

// Shorthands for expected events.
export const ev = {
  text: (text: string): ParserEvent => ({ type: 'message', data: Buffer.from(text, 'utf8'), binary: false, compressed: false }),
  message: (data: Uint8Array, binary: boolean, compressed = false): ParserEvent => ({
    type: 'message',
    data: Buffer.from(data),
    binary,
    compressed,
  }),
  binary: (data: Uint8Array): ParserEvent => ({ type: 'message', data: Buffer.from(data), binary: true, compressed: false }),
  fragment: (data: Uint8Array | string, binary: boolean, fin: boolean, compressed = false): ParserEvent => ({
    type: 'fragment',
    data: toBuffer(data),
    binary,
    fin,
    compressed,
  }),
  ping: (data: Uint8Array | string = ''): ParserEvent => ({ type: 'ping', data: toBuffer(data) }),
  pong: (data: Uint8Array | string = ''): ParserEvent => ({ type: 'pong', data: toBuffer(data) }),
  close: (code: number, reason = ''): ParserEvent => ({ type: 'close', code, reason }),
  error: (closeCode: number, code?: string): ParserEvent =>
    ({ type: 'error', closeCode, code: code ?? codeForClose(closeCode) }),
};

function toBuffer(data: Uint8Array | string): Buffer {
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
}

function codeForClose(closeCode: number): string {
  if (closeCode === 1007) return 'SW_INVALID_UTF8';
  if (closeCode === 1009) return 'SW_MESSAGE_TOO_BIG';
  return 'SW_PROTOCOL_ERROR';
}

// ---------------------------------------------------------------------------------------------
// Feeding

export interface FeedMode {
  name: string;
  /** Split a fresh copy of `input` into the chunks to push, in order. */
  split(input: Buffer): Buffer[];
}

export const RANDOM_SEEDS: readonly number[] = [1, 2, 7, 42, 1337];

/** Whole: one push of the full stream. */
export const WHOLE: FeedMode = { name: 'whole', split: (input) => [Buffer.from(input)] };

/** One byte at a time (views of one fresh copy: each byte is pushed exactly once). */
export const BYTE_BY_BYTE: FeedMode = {
  name: 'byte by byte',
  split(input) {
    const copy = Buffer.from(input);
    const out: Buffer[] = new Array(copy.length);
    for (let i = 0; i < copy.length; i++) out[i] = copy.subarray(i, i + 1);
    return out;
  },
};

/**
 * Random splits with a seeded PRNG: half of the pieces are 1–8 bytes (to cut through headers and
 * code points), the rest are drawn from a wide distribution up to 64 KiB.
 */
export function randomSplits(seed: number): FeedMode {
  return {
    name: `random splits (seed ${seed})`,
    split(input) {
      const rng = mulberry32(seed);
      const copy = Buffer.from(input);
      const out: Buffer[] = [];
      let pos = 0;
      while (pos < copy.length) {
        const size =
          rng() < 0.5 ? randInt(rng, 1, 8) : 1 + Math.floor(rng() ** 3 * Math.min(copy.length, 1 << 16));
        out.push(copy.subarray(pos, Math.min(copy.length, pos + size)));
        pos += size;
      }
      return out;
    },
  };
}

/** Reads of `size` bytes each (the last one shorter), as a socket reading into a buffer of that size gets them. */
export function readsOf(size: number): FeedMode {
  return {
    name: `reads of ${size} B`,
    split: (input) => Array.from({ length: Math.ceil(input.length / size) }, (_, i) => Buffer.from(input.subarray(i * size, (i + 1) * size))),
  };
}

/** All modes: whole, byte by byte, and random splits for each seed in {@link RANDOM_SEEDS}. */
export const FEED_MODES: readonly FeedMode[] = [WHOLE, BYTE_BY_BYTE, ...RANDOM_SEEDS.map(randomSplits)];

export interface FeedOptions {
  /** Give the handler an onFragment method. */
  fragments?: boolean;
  /** Modes to use (default: all of {@link FEED_MODES}). */
  modes?: readonly FeedMode[];
}

export interface FeedResult {
  mode: string;
  events: ParserEvent[];
  errors: ProtocolError[];
  parser: FrameParser;
  /** The chunks that were pushed (after the parser unmasked them in place). */
  chunks: Buffer[];
}

/**
 * Feeds `input` to a fresh parser once per mode and checks the invariants every feeding must keep:
 * push() never throws, at most one error is reported, and nothing is reported after an error or a
 * close frame.
 */
export function feedEachWay(
  input: Uint8Array | readonly Uint8Array[],
  options: FrameParserOptions,
  feed: FeedOptions = {},
): FeedResult[] {
  const stream = input instanceof Uint8Array ? Buffer.from(input) : Buffer.concat(input as Uint8Array[]);
  const results: FeedResult[] = [];
  for (const mode of feed.modes ?? FEED_MODES) {
    // Each way twice: whole text messages as Buffers (onMessage), then as strings (onText).
    for (const text of [false, true]) {
      const name = text ? `${mode.name}, text as strings` : mode.name;
      const rec = recorder(feed.fragments ?? false, text);
      const parser = new FrameParser(options, rec.handler);
      const chunks = mode.split(stream);
      for (const chunk of chunks) {
        assert.doesNotThrow(() => parser.push(chunk), `push() threw (${name})`);
      }
      checkInvariants(rec.events, name);
      results.push({ mode: name, events: rec.events, errors: rec.errors, parser, chunks });
    }
  }
  return results;
}

/** At most one error; nothing after an error or a close. */
export function checkInvariants(events: readonly ParserEvent[], mode: string): void {
  const errors = events.filter((e) => e.type === 'error').length;
  assert.ok(errors <= 1, `${errors} errors reported (${mode})`);
  const stop = events.findIndex((e) => e.type === 'error' || e.type === 'close');
  if (stop !== -1) {
    assert.equal(stop, events.length - 1, `events reported after ${events[stop]!.type} (${mode}): ${describe(events)}`);
  }
}

/** Feeds `input` every way and asserts the exact event list each time. */
export function expectEvents(
  input: Uint8Array | readonly Uint8Array[],
  options: FrameParserOptions,
  expected: readonly ParserEvent[],
  feed: FeedOptions = {},
): FeedResult[] {
  const results = feedEachWay(input, options, feed);
  for (const r of results) {
    assert.deepStrictEqual(normalize(r.events), normalize(expected), `events differ (${r.mode})`);
  }
  return results;
}

/** Feeds `input` every way and asserts exactly one error, with this close code, and nothing after it. */
export function expectError(
  input: Uint8Array | readonly Uint8Array[],
  options: FrameParserOptions,
  closeCode: number,
  before: readonly ParserEvent[] = [],
  feed: FeedOptions = {},
): FeedResult[] {
  const results = feedEachWay(input, options, feed);
  for (const r of results) {
    const last = r.events[r.events.length - 1];
    assert.ok(last !== undefined && last.type === 'error', `no error reported (${r.mode}): ${describe(r.events)}`);
    assert.equal(last.closeCode, closeCode, `wrong close code (${r.mode}): ${describe(r.events)}`);
    assert.equal(r.errors[0]!.closeCode, closeCode);
    assert.ok(r.parser.stopped, `parser not stopped after the error (${r.mode})`);
    assert.deepStrictEqual(normalize(r.events.slice(0, -1)), normalize(before), `events before the error differ (${r.mode})`);
  }
  return results;
}

/**
 * Feeds `input` one byte at a time and returns the index of the byte whose push reported the
 * first error (-1 if none): fail-fast checks assert it is the offending byte.
 */
export function errorIndex(input: Uint8Array, options: FrameParserOptions, fragments = false): number {
  const at = (text: boolean): number => {
    const rec = recorder(fragments, text);
    const parser = new FrameParser(options, rec.handler);
    const copy = Buffer.from(input);
    for (let i = 0; i < copy.length; i++) {
      parser.push(copy.subarray(i, i + 1));
      if (rec.errors.length > 0) return i;
    }
    return -1;
  };
  const index = at(false);
  assert.equal(at(true), index, 'the error is found at the same byte with text as strings');
  return index;
}

/** Turn Buffers into plain arrays of byte values for readable deep-equal failure output on small data. */
function normalize(events: readonly ParserEvent[]): unknown[] {
  return events.map((e) => {
    if ('data' in e) {
      const data = e.data.length <= 64 ? [...e.data] : { length: e.data.length, sha: digest(e.data) };
      return { ...e, data };
    }
    return e;
  });
}

function digest(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A short description of an event list, for assertion messages. */
export function describe(events: readonly ParserEvent[]): string {
  return JSON.stringify(
    events.map((e) => ('data' in e ? { ...e, data: e.data.length <= 16 ? e.data.toString('hex') : `<${e.data.length} bytes>` } : e)),
  );
}
