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

/** The log's internals that only memory shows: the acknowledged entries it holds, where its live entries start. */
function inside(l: PublishLog): { acked: LogEntry[]; head: number } {
  return l as unknown as { acked: LogEntry[]; head: number };
}

describe('PublishLog, edges', () => {
  test('hasUnsent() says whether takeUnsent() has an entry to give', () => {
    const l = log(10);
    assert.equal(l.hasUnsent(), false);
    add(l, 'a');
    assert.equal(l.hasUnsent(), true);
    l.takeUnsent();
    assert.equal(l.hasUnsent(), false);
    l.rewind();
    assert.equal(l.hasUnsent(), true);
  });

  test('an acknowledgement of any entry but the oldest in flight is ignored', () => {
    const l = log(10);
    add(l, 'a');
    add(l, 'b');
    const [a, b] = [l.takeUnsent()!, l.takeUnsent()!];
    l.ack(b, '1-2');
    assert.equal(l.size, 2);
    assert.equal(b.id, undefined);
    l.ack(a, '1-1');
    l.ack(b, '1-2');
    assert.equal(l.size, 0);
  });

  test('a discarded entry (refused, or one Redis kept closing the connection on) is neither sent again nor replayed', () => {
    const l = log(10, 5);
    for (const text of ['a', 'b', 'c']) add(l, text);
    assert.equal(l.oldestInFlight(), undefined, 'nothing in flight yet');
    const a = l.takeUnsent()!;
    assert.equal(l.oldestInFlight(), a);
    l.discard(a);
    assert.equal(l.oldestInFlight(), undefined);
    l.ack(l.takeUnsent()!, '1-1');
    assert.equal(l.oldestInFlight(), undefined);
    const c = l.takeUnsent()!;
    l.rewind();
    assert.equal(l.oldestInFlight(), undefined, 'rewound: nothing in flight');
    assert.equal(l.takeUnsent(), c);
    assert.equal(l.size, 1);
    assert.equal(l.replay(), 1, 'only the acknowledged one is replayed');
    assert.deepEqual(drain(l), [2, 3]);
  });

  test('a window of one message, or of exactly the bytes of the last ones, keeps them', () => {
    const one = log(10, 1);
    for (const text of ['a', 'b']) add(one, text);
    for (let i = 0; i < 2; i++) one.ack(one.takeUnsent()!);
    assert.equal(one.replay(), 1);
    assert.deepEqual(drain(one), [2]);
    const exact = log(100, 10, 1000, 8);
    for (const text of ['aaaa', 'bbbb', 'cccc']) add(exact, text);
    for (let i = 0; i < 3; i++) exact.ack(exact.takeUnsent()!);
    assert.equal(exact.replay(), 2, '8 bytes hold two 4-byte messages');
    assert.deepEqual(drain(exact), [2, 3]);
    const tiny = log(10, 5, 1000, 1);
    add(tiny, 'a');
    tiny.ack(tiny.takeUnsent()!);
    assert.equal(tiny.replay(), 1, 'a 1-byte window holds a 1-byte message');
  });

  test('a window of 0 messages or 0 bytes keeps nothing, not even an empty message', () => {
    for (const l of [log(10, 0, 1000, 1000), log(10, 2, 1000, 0)]) {
      add(l, '');
      l.ack(l.takeUnsent()!, '1-1');
      assert.equal(l.replay(), 0);
      assert.equal(l.takeUnsent(), undefined);
    }
  });

  test('an entry Redis acknowledged without an id is replayed with its header as it was', () => {
    const l = log(10, 2);
    const header = JSON.stringify({ n: 'node', s: 1 });
    l.add(() => header, Buffer.from('a'));
    l.ack(l.takeUnsent()!);
    assert.equal(l.replay(), 1);
    assert.equal(l.takeUnsent()!.header, header);
  });

  test('replayed twice, a window goes out once each time (not twice the second time)', () => {
    const l = log(10, 3);
    for (const text of ['a', 'b']) add(l, text);
    for (let i = 0; i < 2; i++) l.ack(l.takeUnsent()!, `1-${i}`);
    assert.equal(l.replay(), 2);
    for (let i = 0; i < 2; i++) l.ack(l.takeUnsent()!, `2-${i}`);
    assert.equal(l.replay(), 2);
    assert.deepEqual(drain(l), [1, 2]);
  });

  test('only replayed entries are left out of the message bound, however often replay() runs', () => {
    // Entries waiting (not replayed) when Redis restarts still count.
    const waiting = log(2, 2);
    add(waiting, 'a');
    add(waiting, 'b');
    assert.equal(waiting.replay(), 0);
    assert.equal(add(waiting, 'c'), undefined);
    // Three replayed entries, still pending through a second replay(): three new ones fit, not four.
    const l = log(3, 3);
    for (const text of ['a', 'b', 'c']) add(l, text);
    for (let i = 0; i < 3; i++) l.ack(l.takeUnsent()!, `1-${i}`);
    assert.equal(l.replay(), 3);
    assert.equal(l.replay(), 0);
    assert.deepEqual([add(l, 'd')?.seq, add(l, 'e')?.seq, add(l, 'f')?.seq], [4, 5, 6]);
    assert.equal(add(l, 'g'), undefined);
  });

  test('after clear(), new messages are numbered on, taken and acknowledged as before', () => {
    const l = log(10);
    for (const text of ['a', 'b', 'c']) add(l, text);
    l.ack(l.takeUnsent()!);
    l.takeUnsent();
    l.clear();
    const d = add(l, 'd')!;
    assert.equal(d.seq, 4);
    assert.equal(l.size, 1);
    assert.equal(l.takeUnsent(), d);
    l.ack(d);
    assert.equal(l.size, 0);
    assert.equal(add(l, 'e')?.seq, 5);
  });

  test('the acknowledged entries held are trimmed back to the window once they pass twice its count', () => {
    const l = log(100, 2);
    const held: number[] = [];
    for (let i = 0; i < 8; i++) {
      add(l, 'a');
      l.ack(l.takeUnsent()!);
      held.push(inside(l).acked.length);
    }
    assert.deepEqual(held, [1, 2, 3, 4, 2, 3, 4, 2]);
  });

  test('... or twice its bytes, counting afresh after each trim and after a replay', () => {
    const l = log(100, 100, 1_000_000, 10);
    const held = (count: number, taken: () => LogEntry): number[] => {
      const lengths: number[] = [];
      for (let i = 0; i < count; i++) {
        l.ack(taken(), `1-${i}`);
        lengths.push(inside(l).acked.length);
      }
      return lengths;
    };
    const fresh = (): LogEntry => {
      add(l, 'aaaa');
      return l.takeUnsent()!;
    };
    // Past 20 bytes (twice 10), back to the last 8.
    assert.deepEqual(held(10, fresh), [1, 2, 3, 4, 5, 2, 3, 4, 5, 2]);
    assert.equal(l.replay(), 2);
    assert.deepEqual(held(2, () => l.takeUnsent()!), [1, 2], 'the replayed two');
    assert.deepEqual(held(4, fresh), [3, 4, 5, 2]);
  });

  test('the buffer of pending entries is compacted once 1024 have gone and they are at least half of it', () => {
    for (const [count, at] of [
      [1100, 1024],
      [3000, 1500],
    ] as const) {
      const l = log(10_000, 0, 1_000_000);
      for (let i = 0; i < count; i++) add(l, 'a');
      let compactedAt: number | undefined;
      for (let acked = 1; acked < count && compactedAt === undefined; acked++) {
        l.ack(l.takeUnsent()!);
        if (inside(l).head === 0) compactedAt = acked;
      }
      assert.equal(compactedAt, at, `${count} entries`);
      assert.equal(l.size, count - at);
      const next = l.takeUnsent()!;
      assert.equal(next.seq, at + 1);
      l.ack(next);
      assert.equal(l.size, count - at - 1);
    }
  });
});
