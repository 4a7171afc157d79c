/**
 * The permessage-deflate codec (RFC 7692 §7.2), used directly: a 'server' codec and a 'client'
 * codec with the same agreed parameters talk to each other, and to plain streaming zlib (what
 * real peers such as `ws` use: one deflate/inflate stream per direction, Z_SYNC_FLUSH, tail removed).
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { describe, test } from 'node:test';
import { constants, createDeflateRaw, createInflateRaw, deflateRawSync, inflateRawSync, type DeflateRaw, type InflateRaw } from 'node:zlib';
import { ProtocolError } from '../../../src/errors.js';
import { PerMessageDeflate } from '../../../src/extensions/permessage-deflate/codec.js';
import { type DeflateParams, type PerMessageDeflateOptions } from '../../../src/extensions/permessage-deflate/negotiation.js';
import { payloadBytes, withTimeout } from '../../support/net.js';

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/** zlib's module object, whose functions a test may wrap (then syncBuiltinESMExports() updates the imports). */
const zlib = createRequire(import.meta.url)('node:zlib') as typeof import('node:zlib');
const MiB = 1024 * 1024;
const SYNC_LIMIT = 256 * 1024;

function params(overrides: Partial<DeflateParams> = {}): DeflateParams {
  return { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15, ...overrides };
}

function codecs(p: DeflateParams, options: PerMessageDeflateOptions = {}, maxPayload = 100 * MiB): { server: PerMessageDeflate; client: PerMessageDeflate } {
  return { server: new PerMessageDeflate(p, 'server', options, maxPayload), client: new PerMessageDeflate(p, 'client', options, maxPayload) };
}

const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima', 'zoë', '€uro'];

/** Compressible JSON text of about `size` bytes, different for each seed. */
function jsonText(size: number, seed: number): string {
  const items: unknown[] = [];
  let i = 0;
  let length = 2;
  while (length < size) {
    const item = { id: seed * 100_000 + i, name: WORDS[(i * 7 + seed) % WORDS.length], score: (i * 37 + seed) % 1000, tags: [WORDS[(i + seed) % WORDS.length], WORDS[(i * 3) % WORDS.length]], ok: i % 3 === 0 };
    length += JSON.stringify(item).length + 1;
    items.push(item);
    i++;
  }
  return JSON.stringify(items);
}

/** The messages every round trip exchanges: compressible, incompressible, tiny, empty, repeated, larger than a 15-bit window. */
function messageSequence(): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < 6; i++) out.push(Buffer.from(jsonText(2000 + i * 500, i)));
  out.push(Buffer.alloc(0));
  out.push(Buffer.from('x'));
  out.push(payloadBytes(5000, 3));
  out.push(Buffer.from(jsonText(40_000, 9)));
  out.push(Buffer.from(jsonText(40_000, 9)));
  out.push(Buffer.alloc(0));
  out.push(Buffer.from('the end ✓'));
  for (let i = 0; i < 10; i++) out.push(Buffer.from(`{"seq":${i},"payload":${jsonText(300, i)}}`));
  return out;
}

/** Base64 of random bytes: no repetition within one message, so only context takeover can shrink a repeat. */
function uniqueText(length: number, seed: number): Buffer {
  return Buffer.from(payloadBytes(length, seed).toString('base64').slice(0, length));
}

function assertProtocolError(error: unknown, closeCode: number, code: string): ProtocolError {
  assert.ok(error instanceof ProtocolError, `expected a ProtocolError, got ${String(error)}`);
  assert.equal(error.closeCode, closeCode);
  assert.equal(error.code, code);
  return error;
}

function decompressAsync(codec: PerMessageDeflate, data: Buffer): Promise<Buffer> {
  return withTimeout(
    new Promise<Buffer>((resolve, reject) => codec.decompress(data, (error, out) => (error ? reject(error) : resolve(out!)))),
    'an asynchronous decompress',
    20_000,
  );
}

function compressAsync(codec: PerMessageDeflate, data: Buffer): Promise<Buffer> {
  return withTimeout(
    new Promise<Buffer>((resolve, reject) => codec.compress(data, (error, out) => (error ? reject(error) : resolve(out!)))),
    'an asynchronous compress',
    20_000,
  );
}

/** A peer's compressor the way real implementations keep one: a single raw deflate stream per direction. */
class StreamingDeflater {
  private stream: DeflateRaw;
  private chunks: Buffer[] = [];

