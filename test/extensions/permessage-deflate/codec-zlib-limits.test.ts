/**
 * The codec at the edges of what zlib accepts: a maxPayload over the largest Buffer (or Infinity),
 * and a zlib call that throws instead of starting. Neither may fail a valid message, throw out of
 * the asynchronous methods, or leak a slot of the process-wide thread-pool limiter (10 slots by
 * default: each test below runs more jobs than that, one after the other, so a lost slot per job
 * would leave a later one waiting for ever).
 */
import { strict as assert } from 'node:assert';
import { constants as bufferConstants } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { ProtocolError } from '../../../src/errors.js';
import { PerMessageDeflate, type CodecCallback } from '../../../src/extensions/permessage-deflate/codec.js';
import { type DeflateParams, type PerMessageDeflateOptions } from '../../../src/extensions/permessage-deflate/negotiation.js';
import { withTimeout } from '../../support/net.js';

const MiB = 1024 * 1024;
/** More jobs than the limiter's default 10 slots. */
const JOBS = 12;
const HUGE_LIMITS = [Infinity, 8 * 1024 * MiB, bufferConstants.MAX_LENGTH + 1];

const PARAMS: DeflateParams = { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };

function codec(maxPayload: number, options: PerMessageDeflateOptions = {}): PerMessageDeflate {
  return new PerMessageDeflate(PARAMS, 'server', options, maxPayload);
}

/**
 * A codec whose inflation options zlib rejects (as it did a maxPayload over 4 GiB): stands for any
 * future bug that makes zlib throw instead of starting.
 */
function brokenInflater(): PerMessageDeflate {
  const receiver = codec(1 * MiB);
  Object.assign(receiver, { inflateOptions: () => ({ windowBits: 15, maxOutputLength: Infinity }) });
  return receiver;
}

/** Text that compresses to well over the 128 bytes small-inflate.ts takes, so zlib inflates it. */
function message(size: number): Buffer {
  return Buffer.from(randomBytes(size / 2).toString('hex'));
}

/** Runs an asynchronous codec method; fails if it throws instead of calling back, or never calls back. */
function run(label: string, start: (callback: CodecCallback) => void): Promise<{ error: Error | null; result: Buffer | undefined; sync: boolean }> {
  return withTimeout(
    new Promise((resolve) => {
      let returned = false;
      start((error, result) => resolve({ error, result, sync: !returned }));
      returned = true;
    }),
    label,
  );
}

describe('PerMessageDeflate: maxPayload over the largest Buffer, or Infinity', () => {
  for (const maxPayload of HUGE_LIMITS) {
    test(`decompressSync inflates a valid message with maxPayload ${maxPayload}`, () => {
      const sent = message(2000);
      const wire = codec(1 * MiB).compressSync(sent);
      assert.ok(wire.length > 128, `zlib path (${wire.length} compressed bytes)`);
      assert.deepEqual(codec(maxPayload).decompressSync(wire), sent);
    });

    test(`decompress (thread pool) inflates ${JOBS} valid messages in a row with maxPayload ${maxPayload}`, async () => {
      const receiver = codec(maxPayload);
      for (let i = 0; i < JOBS; i++) {
        const sent = message(4000);
        const wire = codec(1 * MiB).compressSync(sent);
        const { error, result, sync } = await run(`decompress #${i}`, (callback) => receiver.decompress(wire, callback));
        assert.equal(error, null);
        assert.equal(sync, false);
        assert.deepEqual(result, sent);
      }
    });
  }

  test('an ordinary limit still fails an inflated message over it with 1009, on both paths', async () => {
    const wire = codec(1 * MiB).compressSync(message(4000));
    assert.throws(() => codec(3999).decompressSync(wire), (error: unknown) => error instanceof ProtocolError && error.closeCode === 1009);
    const { error } = await run('decompress over the limit', (callback) => codec(3999).decompress(wire, callback));
    assert.ok(error instanceof ProtocolError && error.closeCode === 1009, String(error));
  });

  test('maxPayload 0 (zlib needs a limit of at least 1): a one-byte message fails with 1009 through the callback', async () => {
    const wire = codec(1 * MiB, { threshold: 0 }).compressSync(Buffer.from('x'));
    assert.throws(() => codec(0).decompressSync(wire), (error: unknown) => error instanceof ProtocolError && error.closeCode === 1009);
    const { error } = await run('decompress of one byte with maxPayload 0', (callback) => codec(0).decompress(wire, callback));
    assert.ok(error instanceof ProtocolError && error.closeCode === 1009, String(error));
  });
});

