/**
 * inflateMessage over a stand-in connection and codec: small messages inflate at once, large ones
 * (or small ones that inflate to too much) in the background with reading paused and what follows
 * waiting in the inbox, in order; invalid UTF-8 in text fails the connection (1007).
 */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { ProtocolError } from '../../src/errors.js';
import { type PerMessageDeflate } from '../../src/extensions/permessage-deflate/codec.js';
import { inflateMessage, type InflatingConnection } from '../../src/io/inbound-inflation.js';

const INVALID_UTF8 = Buffer.from([0x61, 0xff, 0xfe]);

/**
 * A codec that "inflates" by adding the prefix `+`: at once for messages under `syncLimit` bytes
 * (null, as if too much, for those starting with `!`), else in the background when the test says.
 */
function standInCodec(syncLimit = 100) {
  const pending: Array<() => void> = [];
  const codec = {
    isSync: (length: number) => length < syncLimit,
    decompressSync(data: Buffer): Buffer | null {
      if (data[0] === 0x21) return null;
      if (data.toString() === 'broken') throw new ProtocolError(1002, 'bad deflate data');
      return Buffer.concat([Buffer.from('+'), data]);
    },
    decompress(data: Buffer, callback: (error: Error | null, inflated?: Buffer) => void): void {
      pending.push(() => (data.toString() === 'broken' ? callback(new ProtocolError(1002, 'bad deflate data')) : callback(null, Buffer.concat([Buffer.from('+'), data]))));
    },
  };
  return { codec: codec as unknown as PerMessageDeflate, pending };
}

function standInConnection(codec: PerMessageDeflate) {
  const log: string[] = [];
  const connection = {
    session: {
      stopped: false,
      failConnection(error: ProtocolError) {
        log.push(error.code === 'SW_INVALID_UTF8' ? `fail ${error.closeCode} ${error.message} (SW_INVALID_UTF8)` : `fail ${error.closeCode} ${error.message}`);
        this.stopped = true;
      },
    },
    deflate: codec,
    inbox: undefined,
    pauseReading: () => log.push('pause'),
    resumeReading: () => log.push('resume'),
    deliver: (data: Buffer, binary: boolean) => log.push(`${binary ? 'binary' : 'text'} ${data.toString('latin1')}`),
  };
  return { connection: connection as unknown as InflatingConnection & { session: { stopped: boolean } }, log };
}

describe('inflateMessage', () => {
  test('a small message is inflated and delivered at once, text or binary', () => {
    const { codec } = standInCodec();
    const { connection, log } = standInConnection(codec);
    inflateMessage(connection, Buffer.from('hello'), false);
    inflateMessage(connection, Buffer.from([1, 2]), true);
    assert.deepEqual(log, ['text +hello', 'binary +\x01\x02']);
    assert.equal(connection.inbox, undefined, 'no inbox for the synchronous path');
  });

  test('binary bytes that are not UTF-8 are delivered; in text they fail the connection with 1007', () => {
    const { codec } = standInCodec();
    const { connection, log } = standInConnection(codec);
    inflateMessage(connection, INVALID_UTF8, true);
    assert.deepEqual(log, ['binary +a\xff\xfe']);
    inflateMessage(connection, INVALID_UTF8, false);
    assert.equal(log.length, 2);
    assert.match(log[1]!, /^fail 1007 invalid UTF-8 .*\(SW_INVALID_UTF8\)$/);
  });

  test('deflate data that cannot be inflated fails the connection with the codec\'s error, delivering nothing', () => {
    const { codec } = standInCodec();
    const { connection, log } = standInConnection(codec);
    inflateMessage(connection, Buffer.from('broken'), true);
    assert.deepEqual(log, ['fail 1002 bad deflate data']);
  });

  test('a large message: reading pauses, what follows waits in the inbox, then all runs in order and reading resumes', () => {
    const { codec, pending } = standInCodec(10);
    const { connection, log } = standInConnection(codec);
    inflateMessage(connection, Buffer.from('a large message'), false);
    assert.deepEqual(log, ['pause']);
    assert.equal(connection.inbox?.active, true);
    // The connection queues what follows behind the inflation, as it does for its events.
    connection.inbox!.push(() => log.push('the next event'));
    pending.shift()!();
    assert.deepEqual(log, ['pause', 'text +a large message', 'the next event', 'resume']);
    assert.equal(connection.inbox?.active, false);
  });

  test('a small message that inflates to too much goes to the background too', () => {
    const { codec, pending } = standInCodec();
    const { connection, log } = standInConnection(codec);
    inflateMessage(connection, Buffer.from('!bomb'), true);
    assert.deepEqual(log, ['pause']);
    pending.shift()!();
    assert.deepEqual(log, ['pause', 'binary +!bomb', 'resume']);
  });

  test('in the background, invalid UTF-8 in text and bad deflate data fail the connection; binary is delivered', () => {
    const { codec, pending } = standInCodec(0);
    for (const [data, binary, expected] of [
      [INVALID_UTF8, true, /^binary \+a\xff\xfe$/],
      [INVALID_UTF8, false, /^fail 1007 invalid UTF-8/],
      [Buffer.from('broken'), true, /^fail 1002 bad deflate data$/],
    ] as const) {
      const { connection, log } = standInConnection(codec);
      inflateMessage(connection, data, binary);
      pending.shift()!();
      assert.equal(log.length, 3, String(log));
      assert.match(log[1]!, expected);
      assert.equal(log[2], 'resume');
    }
  });

  test('a message inflated in the background after the connection failed is not delivered; what waits still runs', () => {
    const { codec, pending } = standInCodec(0);
    const { connection, log } = standInConnection(codec);
    inflateMessage(connection, Buffer.from('late'), false);
    connection.inbox!.push(() => log.push('waiting event'));
    connection.session.stopped = true;
    pending.shift()!();
    assert.deepEqual(log, ['pause', 'waiting event', 'resume']);
  });

  test('a waiting message that starts another background inflation keeps reading paused and the rest waiting behind it', () => {
    const { codec, pending } = standInCodec(0);
    const { connection, log } = standInConnection(codec);
    inflateMessage(connection, Buffer.from('one'), true);
    connection.inbox!.push(() => inflateMessage(connection, Buffer.from('two'), true));
    connection.inbox!.push(() => log.push('after two'));
    pending.shift()!();
    assert.deepEqual(log, ['pause', 'binary +one', 'pause']);
    assert.equal(connection.inbox?.active, true);
    pending.shift()!();
    assert.deepEqual(log, ['pause', 'binary +one', 'pause', 'binary +two', 'after two', 'resume']);
  });

  test("a message handler that throws does not keep what waits from running, nor reading from resuming", () => {
    const { codec, pending } = standInCodec(0);
    const { connection, log } = standInConnection(codec);
    connection.deliver = () => {
      throw new Error('handler failure');
    };
    inflateMessage(connection, Buffer.from('x'), true);
    connection.inbox!.push(() => log.push('waiting event'));
    assert.throws(() => pending.shift()!(), /handler failure/);
    assert.deepEqual(log, ['pause', 'waiting event', 'resume']);
  });
});
