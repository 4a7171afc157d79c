import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { decodeHeader, encodeHeader, toEnvelope, withOrigin } from '../../src/redis/envelope-codec.js';
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

  test('an empty except list is left out of the header (none is the same as none)', () => {
    const data = Buffer.from('x');
    const header = encodeHeader('node', 1, { kind: 'broadcast', data, binary: false, except: [] });
    assert.deepEqual(JSON.parse(header), { n: 'node', s: 1, k: 'broadcast', b: 0 });
    assert.deepEqual(toEnvelope(decodeHeader(Buffer.from(header))!, data), { kind: 'broadcast', data, binary: false, except: undefined });
  });

  test('withOrigin adds the first stream id, which decodes as the header\'s "o"', () => {
    const header = withOrigin(encodeHeader('node', 7, { kind: 'topic', topic: 't', data: Buffer.alloc(0), binary: true, except: undefined }), '1700000000000-3');
    assert.deepEqual(JSON.parse(header), { n: 'node', s: 7, k: 'topic', b: 1, t: 't', o: '1700000000000-3' });
    assert.equal(decodeHeader(Buffer.from(header))?.o, '1700000000000-3');
  });

  test('a sequence number must be a positive integer, an except list strings, an origin a string', () => {
    const base = { n: 'a', k: 'broadcast', b: 0 };
    for (const s of [0, -1, 4.5, 2 ** 53]) assert.equal(decodeHeader(Buffer.from(JSON.stringify({ ...base, s }))), undefined, String(s));
    assert.ok(decodeHeader(Buffer.from(JSON.stringify({ ...base, s: 2 ** 53 - 1 }))));
    assert.equal(decodeHeader(Buffer.from(JSON.stringify({ ...base, s: 1, x: [1] }))), undefined);
    assert.equal(decodeHeader(Buffer.from(JSON.stringify({ ...base, s: 1, x: 'a.1' }))), undefined);
    assert.deepEqual(decodeHeader(Buffer.from(JSON.stringify({ ...base, s: 1, x: ['a.1'] })))?.x, ['a.1']);
    assert.equal(decodeHeader(Buffer.from(JSON.stringify({ ...base, s: 1, o: 5 }))), undefined);
    assert.equal(decodeHeader(Buffer.from(JSON.stringify({ ...base, s: 1, o: '5-1' })))?.o, '5-1');
  });
});
