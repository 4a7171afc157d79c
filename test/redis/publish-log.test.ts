import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { PublishLog, type LogEntry } from '../../src/redis/publish-log.js';

function log(maxMessages = 3, replayWindow = 2, maxBytes = 1000, replayWindowBytes = 1000): PublishLog {
  return new PublishLog({ maxMessages, maxBytes, replayWindow, replayWindowBytes });
}

function add(l: PublishLog, text: string): LogEntry | undefined {
  return l.add((seq) => `h${seq}`, Buffer.from(text));
}

function drain(l: PublishLog): number[] {
  const out: number[] = [];
  for (let i = 0; i < 100; i++) {
    const entry = l.takeUnsent();
    if (!entry) break;
    out.push(entry.seq);
  }
  return out;
}

describe('PublishLog', () => {
  test('numbers messages 1, 2, 3… and refuses past the message bound', () => {
    const l = log();
    assert.deepEqual([add(l, 'a')?.seq, add(l, 'b')?.seq, add(l, 'c')?.seq], [1, 2, 3]);
    assert.equal(add(l, 'd'), undefined, 'the fourth is over the bound');
    assert.equal(l.size, 3);
    assert.equal(add(l, 'e'), undefined);
    const first = l.takeUnsent()!;
    l.ack(first);
    assert.equal(add(l, 'f')?.seq, 4, 'a refused message takes no number: no gap for the receivers');
  });

  test('the byte bound (a lone message may exceed it, so nothing is stuck forever)', () => {
    const l = log(10, 0, 4);
    assert.ok(add(l, 'abc'));
    assert.equal(add(l, 'de'), undefined);
    const lone = log(10, 0, 4);
    assert.ok(add(lone, 'much longer than four'));
  });

  test('rewind sends again what was in flight, in order; acks release the buffer', () => {
    const l = log(10);
    for (const text of ['a', 'b', 'c']) add(l, text);
    const [one, two] = [l.takeUnsent()!, l.takeUnsent()!];
    l.ack(one);
    assert.equal(l.size, 2);
    void two;
    l.rewind();
    assert.deepEqual(drain(l), [2, 3]);
  });

  test('replay puts the last acknowledged messages (up to the window) back before the rest', () => {
    const l = log(10, 2);
    for (const text of ['a', 'b', 'c', 'd']) add(l, text);
    for (let i = 0; i < 3; i++) l.ack(l.takeUnsent()!);
    assert.equal(l.replay(), 2);
    assert.deepEqual(drain(l), [2, 3, 4]);
    assert.equal(l.size, 3);
    assert.deepEqual(l.clear(), { unsent: 0, unconfirmed: 3 }, 'all three were handed on (drained)');
    assert.equal(l.size, 0);
    assert.equal(l.takeUnsent(), undefined);
  });

  test('clear() tells the messages never handed on from those handed on and not acknowledged', () => {
    const l = log(10);
    for (const text of ['a', 'b', 'c', 'd']) add(l, text);
    l.ack(l.takeUnsent()!);
    l.takeUnsent();
    assert.deepEqual(l.clear(), { unsent: 2, unconfirmed: 1 });
    // The replay window went too: nothing is sent again after a later restart.
    assert.equal(l.replay(), 0);
  });

  test('the replay window is bounded in bytes as well as in messages: the oldest leave first', () => {
    const l = log(100, 10, 1_000_000, 10);
    for (const text of ['aaaa', 'bbbb', 'cccc', 'dddd', 'eeee', 'ffff', 'gggg']) {
      add(l, text);
      l.ack(l.takeUnsent()!);
    }
    // 10 bytes keep the last two 4-byte messages; 10 messages would have kept all seven.
    assert.equal(l.replay(), 2);
    assert.deepEqual(drain(l), [6, 7]);
    // A lone message larger than the byte bound is not kept for replay at all.
    const big = log(100, 10, 1_000_000, 3);
    add(big, 'much more than three bytes');
    big.ack(big.takeUnsent()!);
    assert.equal(big.replay(), 0);
  });

  test('the replayed window does not count against the bounds: new messages are still taken', () => {
    const l = log(3, 3, 6);
    for (const text of ['aa', 'bb', 'cc']) add(l, text);
    for (let i = 0; i < 3; i++) l.ack(l.takeUnsent()!, `1-${i}`);
    assert.equal(l.replay(), 3);
    assert.equal(l.size, 3);
    assert.equal(add(l, 'dd')?.seq, 4, 'a full window replayed, and a new message still fits');
    assert.equal(add(l, 'ee')?.seq, 5);
    assert.equal(add(l, 'ff')?.seq, 6);
    assert.equal(add(l, 'gg'), undefined, 'the bound holds for new messages');
    // Acknowledging the replayed ones frees nothing the new ones count on; acknowledging a new one does.
    for (let i = 0; i < 3; i++) l.ack(l.takeUnsent()!, `2-${i}`);
    assert.equal(add(l, 'gg'), undefined);
    l.ack(l.takeUnsent()!, '2-3');
    assert.equal(add(l, 'gg')?.seq, 7);
  });

  test('a replayed entry names the stream id it was first given, once, however often it is replayed', () => {
    const l = log(10, 2);
    l.add((seq) => JSON.stringify({ n: 'node', s: seq }), Buffer.from('a'));
    l.ack(l.takeUnsent()!, '100-1');
    l.replay();
    const again = l.takeUnsent()!;
    assert.deepEqual(JSON.parse(again.header), { n: 'node', s: 1, o: '100-1' });
    l.ack(again, '200-1');
    l.replay();
    const third = l.takeUnsent()!;
    assert.equal(third.id, '100-1');
    assert.deepEqual(JSON.parse(third.header), { n: 'node', s: 1, o: '100-1' });
  });
});
