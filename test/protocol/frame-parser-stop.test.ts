/**
 * stop() called from inside a handler: the parser reports nothing more, not even the message
 * whose last fragment it was told about (frame-parser.ts, dataFrame: "the fragment handler may
 * have stopped the parser"). No other test stopped the parser from onFragment.
 */
import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { FrameParser } from '../../src/protocol/frame-parser.js';
import { BYTE_BY_BYTE, ev, recorder, WHOLE } from '../support/chunking.js';
import { clientFrame, concat } from '../support/frames.js';

const TEXT = 0x1;
const CONT = 0x0;

describe('FrameParser: stop() from onFragment', () => {
  const stream = concat(
    clientFrame({ opcode: TEXT, payload: 'a', fin: false }),
    clientFrame({ opcode: CONT, payload: 'b', fin: true }),
    clientFrame({ opcode: TEXT, payload: 'after' }),
  );

  for (const [name, stopAt] of [['its last fragment', true], ['its first fragment', false]] as const) {
    test(`stopping on ${name} reports neither the whole message nor anything after it`, () => {
      for (const mode of [WHOLE, BYTE_BY_BYTE]) {
        const rec = recorder(true);
        const parser = new FrameParser({ role: 'server', maxPayload: 1 << 20 }, rec.handler);
        const onFragment = rec.handler.onFragment!;
        rec.handler.onFragment = (data, binary, fin, compressed) => {
          onFragment(data, binary, fin, compressed);
          if (fin === stopAt) parser.stop();
        };
        for (const chunk of mode.split(stream)) parser.push(chunk);
        const expected = stopAt ? [ev.fragment('a', false, false), ev.fragment('b', false, true)] : [ev.fragment('a', false, false)];
        assert.deepStrictEqual(rec.events, expected, mode.name);
        assert.equal(parser.stopped, true, mode.name);
      }
    });
  }
});