  constructor(
    private readonly windowBits: number,
    /** No context takeover: a fresh stream for every message. */
    private readonly reset: boolean,
    private readonly level = 6,
  ) {
    this.stream = this.open();
  }

  private open(): DeflateRaw {
    const stream = createDeflateRaw({ windowBits: this.windowBits, level: this.level });
    stream.on('data', (chunk: Buffer) => this.chunks.push(chunk));
    return stream;
  }

  /** One message: write, Z_SYNC_FLUSH, remove the 00 00 ff ff tail (RFC 7692 §7.2.1). */
  async compress(data: Buffer): Promise<Buffer> {
    this.stream.write(data);
    await withTimeout(new Promise<void>((resolve) => this.stream.flush(constants.Z_SYNC_FLUSH, () => resolve())), 'a streaming deflate flush');
    const out = Buffer.concat(this.chunks);
    this.chunks = [];
    if (this.reset) {
      this.stream.close();
      this.stream = this.open();
    }
    if (out.length === 0) return out;
    assert.deepEqual(out.subarray(out.length - 4), TAIL, 'a sync flush ends with 00 00 ff ff');
    return out.subarray(0, out.length - 4);
  }

  close(): void {
    this.stream.close();
  }
}

/** A peer's decompressor: one raw inflate stream per direction, context kept across messages. */
class StreamingInflater {
  private readonly stream: InflateRaw;
  private chunks: Buffer[] = [];
  constructor(windowBits: number) {
    this.stream = createInflateRaw({ windowBits });
    this.stream.on('data', (chunk: Buffer) => this.chunks.push(chunk));
  }

  async decompress(data: Buffer): Promise<Buffer> {
    this.stream.write(Buffer.concat([data, TAIL]));
    await withTimeout(new Promise<void>((resolve) => this.stream.flush(constants.Z_SYNC_FLUSH, () => resolve())), 'a streaming inflate flush');
    const out = Buffer.concat(this.chunks);
    this.chunks = [];
    return out;
  }

  close(): void {
    this.stream.close();
  }
}

describe('PerMessageDeflate: round trips between a server codec and a client codec', () => {
  for (const serverNoContextTakeover of [false, true]) {
    for (const clientNoContextTakeover of [false, true]) {
      for (const serverMaxWindowBits of [9, 12, 15]) {
        for (const clientMaxWindowBits of [9, 12, 15]) {
          const p = params({ serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits, clientMaxWindowBits });
          test(`every message of a sequence comes back intact both ways with ${JSON.stringify(p)}`, () => {
            const { server, client } = codecs(p, { threshold: 0 });
            const messages = messageSequence();
            for (const [i, message] of messages.entries()) {
              const toClient = server.compressSync(message);
              assert.deepEqual(client.decompressSync(toClient), message, `server → client message ${i}`);
              const toServer = client.compressSync(message);
              assert.deepEqual(server.decompressSync(toServer), message, `client → server message ${i}`);
            }
          });
        }
      }
    }
  }

  test('messages compressed in one direction only, many in a row, keep both sides in step', () => {
    const { server, client } = codecs(params({ serverMaxWindowBits: 10 }));
    const sent: Buffer[] = [];
    const received: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      const message = Buffer.from(`${i}:${jsonText(100 + (i % 17) * 60, i % 5)}`);
      sent.push(message);
      received.push(client.decompressSync(server.compressSync(message))!);
    }
    assert.deepEqual(received, sent);
  });

  for (const [options, label] of [
    [{ level: 9, memLevel: 9 }, 'level 9, memLevel 9'],
    [{ level: 0 }, 'level 0 (stored blocks)'],
    [{ memLevel: 1 }, 'memLevel 1'],
  ] as const) {
    test(`round trips work with ${label}`, () => {
      const { server, client } = codecs(params(), options);
      for (const message of messageSequence()) {
        assert.deepEqual(client.decompressSync(server.compressSync(message)), message);
        assert.deepEqual(server.decompressSync(client.compressSync(message)), message);
      }
    });
  }
});

