/**
 * Where a masked frame that spans chunks is unmasked (frame-parser.ts, ASSEMBLE_LIMIT): up to
 * 64 KiB into one buffer of its own as its pieces arrive, leaving the pushed chunks as they were;
 * past that, in place in the chunks. The payload reported is the same either way, so only the
 * chunks show which happened: no other test looked at them.
 */
import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { FrameParser, type FrameParserOptions } from '../../src/protocol/frame-parser.js';
import { ev, recorder } from '../support/chunking.js';
import { clientFrame, headerLength, patternBytes } from '../support/frames.js';

const BINARY = 0x2;
const SERVER: FrameParserOptions = { role: 'server', maxPayload: 1 << 20 };
const ASSEMBLE_LIMIT = 64 * 1024;

/** Pushes a masked binary frame of `length` bytes in two chunks (split inside the payload); returns the chunks before and after, and the events. */
function pushSplit(length: number): { before: Buffer[]; after: Buffer[]; events: ReturnType<typeof recorder>['events']; payload: Buffer } {
  const payload = patternBytes(length, 5);
  const frame = clientFrame({ opcode: BINARY, payload });
  const cut = headerLength(length, true) + 1000;
  const chunks = [frame.subarray(0, cut), frame.subarray(cut)].map((c) => Buffer.from(c));
  const before = chunks.map((c) => Buffer.from(c));
  const rec = recorder();
  const parser = new FrameParser(SERVER, rec.handler);
  for (const chunk of chunks) parser.push(chunk);
  return { before, after: chunks, events: rec.events, payload };
}

describe('FrameParser: masked frames that span chunks', () => {
  for (const length of [2000, ASSEMBLE_LIMIT - 1, ASSEMBLE_LIMIT]) {
    test(`a ${length}-byte masked frame is unmasked into a buffer of its own: the chunks pushed keep their masked bytes`, () => {
      const r = pushSplit(length);
      assert.deepStrictEqual(r.events, [ev.binary(r.payload)]);
      for (let i = 0; i < r.after.length; i++) assert.ok(r.after[i]!.equals(r.before[i]!), `chunk ${i} was not written to`);
    });
  }

  test(`a masked frame over ${ASSEMBLE_LIMIT} bytes is unmasked in place in the chunks (no frame-sized buffer is made from its header)`, () => {
    const r = pushSplit(ASSEMBLE_LIMIT + 1);
    assert.deepStrictEqual(r.events, [ev.binary(r.payload)]);
    const header = headerLength(ASSEMBLE_LIMIT + 1, true);
    assert.ok(r.after[0]!.subarray(0, header).equals(r.before[0]!.subarray(0, header)), 'the header is left alone');
    assert.ok(r.after[0]!.subarray(header).equals(r.payload.subarray(0, 1000)), 'the first chunk holds the unmasked payload');
    assert.ok(r.after[1]!.equals(r.payload.subarray(1000)), 'so does the second');
  });
});
