import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { randomBytes } from 'node:crypto';
import { acceptKey, generateKey, isValidKey } from '../../src/handshake/keys.js';

describe('acceptKey', () => {
  test('answers the RFC 6455 §1.3 example key dGhlIHNhbXBsZSBub25jZQ== with s3pPLMBiTxaQ9kYGzzhZRbK+xOo=', () => {
    assert.equal(acceptKey('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  test('returns the base64 of a 20-byte SHA-1 digest that differs per key', () => {
    const a = acceptKey(generateKey());
    const b = acceptKey(generateKey());
    assert.equal(a.length, 28);
    assert.equal(Buffer.from(a, 'base64').length, 20);
    assert.notEqual(a, b);
  });

  test('uses the key exactly as given (no trimming or case folding)', () => {
    assert.notEqual(acceptKey('dGhlIHNhbXBsZSBub25jZQ== '), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    assert.notEqual(acceptKey('DGHLIHNHBXBSZSBUB25JZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  test('gives the same answer without crypto.hash() (Node 20 before 20.12), through a Hash object', async () => {
    // A fresh copy of the module, loaded while node:crypto has no hash(): as on an older Node 20.
    const crypto = createRequire(import.meta.url)('node:crypto') as { hash?: unknown };
    const hash = crypto.hash;
    assert.equal(typeof hash, 'function', 'this Node has crypto.hash(), which the other tests use');
    delete crypto.hash;
    syncBuiltinESMExports();
    try {
      const fresh = new URL('../../src/handshake/keys.js?without-hash', import.meta.url).href;
      const older = (await import(fresh)) as typeof import('../../src/handshake/keys.js');
      assert.equal(older.acceptKey('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
      const key = generateKey();
      assert.equal(older.acceptKey(key), acceptKey(key));
    } finally {
      crypto.hash = hash;
      syncBuiltinESMExports();
    }
  });
});

describe('generateKey', () => {
  test('returns 24 base64 characters decoding to 16 bytes', () => {
    const key = generateKey();
    assert.equal(key.length, 24);
    assert.equal(Buffer.from(key, 'base64').length, 16);
  });

  test('returns a fresh key each time', () => {
    const keys = new Set(Array.from({ length: 1000 }, () => generateKey()));
    assert.equal(keys.size, 1000);
  });
});

describe('isValidKey', () => {
  test('accepts the RFC example key', () => {
    assert.equal(isValidKey('dGhlIHNhbXBsZSBub25jZQ=='), true);
  });

  test('accepts 5000 generated keys', () => {
    for (let i = 0; i < 5000; i++) {
      const key = generateKey();
      assert.equal(isValidKey(key), true, key);
    }
  });

  test('accepts the encoding of every value of the last byte of 16 bytes', () => {
    const bytes = Buffer.alloc(16);
    for (let last = 0; last < 256; last++) {
      bytes[15] = last;
      const key = bytes.toString('base64');
      assert.equal(isValidKey(key), true, key);
    }
  });

  test('accepts all-zero and all-ones keys', () => {
    assert.equal(isValidKey(Buffer.alloc(16, 0).toString('base64')), true);
    assert.equal(isValidKey(Buffer.alloc(16, 0xff).toString('base64')), true);
  });

  test('rejects undefined and the empty string', () => {
    assert.equal(isValidKey(undefined), false);
    assert.equal(isValidKey(''), false);
  });

  test('rejects base64 of 15 and 17 bytes', () => {
    for (let i = 0; i < 200; i++) {
      const fifteen = randomBytes(15).toString('base64');
      const seventeen = randomBytes(17).toString('base64');
      assert.equal(isValidKey(fifteen), false, fifteen);
      assert.equal(isValidKey(seventeen), false, seventeen);
    }
  });

  test('rejects base64 of every length from 0 to 40 bytes except 16', () => {
    for (let length = 0; length <= 40; length++) {
      if (length === 16) continue;
      const key = randomBytes(length).toString('base64');
      assert.equal(isValidKey(key), false, `${length} bytes: ${key}`);
    }
  });

  test('rejects keys of a wrong length', () => {
    const good = 'dGhlIHNhbXBsZSBub25jZQ==';
    for (const key of [good.slice(1), `A${good}`, good.slice(0, 20), `${good}==`, `${good}AAAA`]) {
      assert.equal(isValidKey(key), false, key);
    }
  });

  test('rejects a 16-byte key with missing or partial padding', () => {
    assert.equal(isValidKey('dGhlIHNhbXBsZSBub25jZQ'), false);
    assert.equal(isValidKey('dGhlIHNhbXBsZSBub25jZQ='), false);
    assert.equal(isValidKey('dGhlIHNhbXBsZSBub25jZQA='), false);
  });

  test('rejects characters outside the base64 alphabet, including base64url', () => {
    for (const key of [
      'dGhlIHNhbXBsZSBub25jZ-==', // base64url '-' (62)
      'dGhlIHNhbXBsZSBub25j_Q==', // base64url '_' (63)
      'dGhlIHNhbXBsZSBub25j!Q==',
      'dGhlIHNhbXBsZSBub25j Q==',
      'dGhlIHNhbXBsZSBub25j\x00Q==',
      'dGhlIHNhbXBsZSBub25jéQ==',
      'dGhl=HNhbXBsZSBub25jZQ==',
    ]) {
      assert.equal(isValidKey(key), false, JSON.stringify(key));
    }
  });

  test('rejects whitespace around a key', () => {
    assert.equal(isValidKey(' dGhlIHNhbXBsZSBub25jZQ=='), false);
    assert.equal(isValidKey('dGhlIHNhbXBsZSBub25jZQ== '), false);
    assert.equal(isValidKey('dGhlIHNhbXBsZSBub25jZQ==\r\n'), false);
  });

  test('rejects a non-canonical last character (padding bits set)', () => {
    // 'R' carries bits the 16th byte does not have: not the encoding of any 16-byte value.
    assert.equal(isValidKey('dGhlIHNhbXBsZSBub25jZR=='), false);
    assert.equal(isValidKey('AAAAAAAAAAAAAAAAAAAAAB=='), false);
  });
});