describe('PerMessageDeflate: context takeover', () => {
  for (const [bits, length] of [[15, 4000], [12, 2000], [9, 200]] as const) {
    test(`with takeover a repeated ${length}-byte message compresses to a fraction of the first (window ${bits}); without, to the same size`, () => {
      const message = uniqueText(length, bits);
      const takeover = codecs(params({ serverMaxWindowBits: bits, clientMaxWindowBits: bits }));
      const first = takeover.server.compressSync(message);
      const second = takeover.server.compressSync(message);
      assert.ok(first.length > length / 2, `base64 of random bytes barely compresses (${first.length})`);
      assert.ok(second.length * 5 < first.length, `second ${second.length} bytes vs first ${first.length}`);
      assert.deepEqual(takeover.client.decompressSync(first), message);
      assert.deepEqual(takeover.client.decompressSync(second), message);

      const clientFirst = takeover.client.compressSync(message);
      const clientSecond = takeover.client.compressSync(message);
      assert.ok(clientSecond.length * 5 < clientFirst.length, `client second ${clientSecond.length} vs first ${clientFirst.length}`);
      assert.deepEqual(takeover.server.decompressSync(clientFirst), message);
      assert.deepEqual(takeover.server.decompressSync(clientSecond), message);

      const reset = codecs(params({ serverMaxWindowBits: bits, clientMaxWindowBits: bits, serverNoContextTakeover: true, clientNoContextTakeover: true }));
      const a = reset.server.compressSync(message);
      const b = reset.server.compressSync(message);
      assert.deepEqual(b, a, 'without takeover every message is compressed alone');
      assert.deepEqual(reset.client.compressSync(message), reset.client.compressSync(message));
    });
  }

  test('a message that refers to the previous one cannot be inflated without that history', () => {
    const { server, client } = codecs(params());
    const message = uniqueText(3000, 42);
    client.decompressSync(server.compressSync(message));
    const second = server.compressSync(message);
    // A fresh receiver without the previous message: the back-references point before the start.
    const fresh = codecs(params()).client;
    assert.throws(() => fresh.decompressSync(second), (error: unknown) => error instanceof ProtocolError);
    assert.deepEqual(client.decompressSync(second), message);
  });

  test('the outbound direction honours the role: server_no_context_takeover resets only the server', () => {
    const { server, client } = codecs(params({ serverNoContextTakeover: true }));
    assert.equal(server.outboundNoContextTakeover, true);
    assert.equal(client.outboundNoContextTakeover, false);
    const message = uniqueText(3000, 7);
    assert.deepEqual(server.compressSync(message), server.compressSync(message));
    const c1 = client.compressSync(message);
    const c2 = client.compressSync(message);
    assert.ok(c2.length * 5 < c1.length);
    assert.deepEqual(server.decompressSync(c1), message);
    assert.deepEqual(server.decompressSync(c2), message);
  });
});

describe('PerMessageDeflate: interoperation with streaming zlib (how real peers compress)', () => {
  for (const windowBits of [9, 12, 15]) {
    for (const takeover of [true, false]) {
      test(`messages from a streaming deflateRaw (windowBits ${windowBits}, takeover ${takeover}) inflate in order through decompressSync`, async () => {
        const p = params({ clientMaxWindowBits: windowBits, clientNoContextTakeover: !takeover });
        const server = new PerMessageDeflate(p, 'server', {}, 100 * MiB);
        const peer = new StreamingDeflater(windowBits, !takeover);
        try {
          for (const [i, message] of messageSequence().entries()) {
            const wire = await peer.compress(message);
            assert.deepEqual(server.decompressSync(wire), message, `message ${i}`);
          }
          // A repeat of a message only makes sense to the receiver with the shared history.
          const repeat = uniqueText(1 << (windowBits - 2), windowBits);
          await peer.compress(repeat).then((wire) => assert.deepEqual(server.decompressSync(wire), repeat));
          const again = await peer.compress(repeat);
          if (takeover) assert.ok(again.length < repeat.length / 4, `the repeat used the history (${again.length} bytes)`);
          assert.deepEqual(server.decompressSync(again), repeat);
        } finally {
          peer.close();
        }
      });

      test(`messages from compressSync (windowBits ${windowBits}, takeover ${takeover}) inflate in order through a streaming inflateRaw`, async () => {
        const p = params({ serverMaxWindowBits: windowBits, serverNoContextTakeover: !takeover });
        const server = new PerMessageDeflate(p, 'server', { threshold: 0 }, 100 * MiB);
        const peer = new StreamingInflater(windowBits);
        try {
          for (const [i, message] of messageSequence().entries()) {
            assert.deepEqual(await peer.decompress(server.compressSync(message)), message, `message ${i}`);
          }
          const repeat = uniqueText(1 << (windowBits - 2), windowBits + 1);
          assert.deepEqual(await peer.decompress(server.compressSync(repeat)), repeat);
          assert.deepEqual(await peer.decompress(server.compressSync(repeat)), repeat);
        } finally {
          peer.close();
        }
      });
    }
  }

  test('a message sent as a final deflate block (BFINAL set, RFC 7692 §7.2.3.4) inflates', () => {
    const { server } = codecs(params({ clientNoContextTakeover: true }));
    const message = Buffer.from(jsonText(3000, 1));
    const finalBlock = deflateRawSync(message);
    assert.deepEqual(server.decompressSync(finalBlock), message);
  });

  test('an 8-bit window offered by the peer is inflated (zlib peers use 9 bits for it)', async () => {
    const server = new PerMessageDeflate(params({ clientMaxWindowBits: 8 }), 'server', {}, 100 * MiB);
    const peer = new StreamingDeflater(9, false);
    try {
      for (const message of messageSequence()) assert.deepEqual(server.decompressSync(await peer.compress(message)), message);
    } finally {
      peer.close();
    }
  });
});