describe('PerMessageDeflate: a zlib call that throws instead of starting', () => {
  test('an inflation that fails for a reason other than the data is not blamed on the peer (1011, not 1007)', () => {
    const wire = codec(1 * MiB).compressSync(message(2000));
    assert.throws(() => brokenInflater().decompressSync(wire), (error: unknown) => error instanceof ProtocolError && error.closeCode === 1011 && error.code === 'SW_DECOMPRESSION_ERROR');
  });

  test(`compress() reports the error through its callback, asynchronously, ${JOBS} times in a row, and the thread pool stays usable`, async () => {
    // Out of range for zlib: only a codec made without the option check (options.ts) can have it.
    const broken = codec(1 * MiB, { level: 12 });
    for (let i = 0; i < JOBS; i++) {
      const { error, result, sync } = await run(`compress #${i}`, (callback) => broken.compress(message(2000), callback));
      assert.ok(error instanceof RangeError, String(error));
      assert.equal(result, undefined);
      assert.equal(sync, false, 'the callback does not run before compress() returns');
    }
    const sent = message(4000);
    const ok = await run('a good compress after them', (callback) => codec(1 * MiB).compress(sent, callback));
    assert.equal(ok.error, null);
    assert.deepEqual(codec(1 * MiB).decompressSync(ok.result!), sent);
  });

  test(`decompress() reports a throwing inflation as a ProtocolError through its callback, ${JOBS} times in a row`, async () => {
    const wire = codec(1 * MiB).compressSync(message(2000));
    for (let i = 0; i < JOBS; i++) {
      const { error, sync } = await run(`decompress #${i}`, (callback) => brokenInflater().decompress(wire, callback));
      assert.ok(error instanceof ProtocolError && error.closeCode === 1011, String(error));
      assert.equal(sync, false);
    }
    const ok = await run('a good decompress after them', (callback) => codec(1 * MiB).decompress(wire, callback));
    assert.equal(ok.error, null);
  });
});

describe('PerMessageDeflate: what the event loop inflates', () => {
  // 8 MiB of zeros compress to about 8 KB: under the size sent to the thread pool, yet a
  // thousandfold growth.
  const bomb = codec(16 * MiB).compressSync(Buffer.alloc(8 * MiB));

  test('a small message that inflates past 1 MiB is left to the thread pool (null), which inflates it', async () => {
    const receiver = codec(16 * MiB);
    assert.ok(receiver.isSync(bomb.length), `${bomb.length} compressed bytes are taken synchronously at first`);
    assert.equal(receiver.decompressSync(bomb), null);
    const { error, result } = await run('the thread-pool inflation', (callback) => receiver.decompress(bomb, callback));
    assert.equal(error, null);
    assert.deepEqual(result, Buffer.alloc(8 * MiB));
  });

  test('under a maxPayload of 1 MiB or less, the same message is still refused at once (1009)', () => {
    assert.throws(() => codec(1 * MiB).decompressSync(bomb), (error: unknown) => error instanceof ProtocolError && error.closeCode === 1009);
  });

  test('a message that inflates to 1 MiB or less is inflated synchronously', () => {
    const sent = Buffer.alloc(1 * MiB, 7);
    assert.deepEqual(codec(16 * MiB).decompressSync(codec(16 * MiB).compressSync(sent)), sent);
  });
});
