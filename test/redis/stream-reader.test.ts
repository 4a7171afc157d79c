/**
 * StreamReader on its own, against a hand-written fake of the few ioredis calls it makes (INFO,
 * XREVRANGE, TIME, XREAD, the 'close' and 'ready' events and `status`). Each XREAD stays pending
 * until the test answers it, so a test drives the reader one round trip at a time. The whole
 * backplane against a real Redis is in redis-backplane.test.ts.
 */
import { EventEmitter } from 'node:events';
import { describe, test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { type Redis } from 'ioredis';
import { type BackplaneEvent, type Envelope } from '../../src/server/backplane.js';
import { StreamReader, type StreamReaderOptions } from '../../src/redis/stream-reader.js';

interface PendingRead {
  args: unknown[];
  resolve: (reply: unknown) => void;
  reject: (error: Error) => void;
}

class FakeStreamClient extends EventEmitter {
  status = 'ready';
  runId = 'aaa111';
  /** XREVRANGE's reply: the newest entry of the stream, or none. */
  newest: unknown = [];
  time: unknown = ['1700000000', '123000'];
  infoError: Error | undefined;
  readonly calls: string[] = [];
  readonly reads: PendingRead[] = [];
  private waiting: ((read: PendingRead) => void) | undefined;

  info(section: string): Promise<string> {
    this.calls.push(`INFO ${section}`);
    if (this.infoError) return Promise.reject(this.infoError);
    return Promise.resolve(`# Server\r\nredis_version:7.0.0\r\nrun_id:${this.runId}\r\ntcp_port:6379\r\n`);
  }

  call(command: string, ...args: unknown[]): Promise<unknown> {
    this.calls.push([command, ...args].join(' '));
    if (command === 'XREVRANGE') return Promise.resolve(this.newest);
    if (command === 'TIME') return Promise.resolve(this.time);
    return Promise.reject(new Error(`unexpected ${command}`));
  }

  /** EVAL's reply (the outline of the entry after a place in the stream), or its refusal. */
  outline: unknown = null;
  evalError: Error | undefined;

  callBuffer(command: string, ...args: unknown[]): Promise<unknown> {
    if (command === 'EVAL') {
      this.calls.push(['EVAL', ...args.slice(1)].join(' '));
      return this.evalError ? Promise.reject(this.evalError) : Promise.resolve(this.outline);
    }
    assert.equal(command, 'XREAD');
    this.calls.push('XREAD');
    return new Promise((resolve, reject) => {
      const read = { args, resolve, reject };
      this.reads.push(read);
      const waiting = this.waiting;
      this.waiting = undefined;
      waiting?.(read);
    });
  }

  /** The next XREAD the reader sends (already sent, or the next one). */
  nextRead(): Promise<PendingRead> {
    const sent = this.reads.length;
    if (sent > this.taken) return Promise.resolve(this.reads[this.taken++]!);
    return new Promise((resolve) => {
      this.waiting = (read) => {
        this.taken++;
        resolve(read);
      };
    });
  }

  private taken = 0;

  /** The connection breaks under the pending read `read`: 'close', then the read fails. */
  drop(read: PendingRead): void {
    this.status = 'reconnecting';
    this.emit('close');
    read.reject(new Error('Connection is closed.'));
  }

  /** The connection breaks under `read` and comes back: the next XREAD the reader sends. */
  async breakUnder(read: PendingRead): Promise<PendingRead> {
    this.drop(read);
    await settle();
    return this.comeBack();
  }

  /** The connection is back ('ready'): the next XREAD the reader sends. */
  comeBack(): Promise<PendingRead> {
    this.status = 'ready';
    this.emit('ready');
    return this.nextRead();
  }

  asRedis(): Redis {
    return this as unknown as Redis;
  }
}

interface Harness {
  client: FakeStreamClient;
  reader: StreamReader;
  delivered: Envelope[];
  events: BackplaneEvent[];
  reading: boolean[];
}

function harness(t: TestContext, client = new FakeStreamClient(), options: Partial<StreamReaderOptions> = {}): Harness {
  const delivered: Envelope[] = [];
  const events: BackplaneEvent[] = [];
  const reading: boolean[] = [];
  const reader = new StreamReader(client.asRedis(), {
    key: 'test:bus',
    nodeId: 'me',
    batch: 64,
    block: 1000,
    deliver: (envelope) => void delivered.push(envelope),
    report: (event) => void events.push(event),
    reading: (value) => void reading.push(value),
    ...options,
  });
  t.after(async () => {
    const stopping = reader.stop();
    for (const read of client.reads) read.resolve(null);
    await stopping;
  });
  return { client, reader, delivered, events, reading };
}

/** One stream entry as XREAD (RESP2, buffers) returns it: a topic message to 'room'. */
function entry(id: string, header: Record<string, unknown> | string | undefined, text = `m-${id}`): unknown {
  const fields: Buffer[] = [];
  if (header !== undefined) fields.push(Buffer.from('h'), Buffer.from(typeof header === 'string' ? header : JSON.stringify({ k: 'topic', t: 'room', b: 0, ...header })));
  fields.push(Buffer.from('d'), Buffer.from(text));
  return [Buffer.from(id, 'latin1'), fields];
}

function reply(...entries: unknown[]): unknown {
  return [[Buffer.from('test:bus'), entries]];
}

function texts(delivered: readonly Envelope[]): string[] {
  return delivered.map((envelope) => envelope.data.toString('utf8'));
}

/** An error reply from Redis, as ioredis gives it. */
function replyError(message: string): Error {
  const error = new Error(message);
  error.name = 'ReplyError';
  return error;
}

/** Lets the reader's promise chains run (no timer is involved). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Answers the pending XREAD with `answer` and returns the next one. */
async function answer(client: FakeStreamClient, read: PendingRead, answer: unknown): Promise<PendingRead> {
  read.resolve(answer);
  return client.nextRead();
}

describe('StreamReader', () => {
  test('joining an empty stream: it reads from 0-0, with the arguments it was given, and is reading after the sync', async (t) => {
    const h = harness(t);
    h.reader.start();
    const read = await h.client.nextRead();
    assert.deepEqual(read.args, ['COUNT', 64, 'BLOCK', 1000, 'STREAMS', 'test:bus', '0-0']);
    assert.deepEqual(h.client.calls, ['INFO default', 'XREVRANGE test:bus + - COUNT 1', 'TIME', 'XREAD']);
    assert.deepEqual(h.reading, [true]);
  });

  test('joining an empty stream: entries from before Redis\'s clock at the join are old, from its millisecond on they are new', async (t) => {
    const h = harness(t);
    h.reader.start();
    // TIME: 1700000000 s 123000 µs, so 1700000000123 ms.
    let read = await h.client.nextRead();
    read = await answer(h.client, read, reply(entry('1700000000122-99', { n: 'a', s: 1 }), entry('1700000000123-0', { n: 'b', s: 1 })));
    assert.deepEqual(texts(h.delivered), ['m-1700000000123-0']);
    assert.equal(read.args.at(-1), '1700000000123-0', 'it goes on after the last entry read, skipped or not');
    // Node a, unknown so far, is still judged by the join point; a later entry of it is delivered.
    read = await answer(h.client, read, reply(entry('1700000000124-0', { n: 'a', s: 2 })));
    assert.deepEqual(texts(h.delivered), ['m-1700000000123-0', 'm-1700000000124-0']);
    assert.deepEqual(h.events, [], 'a first message is no gap, whatever its number');
  });

  test('joining an empty stream: the join point follows both parts of TIME (seconds and microseconds)', async (t) => {
    const client = new FakeStreamClient();
    client.time = [Buffer.from('12'), Buffer.from('345999')];
    const h = harness(t, client);
    h.reader.start();
    let read = await h.client.nextRead();
    read = await answer(h.client, read, reply(entry('12344-7', { n: 'a', s: 1 }), entry('12345-0', { n: 'b', s: 1 }), entry('12346-0', { n: 'c', s: 1 })));
    assert.deepEqual(texts(h.delivered), ['m-12345-0', 'm-12346-0']);
  });

  test('joining an empty stream with a TIME reply it cannot read: everything from then on counts as new', async (t) => {
    for (const time of ['nonsense', ['1700000000', 'nonsense'], ['nonsense', '5']]) {
      const client = new FakeStreamClient();
      client.time = time;
      const h = harness(t, client);
      h.reader.start();
      let read = await h.client.nextRead();
      read = await answer(h.client, read, reply(entry('0-1', { n: 'a', s: 1 }), entry('1-0', { n: 'b', s: 1 })));
      assert.deepEqual(texts(h.delivered), ['m-0-1', 'm-1-0'], JSON.stringify(time));
    }
  });

  test('joining a stream with entries: it reads after the newest, and what was first published at or before it is old', async (t) => {
    const client = new FakeStreamClient();
    client.newest = [['500-3', ['h', '{}', 'd', 'x']]];
    const h = harness(t, client);
    h.reader.start();
    let read = await h.client.nextRead();
    assert.equal(read.args.at(-1), '500-3');
    assert.ok(!h.client.calls.includes('TIME'), 'the newest entry is the join point: no TIME');
    read = await answer(
      h.client,
      read,
      reply(
        // Sent again by nodes not heard from, with the ids they first had.
        entry('600-0', { n: 'a', s: 1, o: '500-3' }),
        entry('600-1', { n: 'b', s: 1, o: '500-2' }),
        entry('600-2', { n: 'c', s: 1, o: '499-9' }),
        entry('600-3', { n: 'd', s: 1, o: '500-4' }),
        entry('600-4', { n: 'e', s: 1, o: '501-0' }),
        entry('600-5', { n: 'f', s: 1 }),
      ),
    );
    assert.deepEqual(texts(h.delivered), ['m-600-3', 'm-600-4', 'm-600-5']);
  });

  test('the newest entry\'s id may come as a buffer; an id without a sequence part is its millisecond', async (t) => {
    const client = new FakeStreamClient();
    client.newest = [[Buffer.from('500-0'), []]];
    const h = harness(t, client);
    h.reader.start();
    let read = await h.client.nextRead();
    assert.equal(read.args.at(-1), '500-0');
    read = await answer(h.client, read, reply(entry('600-0', { n: 'a', s: 1, o: '500' }), entry('600-1', { n: 'b', s: 1, o: '501' })));
    assert.deepEqual(texts(h.delivered), ['m-600-1']);
  });

  test('an origin, or a part of it, that is not a number counts as 0; an empty origin is an origin', async (t) => {
    const client = new FakeStreamClient();
    client.newest = [['0-1', []]];
    const h = harness(t, client);
    h.reader.start();
    let read = await h.client.nextRead();
    read = await answer(h.client, read, reply(entry('600-0', { n: 'a', s: 1, o: 'x' }), entry('600-1', { n: 'b', s: 1, o: 'x-0' }), entry('600-2', { n: 'c', s: 1, o: '' }), entry('600-3', { n: 'd', s: 1, o: '0-2' })));
    assert.deepEqual(texts(h.delivered), ['m-600-3']);
    const other = new FakeStreamClient();
    other.newest = [['5-0', []]];
    const h2 = harness(t, other);
    h2.reader.start();
    read = await h2.client.nextRead();
    read = await answer(h2.client, read, reply(entry('600-0', { n: 'a', s: 1, o: '5-x' }), entry('600-1', { n: 'b', s: 1, o: '5-1' })));
    assert.deepEqual(texts(h2.delivered), ['m-600-1']);
    // Joined at Redis's first millisecond (an empty stream): an origin of millisecond 0 is old.
    const third = new FakeStreamClient();
    third.time = ['0', '1000'];
    const h3 = harness(t, third);
    h3.reader.start();
    read = await h3.client.nextRead();
    read = await answer(h3.client, read, reply(entry('600-0', { n: 'a', s: 1, o: 'x-5' }), entry('600-1', { n: 'b', s: 1, o: '0-5' }), entry('600-2', { n: 'c', s: 1, o: '1-0' })));
    assert.deepEqual(texts(h3.delivered), ['m-600-2']);
  });

  test('an XREVRANGE reply it cannot read counts as an empty stream', async (t) => {
    for (const newest of [null, [], ['500-3'], [[42, []]]]) {
      const client = new FakeStreamClient();
      client.newest = newest;
      const h = harness(t, client);
      h.reader.start();
      const read = await h.client.nextRead();
      assert.equal(read.args.at(-1), '0-0', JSON.stringify(newest));
      assert.ok(h.client.calls.includes('TIME'));
    }
  });

  test('a message is delivered once: numbers already seen are skipped, a jump is reported as missed', async (t) => {
    const h = harness(t);
    h.reader.start();
    let read = await h.client.nextRead();
    read = await answer(
      h.client,
      read,
      reply(
        entry('1800000000000-0', { n: 'a', s: 7 }),
        entry('1800000000000-1', { n: 'a', s: 7 }),
        entry('1800000000000-2', { n: 'a', s: 8 }),
        entry('1800000000000-3', { n: 'a', s: 6 }),
        entry('1800000000000-4', { n: 'a', s: 11 }),
        entry('1800000000000-5', { n: 'a', s: 12 }),
        entry('1800000000000-6', { n: 'a', s: 11 }),
        // One missed: reported too.
        entry('1800000000000-7', { n: 'a', s: 14 }),
      ),
    );
    assert.deepEqual(texts(h.delivered), ['m-1800000000000-0', 'm-1800000000000-2', 'm-1800000000000-4', 'm-1800000000000-5', 'm-1800000000000-7']);
    assert.deepEqual(h.events, [
      { type: 'missed', node: 'a', count: 2 },
      { type: 'missed', node: 'a', count: 1 },
    ]);
  });

  test('each publisher has its own numbers; this node\'s own entries are not delivered', async (t) => {
    const h = harness(t);
    h.reader.start();
    let read = await h.client.nextRead();
    read = await answer(
      h.client,
      read,
      reply(
        entry('1800000000000-0', { n: 'a', s: 1 }),
        entry('1800000000000-1', { n: 'me', s: 1 }),
        entry('1800000000000-2', { n: 'b', s: 1 }),
        entry('1800000000000-3', { n: 'a', s: 2 }),
        entry('1800000000000-4', { n: 'b', s: 2 }),
        entry('1800000000000-5', { n: 'me', s: 5 }),
      ),
    );
    assert.deepEqual(texts(h.delivered), ['m-1800000000000-0', 'm-1800000000000-2', 'm-1800000000000-3', 'm-1800000000000-4']);
    assert.deepEqual(h.events, []);
  });

  test('a node already heard from is not judged by the join point: its messages sent again after a restart are new', async (t) => {
    const h = harness(t);
    h.reader.start();
    let read = await h.client.nextRead();
    read = await answer(h.client, read, reply(entry('1800000000000-0', { n: 'a', s: 1 })));
    read = await answer(h.client, read, reply(entry('1800000000001-0', { n: 'a', s: 2, o: '1-0' })));
    assert.deepEqual(texts(h.delivered), ['m-1800000000000-0', 'm-1800000000001-0']);
  });

  test('the envelope carries the header\'s kind, target and payload', async (t) => {
    const h = harness(t);
    h.reader.start();
    let read = await h.client.nextRead();
    read = await answer(h.client, read, reply(entry('1800000000000-0', { n: 'a', s: 1, k: 'direct', i: ['c1'], b: 1 }, 'bytes')));
    assert.deepEqual(h.delivered, [{ kind: 'direct', ids: ['c1'], data: Buffer.from('bytes'), binary: true }]);
  });

  test('what is not an entry of ours is skipped, and reading goes on after it', async (t) => {
    const h = harness(t);
    h.reader.start();
    let read = await h.client.nextRead();
    const h1 = JSON.stringify({ n: 'a', s: 1, k: 'topic', t: 'room', b: 0 });
    read = await answer(h.client, read, null);
    read = await answer(h.client, read, 'not an array');
    read = await answer(h.client, read, [[Buffer.from('test:bus'), 'no entries'], 'no stream']);
    read = await answer(
      h.client,
      read,
      reply(
        'no entry',
        // An id that is not a buffer, with fields that would be delivered.
        ['1800000000000-0', [Buffer.from('h'), Buffer.from(h1), Buffer.from('d'), Buffer.from('x')]],
        [Buffer.from('1800000000000-1'), 'no fields'],
        entry('1800000000000-2', undefined),
        entry('1800000000000-3', '{"n":"a"'),
        entry('1800000000000-4', JSON.stringify({ n: 'a', s: 0, k: 'topic', t: 'room', b: 0 })),
        [Buffer.from('1800000000000-5'), [Buffer.from('h'), Buffer.from(h1)]],
        [Buffer.from('1800000000000-6'), ['h', Buffer.from(h1), Buffer.from('d'), Buffer.from('x')]],
        [Buffer.from('1800000000000-7'), [Buffer.from('h'), h1, Buffer.from('d'), Buffer.from('x')]],
      ),
    );
    assert.deepEqual(h.delivered, []);
    assert.equal(read.args.at(-1), '1800000000000-7');
    assert.deepEqual(h.reading, [true], 'no reply threw: no sync again');
    assert.equal(h.client.calls.filter((call) => call === 'INFO default').length, 1);
  });

  test('only the fields named exactly h and d count; others, and a trailing field name, are ignored', async (t) => {
    const h = harness(t);
    h.reader.start();
    let read = await h.client.nextRead();
    const good = JSON.stringify({ n: 'a', s: 1, k: 'topic', t: 'room', b: 0 });
    const fields = [
      Buffer.from('d'),
      Buffer.from('payload'),
      Buffer.from('h'),
      Buffer.from(good),
      // Same first byte, or same length: not h or d.
      Buffer.from('hx'),
      Buffer.from('{bad'),
      Buffer.from('dx'),
      Buffer.from('wrong'),
      // A value that reads h or d: a field name only to a reader out of step.
      Buffer.from('e'),
      Buffer.from('h'),
      Buffer.from('f'),
      Buffer.from('d'),
      Buffer.from('g'),
      Buffer.from('{bad'),
      Buffer.from('h'),
    ];
    read = await answer(h.client, read, reply([Buffer.from('1800000000000-0'), fields]));
    assert.deepEqual(texts(h.delivered), ['payload']);
  });

  test('a stream of other replies: each stream of the reply is read', async (t) => {
    const h = harness(t);
    h.reader.start();
    let read = await h.client.nextRead();
    read = await answer(h.client, read, [
      [Buffer.from('test:bus'), [entry('1800000000000-0', { n: 'a', s: 1 })]],
      [Buffer.from('test:bus'), [entry('1800000000000-1', { n: 'b', s: 1 })]],
    ]);
    assert.deepEqual(texts(h.delivered), ['m-1800000000000-0', 'm-1800000000000-1']);
  });

  test('after a reconnect to the same Redis it goes on after the last entry read, and its numbers still hold', async (t) => {
    // Mocked: the 100 ms poll of waitReady never fires, the 'ready' event alone must resume reading.
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const h = harness(t);
    h.reader.start();
    let read = await h.client.nextRead();
    read = await answer(h.client, read, reply(entry('1800000000000-0', { n: 'a', s: 1 })));
    h.client.drop(read);
    assert.deepEqual(h.reading, [true, false]);
    await settle();
    assert.equal(h.client.reads.length, 2, 'no XREAD while the connection is down');
    read = await h.client.comeBack();
    assert.equal(read.args.at(-1), '1800000000000-0');
    assert.deepEqual(h.reading, [true, false, true]);
    assert.deepEqual(
      h.client.calls.filter((call) => call !== 'XREAD'),
      ['INFO default', 'XREVRANGE test:bus + - COUNT 1', 'TIME', 'INFO default'],
      'a reconnect syncs again (run id) but keeps the join point',
    );
    read = await answer(h.client, read, reply(entry('1800000000000-1', { n: 'a', s: 1 }), entry('1800000000000-2', { n: 'a', s: 2 })));
    assert.deepEqual(texts(h.delivered), ['m-1800000000000-0', 'm-1800000000000-2']);
  });

  test('a read that failed is asked again for half as many entries (down to 1), then for twice as many after each success', async (t) => {
    // (A reply larger than Redis lets a client's output buffer hold closes the connection: asking
    // for the same again would fail the same way, for ever.)
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const h = harness(t, new FakeStreamClient(), { batch: 8 });
    h.reader.start();
    let read = await h.client.nextRead();
    const counts = [read.args[1]];
    for (let i = 0; i < 5; i++) {
      h.client.drop(read);
      await settle();
      read = await h.client.comeBack();
      counts.push(read.args[1]);
    }
    for (let i = 0; i < 5; i++) {
      read = await answer(h.client, read, null);
      counts.push(read.args[1]);
    }
    assert.deepEqual(counts, [8, 4, 2, 1, 1, 1, 2, 4, 8, 8, 8]);
  });

  /**
   * A reader with batch 1 that has read entry 1700000000200-0 (node a's 1st) and then had its
   * one-entry read at that place broken `breaks` times (the connection closed under it): returns
   * the read it sends next.
   */
  async function brokenOnOneEntry(h: Harness, breaks: number): Promise<PendingRead> {
    h.reader.start();
    let read = await h.client.nextRead();
    read = await answer(h.client, read, reply(entry('1700000000200-0', { n: 'a', s: 1 })));
    for (let i = 0; i < breaks; i++) {
      read = await h.client.breakUnder(read);
    }
    return read;
  }

  const outline = (id: string, size: number, header: Record<string, unknown>): unknown => [Buffer.from(id), size, Buffer.from(JSON.stringify({ k: 'topic', t: 'room', b: 0, ...header }))];
  const evals = (client: FakeStreamClient): string[] => client.calls.filter((call) => call.startsWith('EVAL'));

  test('a large entry whose one-entry reads broke the connection three times in a row is skipped and reported as missed', async (t) => {
    // (Redis closes a connection whose reply outgrows its output-buffer limit: reading that entry
    // again would fail again, for ever, and nothing after it would be read.)
    const h = harness(t, new FakeStreamClient(), { batch: 1 });
    h.client.outline = outline('1700000000300-0', 20_000, { n: 'a', s: 2 });
    let read = await brokenOnOneEntry(h, 2);
    assert.deepEqual(evals(h.client), [], 'two breaks are not enough');
    read = await h.client.breakUnder(read);
    assert.deepEqual(evals(h.client), ['EVAL 1 test:bus 1700000000200-1'], 'the entry after the last one read is outlined');
    assert.equal(read.args.at(-1), '1700000000300-0', 'reading goes on after it');
    assert.deepEqual(h.events, [{ type: 'missed', node: 'a', count: 1 }]);
    read = await answer(h.client, read, reply(entry('1700000000400-0', { n: 'a', s: 3 })));
    assert.deepEqual(texts(h.delivered), ['m-1700000000200-0', 'm-1700000000400-0']);
    assert.deepEqual(h.events, [{ type: 'missed', node: 'a', count: 1 }], 'the number after it is no jump');
  });

  test('a small entry, or none, is not skipped however often the connection breaks; nor is an entry of its own node reported', async (t) => {
    const h = harness(t, new FakeStreamClient(), { batch: 1 });
    h.client.outline = outline('1700000000300-0', 16 * 1024 - 1, { n: 'a', s: 2 });
    let read = await brokenOnOneEntry(h, 3);
    assert.equal(evals(h.client).length, 1);
    assert.equal(read.args.at(-1), '1700000000200-0', 'a small entry is read again');
    h.client.outline = null;
    for (let i = 0; i < 3; i++) {
      read = await h.client.breakUnder(read);
    }
    assert.equal(evals(h.client).length, 2);
    assert.equal(read.args.at(-1), '1700000000200-0', 'with no entry after it, it reads from the same place');
    h.client.outline = outline('1700000000300-0', 1 << 20, { n: 'me', s: 1 });
    for (let i = 0; i < 3; i++) {
      read = await h.client.breakUnder(read);
    }
    assert.equal(read.args.at(-1), '1700000000300-0', "this node's own large entry is skipped");
    assert.deepEqual(h.events, [], 'and not reported');
  });

  test('a Redis that refuses the script is reported once per three breaks, and reading goes on from the same place', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const client = new FakeStreamClient();
    const refusal = replyError("NOPERM this user has no permissions to run the 'eval' command");
    client.evalError = refusal;
    const failures: Error[] = [];
    const h = harness(t, client, { batch: 1, failed: (error) => void failures.push(error) });
    let read = await brokenOnOneEntry(h, 2);
    h.client.drop(read);
    await settle();
    const next = h.client.comeBack();
    await settle();
    assert.deepEqual(failures, [refusal]);
    t.mock.timers.tick(50);
    read = await next;
    assert.equal(read.args.at(-1), '1700000000200-0');
    read = await answer(h.client, read, null);
    assert.equal(evals(h.client).length, 1, 'not asked again before three more breaks');
  });

  test('a connection closed while its read was answered still syncs again before the next read', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const h = harness(t);
    h.reader.start();
    let read = await h.client.nextRead();
    h.client.status = 'reconnecting';
    h.client.emit('close');
    // The reply was in before the close: the read succeeds.
    read.resolve(reply(entry('1800000000000-0', { n: 'a', s: 1 })));
    await settle();
    h.client.runId = 'bbb222';
    h.client.status = 'ready';
    h.client.emit('ready');
    read = await h.client.nextRead();
    assert.deepEqual(h.reading, [true, false, true]);
    assert.equal(read.args.at(-1), '0-0', 'Redis restarted meanwhile: its new stream is read from the start');
  });

  test('after Redis restarted (a new run id) it reads the new stream from its start', async (t) => {
    // Mocked: the 100 ms poll of waitReady never fires, the 'ready' event alone must resume reading.
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const h = harness(t);
    h.reader.start();
    let read = await h.client.nextRead();
    read = await answer(h.client, read, reply(entry('1800000000000-0', { n: 'a', s: 1 })));
    h.client.drop(read);
    await settle();
    h.client.runId = 'bbb222';
    read = await h.client.comeBack();
    assert.equal(read.args.at(-1), '0-0');
    // The new stream's ids start low again, but node a is known: its next number is delivered.
    read = await answer(h.client, read, reply(entry('5-0', { n: 'a', s: 1 }), entry('5-1', { n: 'a', s: 2 }), entry('5-2', { n: 'z', s: 1 })));
    assert.deepEqual(texts(h.delivered), ['m-1800000000000-0', 'm-5-1']);
    // A second reconnect to the same restarted Redis goes on after the last entry.
    h.client.drop(read);
    await settle();
    read = await h.client.comeBack();
    assert.equal(read.args.at(-1), '5-2');
  });

  test('a failed read on a connection still ready is tried again after 50 ms, after a new sync', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const h = harness(t);
    h.reader.start();
    let read = await h.client.nextRead();
    read.reject(new Error('ERR something'));
    await settle();
    assert.equal(h.client.reads.length, 1);
    t.mock.timers.tick(49);
    await settle();
    assert.equal(h.client.reads.length, 1, 'not before 50 ms');
    t.mock.timers.tick(1);
    read = await h.client.nextRead();
    assert.equal(h.client.calls.filter((call) => call === 'INFO default').length, 2);
    assert.deepEqual(h.reading, [true, true]);
    assert.equal(read.args.at(-1), '0-0');
  });

  test('a failed sync is tried again; nothing is read before a sync succeeded', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const client = new FakeStreamClient();
    client.infoError = new Error('ERR info');
    const h = harness(t, client);
    h.reader.start();
    await settle();
    assert.deepEqual(h.client.calls, ['INFO default']);
    assert.deepEqual(h.reading, []);
    client.infoError = undefined;
    t.mock.timers.tick(50);
    const read = await h.client.nextRead();
    assert.equal(read.args.at(-1), '0-0');
    assert.deepEqual(h.reading, [true]);
  });

  test('Redis refusing (an error reply) is reported, and asked again after 50 ms, then twice as long each time, up to maxRetryDelay; a read resets it', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const client = new FakeStreamClient();
    const refusal = replyError("NOPERM this user has no permissions to run the 'info' command");
    client.infoError = refusal;
    const failures: Error[] = [];
    const h = harness(t, client, { failed: (error) => void failures.push(error), maxRetryDelay: 300 });
    h.reader.start();
    await settle();
    const infos = (): number => client.calls.filter((call) => call === 'INFO default').length;
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      const before = infos();
      let waited = 0;
      while (infos() === before && waited < 1000) {
        t.mock.timers.tick(10);
        waited += 10;
        await settle();
      }
      waits.push(waited);
    }
    assert.deepEqual(waits, [50, 100, 200, 300, 300]);
    assert.equal(failures.length, 6);
    assert.ok(failures.every((error) => error === refusal));
    // Redis lets it now: it reads, and the next refusal waits 50 ms again.
    client.infoError = undefined;
    t.mock.timers.tick(300);
    let read = await client.nextRead();
    read = await answer(client, read, null);
    read.reject(Object.assign(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'), { name: 'ReplyError' }));
    await settle();
    assert.equal(failures.length, 7);
    const reads = client.reads.length;
    t.mock.timers.tick(49);
    await settle();
    assert.equal(client.reads.length, reads);
    t.mock.timers.tick(1);
    await client.nextRead();
  });

  test('a failure that is not an error reply from Redis (a connection closing) is not reported as one', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const failures: Error[] = [];
    const h = harness(t, new FakeStreamClient(), { failed: (error) => void failures.push(error) });
    h.reader.start();
    const read = await h.client.nextRead();
    read.reject(new Error("Stream isn't writeable and enableOfflineQueue options is false"));
    await settle();
    t.mock.timers.tick(50);
    await h.client.nextRead();
    assert.deepEqual(failures, []);
  });

  test('stop() during the wait after a refusal ends at once', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const client = new FakeStreamClient();
    client.infoError = Object.assign(new Error('NOPERM'), { name: 'ReplyError' });
    const h = harness(t, client);
    h.reader.start();
    await settle();
    let stopped = false;
    void h.reader.stop().then(() => (stopped = true));
    await settle();
    assert.equal(stopped, true, 'no timer had to fire');
  });

  test('start() twice runs one loop', async (t) => {
    const h = harness(t);
    h.reader.start();
    h.reader.start();
    await h.client.nextRead();
    await settle();
    assert.deepEqual(h.client.calls, ['INFO default', 'XREVRANGE test:bus + - COUNT 1', 'TIME', 'XREAD']);
  });

  test('stop() during a blocked read ends once the read returns, without another read or a wait', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const h = harness(t);
    h.reader.start();
    const read = await h.client.nextRead();
    let stopped = false;
    const stopping = h.reader.stop().then(() => (stopped = true));
    await settle();
    assert.equal(stopped, false, 'the loop is still in its read');
    // Closing the connection fails the blocked read (the client stays 'ready' until it is closed).
    read.reject(new Error('Connection is closed.'));
    await settle();
    assert.equal(stopped, true, 'no 50 ms wait once stopped');
    await stopping;
    assert.equal(h.client.reads.length, 1);
  });

  test('stop() during a read that returns entries: they are delivered, and no read follows', async (t) => {
    const h = harness(t);
    h.reader.start();
    const read = await h.client.nextRead();
    const stopping = h.reader.stop();
    read.resolve(reply(entry('1800000000000-0', { n: 'a', s: 1 })));
    await stopping;
    await settle();
    assert.equal(h.client.reads.length, 1);
    assert.deepEqual(texts(h.delivered), ['m-1800000000000-0']);
  });

  test('stop() while waiting for the connection to be ready ends the loop', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const client = new FakeStreamClient();
    client.status = 'connecting';
    const h = harness(t, client);
    h.reader.start();
    await settle();
    const stopping = h.reader.stop();
    t.mock.timers.tick(100);
    await stopping;
    assert.deepEqual(h.client.calls, []);
  });

  test('a connection that ended (closed for good) ends the loop', async (t) => {
    const client = new FakeStreamClient();
    client.status = 'end';
    const h = harness(t, client);
    h.reader.start();
    await settle();
    assert.deepEqual(h.client.calls, []);
    await h.reader.stop();
  });

  test('stop() before start() resolves at once', async () => {
    const reader = new StreamReader(new FakeStreamClient().asRedis(), {
      key: 'k',
      nodeId: 'me',
      batch: 1,
      block: 1,
      deliver: () => assert.fail('nothing to deliver'),
      report: () => assert.fail('nothing to report'),
      reading: () => assert.fail('not reading'),
    });
    await reader.stop();
  });
});