describe('PerMessageDeflate: the asynchronous (thread pool) path', () => {
  test('isSync is true up to 256 KiB and false past it', () => {
    const { server } = codecs(params());
    assert.equal(server.isSync(0), true);
    assert.equal(server.isSync(SYNC_LIMIT), true);
    assert.equal(server.isSync(SYNC_LIMIT + 1), false);
  });

  test('decompress() of a payload over the sync limit gives what decompressSync() gives', async () => {
    const message = payloadBytes(300 * 1024, 5);
    const sender = codecs(params({ serverNoContextTakeover: true })).server;
    const wire = sender.compressSync(message);
    assert.ok(wire.length > SYNC_LIMIT, `incompressible data stays large (${wire.length})`);
    const asyncReceiver = codecs(params({ serverNoContextTakeover: true })).client;
    const syncReceiver = codecs(params({ serverNoContextTakeover: true })).client;
    const viaAsync = await decompressAsync(asyncReceiver, wire);
    assert.deepEqual(viaAsync, message);
    assert.deepEqual(syncReceiver.decompressSync(wire), viaAsync);
  });

  test('compress() (thread pool) output inflates to the message, and keeps the takeover context like compressSync()', async () => {
    const big = payloadBytes(300 * 1024, 6);
    const small = Buffer.concat([big.subarray(big.length - 2000), Buffer.from(jsonText(1000, 2))]);
    const { server, client } = codecs(params());
    const first = await compressAsync(server, big);
    assert.deepEqual(await decompressAsync(client, first), big);
    // The next message repeats the end of the big one: the shared window must hold it on both sides.
    const second = server.compressSync(small);
    assert.ok(second.length < 1500, `the repeat used the history (${second.length} bytes)`);
    assert.deepEqual(client.decompressSync(second), small);
    const third = await compressAsync(server, big);
    assert.deepEqual(await decompressAsync(client, third), big);
  });

  test('many asynchronous decompressions started at once all complete with the right result', async () => {
    const messages = Array.from({ length: 12 }, (_, i) => payloadBytes(SYNC_LIMIT + 1000 + i, 100 + i));
    const sender = codecs(params({ serverNoContextTakeover: true })).server;
    const receiver = codecs(params({ serverNoContextTakeover: true })).client;
    const wires = messages.map((m) => sender.compressSync(m));
    const results = await Promise.all(wires.map((w) => decompressAsync(receiver, w)));
    assert.deepEqual(results, messages);
  });
});

