import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { decodeHeader, encodeHeader, toEnvelope } from '../../src/redis/envelope-codec.js';
import { type Envelope } from '../../src/index.js';

describe('envelope codec', () => {
  test('every kind survives the round trip', () => {
    const data = Buffer.from([0, 1, 255]);
    const envelopes: Envelope[] = [
      { kind: 'topic', topic: 'news/é', data, binary: true, except: ['a.1'] },
      { kind: 'broadcast', data, binary: false, except: undefined },
      { kind: 'direct', ids: ['x.1', 'y.2'], data, binary: true },
    ];
    for (const [n, envelope] of envelopes.entries()) {
      const header = decodeHeader(Buffer.from(encodeHeader('node', n + 1, envelope)));
      assert.ok(header);
      assert.equal(header.n, 'node');
      assert.equal(header.s, n + 1);
      assert.deepEqual(toEnvelope(header, data), envelope);
    }
  });

  test('what is not a header of ours is rejected, not thrown', () => {
    for (const raw of ['', 'not json', '[]', 'null', '{"n":"a","s":1,"k":"topic","b":0}', '{"n":"a","s":"1","k":"broadcast","b":0}', '{"n":"a","s":1,"k":"direct","b":1,"i":[1]}', '{"n":"a","s":1,"k":"other","b":1}']) {
      assert.equal(decodeHeader(Buffer.from(raw)), undefined, raw);
    }
  });
});
