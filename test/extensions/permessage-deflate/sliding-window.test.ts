/** The context-takeover window (sliding-window.ts) against the obvious model: keep the last 2^bits bytes. */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { SlidingWindow } from '../../../src/extensions/permessage-deflate/sliding-window.js';
import { mulberry32 } from '../../support/chunking.js';

test('after any sequence of appends, the window is the last 2^bits bytes appended', () => {
  const random = mulberry32(3);
  for (const bits of [9, 10, 15]) {
    const size = 1 << bits;
    const window = new SlidingWindow(bits);
    assert.equal(window.bytes, undefined, 'empty at first');
    let model = Buffer.alloc(0);
    for (let i = 0; i < 400; i++) {
      const length = random() < 0.1 ? Math.floor(random() * size * 2) : Math.floor(random() * 300);
      const data = Buffer.alloc(length);
      for (let k = 0; k < length; k++) data[k] = Math.floor(random() * 256);
      window.append(data);
      model = Buffer.concat([model, data]);
      if (model.length > size) model = model.subarray(model.length - size);
      assert.deepEqual(window.bytes ?? Buffer.alloc(0), model, `bits ${bits}, append ${i} (${length} bytes)`);
    }
  }
});