describe('PerMessageDeflate: limits and corrupt data', () => {
  /** A raw deflate stream inflating to `mib` MiB of zeros, built from one fully flushed block repeated (no big allocation). */
  function zeroBomb(mib: number): Buffer {
    const block = deflateRawSync(Buffer.alloc(MiB), { finishFlush: constants.Z_FULL_FLUSH, level: 9 });
    // Check the construction independently: one block is 1 MiB of zeros, and blocks chain.
    assert.deepEqual(inflateRawSync(block, { finishFlush: constants.Z_SYNC_FLUSH }), Buffer.alloc(MiB));
    assert.equal(inflateRawSync(Buffer.concat([block, block, block]), { finishFlush: constants.Z_SYNC_FLUSH }).length, 3 * MiB);
    return Buffer.concat(Array.from({ length: mib }, () => block));
  }

  test('a deflate bomb (50 MiB of zeros in ~50 KB) with maxPayload 1 MiB throws ProtocolError 1009 without inflating it all', () => {
    const bomb = zeroBomb(50);
    assert.ok(bomb.length < 200 * 1024, `bomb is ${bomb.length} bytes`);
    const receiver = new PerMessageDeflate(params(), 'server', {}, MiB);
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 5; i++) {
      assert.throws(() => receiver.decompressSync(bomb), (error: unknown) => {
        assertProtocolError(error, 1009, 'SW_MESSAGE_TOO_BIG');
        return true;
      });
    }
    const growth = process.memoryUsage().rss - before;
    assert.ok(growth < 64 * MiB, `RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
  });

  test('a deflate bomb over the sync limit (thread pool path) fails with ProtocolError 1009 too', async () => {
    const bomb = zeroBomb(300);
    assert.ok(bomb.length > SYNC_LIMIT, `bomb is ${bomb.length} bytes`);
    const receiver = new PerMessageDeflate(params(), 'server', {}, MiB);
    assert.equal(receiver.isSync(bomb.length), false);
    const before = process.memoryUsage().rss;
    await assert.rejects(decompressAsync(receiver, bomb), (error: unknown) => {
      assertProtocolError(error, 1009, 'SW_MESSAGE_TOO_BIG');
      return true;
    });
    const growth = process.memoryUsage().rss - before;
    assert.ok(growth < 64 * MiB, `RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
  });

  test('an inflated message of exactly maxPayload bytes is accepted and one byte more is 1009 (sync path)', () => {
    const message = Buffer.from(jsonText(100_000, 3)).subarray(0, 100_000);
    const wire = codecs(params({ serverNoContextTakeover: true })).server.compressSync(message);
    assert.deepEqual(new PerMessageDeflate(params(), 'client', {}, 100_000).decompressSync(wire), message);
    assert.throws(() => new PerMessageDeflate(params(), 'client', {}, 99_999).decompressSync(wire), (error: unknown) => {
      assertProtocolError(error, 1009, 'SW_MESSAGE_TOO_BIG');
      return true;
    });
  });

  test('an inflated message of exactly maxPayload bytes is accepted and one byte more is 1009 (async path)', async () => {
    const message = payloadBytes(300_000, 8);
    const wire = codecs(params({ serverNoContextTakeover: true })).server.compressSync(message);
    assert.ok(wire.length > SYNC_LIMIT);
    assert.deepEqual(await decompressAsync(new PerMessageDeflate(params(), 'client', {}, 300_000), wire), message);
    await assert.rejects(decompressAsync(new PerMessageDeflate(params(), 'client', {}, 299_999), wire), (error: unknown) => {
      assertProtocolError(error, 1009, 'SW_MESSAGE_TOO_BIG');
      return true;
    });
  });

  test('corrupt data throws ProtocolError 1007 SW_DECOMPRESSION_ERROR naming decompressionError', () => {
    const receiver = codecs(params()).server;
    for (const garbage of [Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.from([0x07]), Buffer.from('not deflate at all, really not')]) {
      assert.throws(() => receiver.decompressSync(garbage), (error: unknown) => {
        const e = assertProtocolError(error, 1007, 'SW_DECOMPRESSION_ERROR');
        assert.match(e.message, /decompressionError/);
        return true;
      });
    }
  });

  test('corrupt data over the sync limit fails the asynchronous path with the same error', async () => {
    const garbage = Buffer.concat([Buffer.from([0xff]), payloadBytes(SYNC_LIMIT + 100, 9)]);
    const receiver = codecs(params()).server;
    await assert.rejects(decompressAsync(receiver, garbage), (error: unknown) => {
      const e = assertProtocolError(error, 1007, 'SW_DECOMPRESSION_ERROR');
      assert.match(e.message, /decompressionError/);
      return true;
    });
  });
});

describe('PerMessageDeflate: threshold, 8-bit windows, empty messages, keys', () => {
  test('the default threshold is 1024 bytes', () => {
    const { server } = codecs(params());
    assert.equal(server.threshold, 1024);
    assert.equal(server.shouldCompress(1023), false);
    assert.equal(server.shouldCompress(1024), true);
  });

  test('a custom threshold is honoured, and 0 compresses even empty messages', () => {
    assert.equal(codecs(params(), { threshold: 100 }).server.shouldCompress(99), false);
    assert.equal(codecs(params(), { threshold: 100 }).server.shouldCompress(100), true);
    assert.equal(codecs(params(), { threshold: 0 }).server.shouldCompress(0), true);
  });

  test('an 8-bit outbound window means no compression at all (canCompress false), in either role', () => {
    const server = new PerMessageDeflate(params({ serverMaxWindowBits: 8 }), 'server', { threshold: 0 }, MiB);
    assert.equal(server.canCompress, false);
    assert.equal(server.shouldCompress(10_000), false);
    const client = new PerMessageDeflate(params({ clientMaxWindowBits: 8 }), 'client', { threshold: 0 }, MiB);
    assert.equal(client.canCompress, false);
    assert.equal(client.shouldCompress(10_000), false);
  });

  test('an 8-bit window in the other direction does not stop us compressing', () => {
    const server = new PerMessageDeflate(params({ clientMaxWindowBits: 8 }), 'server', {}, MiB);
    assert.equal(server.canCompress, true);
    assert.equal(server.shouldCompress(2000), true);
    const client = new PerMessageDeflate(params({ serverMaxWindowBits: 8 }), 'client', {}, MiB);
    assert.equal(client.canCompress, true);
  });

  test('9 bits is the smallest window we compress with', () => {
    assert.equal(new PerMessageDeflate(params({ serverMaxWindowBits: 9 }), 'server', {}, MiB).canCompress, true);
  });

  test('an empty message compresses to a non-empty payload that inflates to nothing, with and without takeover', () => {
    for (const reset of [false, true]) {
      const { server, client } = codecs(params({ serverNoContextTakeover: reset, clientNoContextTakeover: reset }), { threshold: 0 });
      const wire = server.compressSync(Buffer.alloc(0));
      assert.ok(wire.length > 0);
      assert.equal(client.decompressSync(wire)!.length, 0);
      const back = client.compressSync(Buffer.alloc(0));
      assert.equal(server.decompressSync(back)!.length, 0);
      // The context is unchanged by it: the next message still round-trips.
      const next = Buffer.from(jsonText(2000, 4));
      assert.deepEqual(client.decompressSync(server.compressSync(next)), next);
    }
  });

  test('an empty compressed payload (RSV1 with no data) inflates to an empty message', () => {
    assert.equal(codecs(params()).server.decompressSync(Buffer.alloc(0))!.length, 0);
  });

  test('the output of compressSync never ends with the 00 00 ff ff tail', () => {
    const { server } = codecs(params({ serverNoContextTakeover: true }));
    for (const message of messageSequence()) {
      const wire = server.compressSync(message);
      assert.notDeepEqual(wire.subarray(wire.length - 4), TAIL);
      // And it is the sync-flushed deflate data: appending the tail makes it inflate with plain zlib.
      assert.deepEqual(inflateRawSync(Buffer.concat([wire, TAIL]), { finishFlush: constants.Z_SYNC_FLUSH }), message);
    }
  });

  test('codecs with the same outbound window, level and memLevel share a compressionKey; others do not', () => {
    const a = new PerMessageDeflate(params({ serverNoContextTakeover: true }), 'server', {}, MiB);
    const b = new PerMessageDeflate(params({ serverNoContextTakeover: true, clientMaxWindowBits: 9, clientNoContextTakeover: true }), 'server', { threshold: 0 }, 1000);
    const c = new PerMessageDeflate(params({ serverNoContextTakeover: true, serverMaxWindowBits: 10 }), 'server', {}, MiB);
    const d = new PerMessageDeflate(params({ serverNoContextTakeover: true }), 'server', { level: 6 }, MiB);
    const e = new PerMessageDeflate(params({ serverNoContextTakeover: true }), 'server', { memLevel: 9 }, MiB);
    assert.equal(a.compressionKey, b.compressionKey);
    for (const other of [c, d, e]) assert.notEqual(a.compressionKey, other.compressionKey);
    // Same key, no takeover: the same bytes for the same message (what makes one compression per key valid).
    const message = Buffer.from(jsonText(5000, 5));
    assert.deepEqual(a.compressSync(message), b.compressSync(message));
  });
});

describe('PerMessageDeflate: compression options, the peer\'s context reset, and which inflater runs', () => {
  test('by default messages are compressed at level 1 with memLevel 8: the bytes of a one-shot zlib call with those options', () => {
    const { server } = codecs(params({ serverNoContextTakeover: true }));
    const message = Buffer.from(jsonText(200_000, 3));
    const expected = deflateRawSync(message, { windowBits: 15, level: 1, memLevel: 8, finishFlush: constants.Z_SYNC_FLUSH });
    assert.deepEqual(server.compressSync(message), expected.subarray(0, expected.length - 4));
    assert.equal(server.compressionKey, '15/1/8');
  });

  test('level 0 is honoured (stored blocks: the payload is larger than the message), not taken for the default', () => {
    const { server, client } = codecs(params({ serverNoContextTakeover: true }), { level: 0 });
    const message = Buffer.alloc(5000, 'a');
    const wire = server.compressSync(message);
    assert.ok(wire.length > message.length, `${wire.length} bytes for ${message.length} bytes of 'a'`);
    assert.deepEqual(client.decompressSync(wire), message);
  });

  test('a peer that agreed to reset its context but refers to its previous message is refused with 1007', () => {
    const message = uniqueText(3000, 11);
    // The peer (a client) keeps its context although client_no_context_takeover was agreed.
    const peer = codecs(params()).client;
    const server = new PerMessageDeflate(params({ clientNoContextTakeover: true }), 'server', {}, MiB);
    assert.deepEqual(server.decompressSync(peer.compressSync(message)), message);
    const second = peer.compressSync(message);
    assert.ok(second.length < 100, 'the repeat is back-references into the previous message');
    assert.throws(() => server.decompressSync(second), (error: unknown) => assertProtocolError(error, 1007, 'SW_DECOMPRESSION_ERROR') !== undefined);
  });

  test('compressed payloads of up to 128 bytes are inflated without zlib; from 129 bytes zlib inflates them', () => {
    const original = zlib.inflateRawSync;
    let calls = 0;
    zlib.inflateRawSync = ((...args: Parameters<typeof original>) => {
      calls++;
      return original(...args);
    }) as typeof original;
    syncBuiltinESMExports();
    try {
      const { server, client } = codecs(params({ clientNoContextTakeover: true }), { level: 0 });
      // Level 0: a stored block (5 bytes of header, then the message) and the first byte of the sync flush.
      for (const [length, zlibCalls] of [[122, 0], [123, 1]] as const) {
        const message = payloadBytes(length, length);
        const wire = client.compressSync(message);
        assert.equal(wire.length, length + 6);
        calls = 0;
        assert.deepEqual(server.decompressSync(wire), message);
        assert.equal(calls, zlibCalls, `a payload of ${wire.length} bytes`);
      }
    } finally {
      zlib.inflateRawSync = original;
      syncBuiltinESMExports();
    }
  });

  test('a compression that fails in the thread pool reports its error through the callback', async () => {
    const original = zlib.deflateRaw;
    const failure = new Error('deflate failed');
    zlib.deflateRaw = ((_data: unknown, _options: unknown, callback: (error: Error | null, out?: Buffer) => void) => {
      process.nextTick(callback, failure);
    }) as typeof original;
    syncBuiltinESMExports();
    try {
      const { server } = codecs(params());
      await assert.rejects(compressAsync(server, Buffer.from(jsonText(2000, 1))), (error: unknown) => error === failure);
    } finally {
      zlib.deflateRaw = original;
      syncBuiltinESMExports();
    }
  });

  test('the thread-pool limiter is process-wide, created with the first codec\'s concurrency (10 slots by default)', () => {
    const codecUrl = new URL('../../../src/extensions/permessage-deflate/codec.js', import.meta.url).href;
    // In a fresh process: a deflateRaw that never finishes, and 15 compressions started at once.
    const started = (options: string): number => {
      const script = `
        import zlib from 'node:zlib';
        import { createRequire, syncBuiltinESMExports } from 'node:module';
        let calls = 0;
        zlib.deflateRaw = () => { calls++; };
        syncBuiltinESMExports();
        const { PerMessageDeflate } = await import(${JSON.stringify(codecUrl)});
        const p = { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
        const codec = new PerMessageDeflate(p, 'server', ${options}, 1 << 20);
        for (let i = 0; i < 15; i++) codec.compress(Buffer.alloc(10), () => {});
        console.log(calls);
      `;
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(child.status, 0, child.stderr);
      return Number(child.stdout.trim());
    };
    assert.equal(started('{}'), 10);
    assert.equal(started('{ concurrency: 3 }'), 3);
  });
});
