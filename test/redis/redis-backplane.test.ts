/**
 * RedisBackplane against a real redis-server (started by the test on a free port, killed by PID):
 * two or three servers in this process, each with its own backplane (own Redis connections), and
 * `ws` clients on each. Cross-process runs are in cross-node.test.ts.
 */
import { describe, test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { BackplaneError, UsageError, WebSocketServer, type BackplaneEvent, type Connection } from '../../src/index.js';
import { RedisBackplane, type RedisBackplaneOptions } from '../../src/redis/index.js';
import { Redis } from 'ioredis';
import { createServer, type Server, type Socket } from 'node:net';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from '../interop/support/child.js';
import { Queue, withTimeout, type StartedServer } from '../support/net.js';
import { eventually, serve, sleep, wsClient } from '../support/server-kit.js';
import { hasRedisServer, RedisServer } from '../support/redis-server.js';

const skip = hasRedisServer() ? false : 'redis-server is not installed (.ci/run installs it)';

interface Node {
  srv: StartedServer<unknown>;
  backplane: RedisBackplane;
  events: Queue<BackplaneEvent>;
}

/** A server whose clients subscribe to 'room' on open; a client's text message is published to 'room'. */
async function node(t: TestContext, redis: RedisServer, options: RedisBackplaneOptions = {}): Promise<Node> {
  const backplane = new RedisBackplane({ url: redis.url, prefix: 'test', maxReconnectDelay: 100, ...options });
  const events = new Queue<BackplaneEvent>();
  const srv = await serve(t, {
    backplane,
    onConnection: () => ({
      onOpen: (connection: Connection) => void connection.subscribe('room'),
      onMessage: (_connection: Connection, data: string | Buffer) => void srv.server.publish('room', data),
    }),
  });
  srv.server.on('backplane', (event) => events.push(event));
  await waitFor(events, 'connected');
  return { srv, backplane, events };
}

/** Redis, two nodes on it, and a client on B subscribed to 'room'. */
async function twoNodes(t: TestContext): Promise<{ redis: RedisServer; a: Node; b: Node; onB: Awaited<ReturnType<typeof wsClient>> }> {
  const redis = await RedisServer.start(t);
  const a = await node(t, redis);
  const b = await node(t, redis);
  const onB = await wsClient(t, b.srv.url);
  await eventually(() => b.srv.server.subscriberCount('room') === 1, 'subscription on B');
  return { redis, a, b, onB };
}

/** A plain ioredis client of the test's Redis (to write, or to change its configuration), closed after the test. */
function redisClient(t: TestContext, redis: RedisServer): Redis {
  const client = new Redis(redis.url);
  t.after(() => client.disconnect());
  return client;
}

async function waitFor(events: Queue<BackplaneEvent>, type: BackplaneEvent['type']): Promise<BackplaneEvent> {
  for (let i = 0; i < 1000; i++) {
    const event = await events.next(`backplane event ${type}`, 10_000);
    if (event.type === type) return event;
  }
  throw new Error(`no ${type} event among 1000`);
}

/** Writes entries straight into the test cluster's stream, as another node would: a text message to topic 'room'. */
function streamWriter(t: TestContext, redis: RedisServer): (header: { n: string; s: number; o?: string }, text: string) => Promise<unknown> {
  const writer = redisClient(t, redis);
  return (header, text) => writer.xadd('test:bus', '*', 'h', JSON.stringify({ ...header, k: 'topic', t: 'room', b: 0 }), 'd', text);
}

function texts(messages: readonly { data: Buffer }[]): string[] {
  return messages.map((message) => message.data.toString('utf8'));
}

describe('RedisBackplane', { skip }, () => {
  test('a publish on one node reaches every subscriber on every node once, the publisher node not twice', async (t) => {
    const redis = await RedisServer.start(t);
    const a = await node(t, redis);
    const b = await node(t, redis);
    const onA = await wsClient(t, a.srv.url);
    const onB = await wsClient(t, b.srv.url);
    const other = await wsClient(t, b.srv.url);
    await eventually(() => a.srv.server.subscriberCount('room') === 1 && b.srv.server.subscriberCount('room') === 2, 'subscriptions');
    for (let i = 0; i < 20; i++) onA.ws.send(`a${i}`);
    for (let i = 0; i < 20; i++) onB.ws.send(`b${i}`);
    for (const client of [onA, onB, other]) {
      const got = texts(await client.rec.messages.take(40, 'all 40 messages', 10_000));
      assert.deepEqual(got.filter((text) => text.startsWith('a')), Array.from({ length: 20 }, (_, i) => `a${i}`));
      assert.deepEqual(got.filter((text) => text.startsWith('b')), Array.from({ length: 20 }, (_, i) => `b${i}`));
    }
    // Nothing more arrives (no echo of a node's own publish): a marker sent last is the next message.
    onB.ws.send('end');
    for (const client of [onA, onB, other]) assert.equal((await client.rec.messages.next('the marker', 10_000)).data.toString(), 'end');
  });

  test('broadcast and sendTo reach connections on another node; except crosses nodes', async (t) => {
    const redis = await RedisServer.start(t);
    const a = await node(t, redis);
    const b = await node(t, redis);
    const onA = await wsClient(t, a.srv.url);
    const onB = await wsClient(t, b.srv.url);
    const skipped = await wsClient(t, b.srv.url);
    const [targetOnB, skippedOnB] = (await b.srv.connections.take(2)).map((side) => side.connection);
    a.srv.server.broadcast('to all', { except: [skippedOnB!.id] });
    assert.equal((await onA.rec.messages.next('broadcast on A', 10_000)).data.toString(), 'to all');
    assert.equal((await onB.rec.messages.next('broadcast on B', 10_000)).data.toString(), 'to all');
    const results = a.srv.server.sendTo([targetOnB!.id], Buffer.from([1, 2, 3]));
    assert.equal(results.length, 1);
    assert.equal(results[0]!.remote, true);
    assert.equal(results[0]!.success, true);
    const direct = await onB.rec.messages.next('sendTo on B', 10_000);
    assert.equal(direct.isBinary, true);
    assert.deepEqual([...direct.data], [1, 2, 3]);
    a.srv.server.broadcast('last');
    assert.equal((await skipped.rec.messages.next('the message after the one it skipped', 10_000)).data.toString(), 'last');
    assert.equal(onA.rec.messages.pending + onB.rec.messages.pending <= 2, true);
  });

  test('cluster-wide counts of subscribers and connections, and a node that leaves disappears', async (t) => {
    const redis = await RedisServer.start(t);
    const a = await node(t, redis);
    const b = await node(t, redis);
    await wsClient(t, a.srv.url);
    await wsClient(t, b.srv.url);
    await wsClient(t, b.srv.url);
    await eventually(() => b.srv.server.clients.size === 2, 'clients on B');
    let subscribers = -1;
    let connections = -1;
    for (let i = 0; i < 100 && (subscribers !== 3 || connections !== 3); i++) {
      subscribers = await a.srv.server.clusterSubscriberCount('room');
      connections = await b.srv.server.clusterConnectionCount();
      if (subscribers !== 3 || connections !== 3) await sleep(50);
    }
    assert.equal(subscribers, 3);
    assert.equal(connections, 3);
    assert.equal(await a.srv.server.clusterSubscriberCount('nobody'), 0);
    // A topic the nodes have no subscribers of is a count of 0: every node is still counted after it.
    assert.equal(await a.srv.server.clusterSubscriberCount('room'), 3);
    assert.equal(await a.srv.server.clusterConnectionCount(), 3);
    await b.srv.close();
    assert.equal(await a.srv.server.clusterConnectionCount(), 1, 'a closed node leaves at once');
  });

  test('a count writes only what changed: twenty counts with nothing new write no hash; a change is written before the next count', async (t) => {
    const redis = await RedisServer.start(t);
    const a = await node(t, redis);
    const admin = redisClient(t, redis);
    await wsClient(t, a.srv.url);
    await eventually(() => a.srv.server.subscriberCount('room') === 1, 'subscription on A');
    assert.equal(await a.srv.server.clusterSubscriberCount('room'), 1);
    await admin.config('RESETSTAT');
    for (let i = 0; i < 20; i++) assert.equal(await a.srv.server.clusterSubscriberCount('room'), 1);
    assert.doesNotMatch(await admin.info('commandstats'), /cmdstat_(hset|del):/);
    await wsClient(t, a.srv.url);
    await eventually(() => a.srv.server.subscriberCount('room') === 2, 'second subscription on A');
    assert.equal(await a.srv.server.clusterSubscriberCount('room'), 2);
    assert.equal(await a.srv.server.clusterConnectionCount(), 2);
    const stats = await admin.info('commandstats');
    assert.match(stats, /cmdstat_hset:/);
    assert.doesNotMatch(stats, /cmdstat_del:/, 'the changed fields only, not the whole hash again');
    // Redis loses the node's hash while connected (FLUSHDB, an eviction): its count is still right, and the hash comes back.
    await admin.flushdb();
    assert.equal(await a.srv.server.clusterSubscriberCount('room'), 2);
    for (let i = 0; i < 500 && (await admin.keys('test:node:*')).length !== 1; i++) await sleep(10);
    assert.equal((await admin.keys('test:node:*')).length, 1, 'the hash written again');
    assert.equal(await a.srv.server.clusterConnectionCount(), 2);
  });

  test('Redis restarts: publishes meanwhile are buffered, then delivered once and in order', async (t) => {
    const redis = await RedisServer.start(t);
    const a = await node(t, redis);
    const b = await node(t, redis);
    const onA = await wsClient(t, a.srv.url);
    const onB = await wsClient(t, b.srv.url);
    await eventually(() => b.srv.server.subscriberCount('room') === 1, 'subscription on B');
    for (let i = 0; i < 10; i++) a.srv.server.publish('room', `m${i}`);
    await onB.rec.messages.take(10, 'before the restart', 10_000);
    await redis.kill();
    await waitFor(a.events, 'disconnected');
    for (let i = 10; i < 30; i++) a.srv.server.publish('room', `m${i}`);
    assert.equal(a.backplane.buffered, 20);
    await redis.restart();
    await waitFor(a.events, 'connected');
    const got = texts(await onB.rec.messages.take(20, 'after the restart', 10_000));
    assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => `m${i + 10}`));
    assert.deepEqual(texts(await onA.rec.messages.take(30, 'local', 1000)), Array.from({ length: 30 }, (_, i) => `m${i}`));
    a.srv.server.publish('room', 'end');
    assert.equal((await onB.rec.messages.next('the marker', 10_000)).data.toString(), 'end', 'no duplicate before it');
  });

  test('past the buffer bound, publishes are reported as dropped, never lost silently', async (t) => {
    const redis = await RedisServer.start(t);
    const a = await node(t, redis, { maxBuffered: 5 });
    const b = await node(t, redis);
    const onB = await wsClient(t, b.srv.url);
    await eventually(() => b.srv.server.subscriberCount('room') === 1, 'subscription on B');
    await redis.kill();
    await waitFor(a.events, 'disconnected');
    for (let i = 0; i < 8; i++) a.srv.server.publish('room', `m${i}`);
    const dropped = await waitFor(a.events, 'dropped');
    assert.deepEqual(dropped, { type: 'dropped', count: 3, reason: 'buffer-full' });
    await redis.restart();
    assert.deepEqual(texts(await onB.rec.messages.take(5, 'the buffered five', 10_000)), ['m0', 'm1', 'm2', 'm3', 'm4']);
    a.srv.server.publish('room', 'end');
    assert.equal((await onB.rec.messages.next('the marker', 10_000)).data.toString(), 'end');
  });

  test('closing a node while Redis is down reports what it could not send, and what is published after, as dropped (closed)', async (t) => {
    const redis = await RedisServer.start(t);
    const a = await node(t, redis);
    await redis.kill();
    await waitFor(a.events, 'disconnected');
    for (let i = 0; i < 3; i++) a.srv.server.publish('room', `m${i}`);
    assert.equal(a.backplane.buffered, 3);
    await a.srv.close();
    assert.deepEqual(await waitFor(a.events, 'dropped'), { type: 'dropped', count: 3, reason: 'closed' });
    assert.equal(a.backplane.buffered, 0);
    // A publish after close() is dropped for that reason too, not as if the buffer were full.
    a.srv.server.publish('room', 'after close');
    assert.deepEqual(await waitFor(a.events, 'dropped'), { type: 'dropped', count: 1, reason: 'closed' });
  });

  test("a publish Redis refuses (a reply error, not an outage) is reported as dropped (rejected), once, with Redis's answer; refusals of one turn are reported together", async (t) => {
    const redis = await RedisServer.start(t);
    const a = await node(t, redis);
    // Make the stream key a string: XADD now answers WRONGTYPE, a refusal that would repeat.
    const writer = redisClient(t, redis);
    await writer.del('test:bus');
    await writer.set('test:bus', 'not a stream');
    a.srv.server.publish('room', 'refused');
    const dropped = await waitFor(a.events, 'dropped');
    assert.deepEqual({ ...dropped, error: undefined }, { type: 'dropped', count: 1, reason: 'rejected', error: undefined });
    const reason = (dropped as { error?: Error }).error;
    assert.match(reason?.message ?? 'no error', /^Redis refused the message: WRONGTYPE/);
    assert.ok(reason instanceof BackplaneError && reason.cause === undefined && !('command' in reason), "not ioredis's error, which holds the message itself");
    assert.equal(a.backplane.buffered, 0, 'a refused entry is not kept to be sent again');
    for (let i = 0; i < 50; i++) a.srv.server.publish('room', `refused ${i}`);
    let count = 0;
    let events = 0;
    while (count < 50) {
      const event = await waitFor(a.events, 'dropped');
      assert.equal(event.type === 'dropped' && event.reason, 'rejected');
      count += (event as { count: number }).count;
      events++;
    }
    assert.equal(count, 50);
    assert.ok(events < 50, `${events} events for 50 refusals answered together`);
  });

  test('a publish Redis refused is not sent again after a Redis restart (it reached no node, so it is not in the replay window)', async (t) => {
    const { redis, a, b, onB } = await twoNodes(t);
    a.srv.server.publish('room', 'accepted');
    assert.equal((await onB.rec.messages.next('the accepted message', 10_000)).data.toString(), 'accepted');
    const writer = redisClient(t, redis);
    await writer.del('test:bus');
    await writer.set('test:bus', 'not a stream');
    a.srv.server.publish('room', 'refused');
    assert.equal((await waitFor(a.events, 'dropped')).type === 'dropped', true);
    await redis.kill();
    await redis.restart();
    await waitFor(a.events, 'connected');
    await waitFor(b.events, 'connected');
    a.srv.server.publish('room', 'after');
    // The replay window ('accepted') goes again, and B drops it as a repeat; 'refused' never comes.
    assert.equal((await onB.rec.messages.next('the next message on B', 10_000)).data.toString(), 'after');
  });

  test('a message Redis closes the connection on, each time (over its proto-max-bulk-len), is given up after a few tries: later ones go through', async (t) => {
    const { redis, a, onB } = await twoNodes(t);
    const admin = redisClient(t, redis);
    await admin.config('SET', 'proto-max-bulk-len', String(1024 * 1024));
    a.srv.server.publish('room', Buffer.alloc(2 * 1024 * 1024, 0x61));
    a.srv.server.publish('room', 'small');
    const dropped = await waitFor(a.events, 'dropped');
    assert.deepEqual({ ...dropped, error: undefined }, { type: 'dropped', count: 1, reason: 'rejected', error: undefined });
    assert.match((dropped as { error?: Error }).error?.message ?? 'no error', /closed the connection each of the 5 times a message of \d+ bytes was sent/);
    assert.equal((await onB.rec.messages.next('the message after the one given up', 10_000)).data.toString(), 'small');
  });

  test('a batch of entries larger than Redis lets a reader take at once is read in smaller batches: nothing is stuck', async (t) => {
    const { redis, a, onB } = await twoNodes(t);
    const admin = redisClient(t, redis);
    // Redis closes a normal client's connection once its output buffer holds 8 MiB.
    await admin.config('SET', 'client-output-buffer-limit', 'normal 8mb 4mb 10');
    for (let i = 0; i < 20; i++) a.srv.server.publish('room', Buffer.alloc(1024 * 1024, i));
    a.srv.server.publish('room', 'after');
    const got = await onB.rec.messages.take(21, 'the 21 messages on B', 20_000);
    assert.deepEqual(got.slice(0, 20).map((message) => [message.data.length, message.data[0]]), Array.from({ length: 20 }, (_, i) => [1024 * 1024, i]));
    assert.equal(got[20]!.data.toString(), 'after');
  });

  test('one entry larger than Redis lets a reader take is skipped and reported as missed: the messages after it go through', async (t) => {
    const { redis, a, b, onB } = await twoNodes(t);
    const admin = redisClient(t, redis);
    await admin.config('SET', 'client-output-buffer-limit', 'normal 256kb 0 0');
    a.srv.server.publish('room', 'before');
    a.srv.server.publish('room', Buffer.alloc(1024 * 1024, 0x61));
    a.srv.server.publish('room', 'after');
    assert.deepEqual(texts(await onB.rec.messages.take(2, 'the messages around the large one on B', 20_000)), ['before', 'after']);
    assert.deepEqual(await waitFor(b.events, 'missed'), { type: 'missed', node: a.backplane.nodeId, count: 1 });
  });

  test('repeats (by node and sequence number) are dropped, gaps are reported as missed', async (t) => {
    const redis = await RedisServer.start(t);
    const b = await node(t, redis);
    const onB = await wsClient(t, b.srv.url);
    await eventually(() => b.srv.server.subscriberCount('room') === 1, 'subscription on B');
    // Another node's entries, written straight into the stream.
    const write = streamWriter(t, redis);
    const entry = (seq: number, text: string) => write({ n: 'ghost', s: seq }, text);
    await entry(1, 'one');
    await entry(1, 'one again');
    await entry(2, 'two');
    await entry(6, 'six');
    await entry(4, 'four, late');
    await entry(7, 'seven');
    assert.deepEqual(texts(await onB.rec.messages.take(4, 'the four new ones', 10_000)), ['one', 'two', 'six', 'seven']);
    assert.deepEqual(await waitFor(b.events, 'missed'), { type: 'missed', node: 'ghost', count: 3 });
  });

  test('a node that joined after some publishes does not get them when Redis restarts and they are sent again', async (t) => {
    const redis = await RedisServer.start(t);
    const a = await node(t, redis);
    for (let i = 1; i <= 3; i++) a.srv.server.publish('room', `old-${i}`);
    await eventually(() => a.backplane.buffered === 0, 'the old ones acknowledged');
    const b = await node(t, redis);
    const onB = await wsClient(t, b.srv.url);
    await eventually(() => b.srv.server.subscriberCount('room') === 1, 'subscription on B');
    // Redis loses its stream; A sends its replay window again, older than B.
    await redis.kill();
    await waitFor(a.events, 'disconnected');
    await redis.restart();
    await waitFor(a.events, 'connected');
    a.srv.server.publish('room', 'new-1');
    assert.equal((await onB.rec.messages.next('the first message on B', 10_000)).data.toString(), 'new-1');
  });

  test('entries first published before a node joined (their origin) are not delivered to it; later ones are', async (t) => {
    const redis = await RedisServer.start(t);
    const b = await node(t, redis);
    const onB = await wsClient(t, b.srv.url);
    await eventually(() => b.srv.server.subscriberCount('room') === 1, 'subscription on B');
    const write = streamWriter(t, redis);
    const entry = (node: string, text: string, origin?: string) => write({ n: node, s: 1, ...(origin === undefined ? {} : { o: origin }) }, text);
    await entry('old', 'sent again, first published long before B', '1-1');
    await entry('new', 'published now');
    await entry('later', 'sent again, first published after B joined', `${Date.now() + 60_000}-0`);
    assert.deepEqual(texts(await onB.rec.messages.take(2, 'the two for B', 10_000)), ['published now', 'sent again, first published after B joined']);
  });

  test('a node that joins later gets what is published from then on; cluster counts reject while Redis is down', async (t) => {
    const redis = await RedisServer.start(t);
    const a = await node(t, redis);
    a.srv.server.publish('room', 'before');
    const b = await node(t, redis);
    const onB = await wsClient(t, b.srv.url);
    await eventually(() => b.srv.server.subscriberCount('room') === 1, 'subscription on B');
    a.srv.server.publish('room', 'after');
    assert.equal((await onB.rec.messages.next('after', 10_000)).data.toString(), 'after');
    await redis.kill();
    await waitFor(a.events, 'disconnected');
    await assert.rejects(a.srv.server.clusterConnectionCount(), { code: 'SW_BACKPLANE_UNAVAILABLE' });
  });

  test("'disconnected' says why: a first connection that fails is reported once (not at every retry), a loss with its error", async (t) => {
    const redis = await RedisServer.start(t);
    await redis.kill();
    const backplane = new RedisBackplane({ url: redis.url, prefix: 'test', maxReconnectDelay: 50 });
    const events: BackplaneEvent[] = [];
    const srv = await serve(t, { backplane });
    srv.server.on('backplane', (event) => events.push(event));
    await eventually(() => events.length > 0, 'the first report');
    // Retries every 50 ms meanwhile: still one report, since the reason did not change.
    await sleep(500);
    assert.equal(events.length, 1, JSON.stringify(events));
    const first = events[0]! as { type: string; error?: Error };
    assert.equal(first.type, 'disconnected');
    assert.match(first.error?.message ?? '', /ECONNREFUSED/);
    await redis.restart();
    await eventually(() => events.some((event) => event.type === 'connected'), 'connected');
    await redis.kill();
    // (At least: the first retry's refusal may follow within one look, 50 ms later.)
    await eventually(() => events.filter((event) => event.type === 'disconnected').length >= 2, 'the loss');
    const loss = events.filter((event) => event.type === 'disconnected')[1] as { error?: Error };
    // Redis was killed: its kernel closes the connection with a FIN (no error: said so), or with a
    // reset when a command of ours was still unread there (then that error).
    assert.match(loss.error?.message ?? '', /^(the connection to Redis closed|read ECONNRESET)$/);
    // Then the retries' reason, once.
    await eventually(() => events.length >= 4, 'the reason of the failing retries');
    await sleep(300);
    assert.deepEqual(
      events.map((event) => `${event.type} ${(event as { error?: Error }).error?.message ?? ''}`.trim()),
      ['disconnected ' + first.error!.message, 'connected', 'disconnected ' + loss.error!.message, 'disconnected ' + first.error!.message],
    );
  });

  test("cluster-wide counts reject before the node's first 'connected' event, and resolve after it", async (t) => {
    const redis = await RedisServer.start(t);
    const writer = redisClient(t, redis);
    // Redis answers, but the stream key holds a string: the reader cannot start, so the node
    // never connects, while the publishing connection is ready.
    await writer.set('test:bus', 'not a stream');
    const backplane = new RedisBackplane({ url: redis.url, prefix: 'test', maxReconnectDelay: 50 });
    const events = new Queue<BackplaneEvent>();
    const server = new WebSocketServer({ backplane });
    server.on('backplane', (event) => events.push(event));
    t.after(() => server.close());
    for (let i = 0; i < 10; i++) {
      await assert.rejects(server.clusterConnectionCount(), { code: 'SW_BACKPLANE_UNAVAILABLE' });
      await assert.rejects(server.clusterSubscriberCount('room'), { code: 'SW_BACKPLANE_UNAVAILABLE' });
      await sleep(50);
    }
    assert.ok(!events.history.some((event) => event.type === 'connected'));
    await writer.del('test:bus');
    await waitFor(events, 'connected');
    assert.equal(await server.clusterConnectionCount(), 0);
  });

  test('a Redis that stops answering without closing is noticed (PING), reported, and reconnected to once it answers', async (t) => {
    const redis = await RedisServer.start(t);
    const a = await node(t, redis, { responseTimeout: 2000 });
    const b = await node(t, redis);
    const onB = await wsClient(t, b.srv.url);
    await eventually(() => b.srv.server.subscriberCount('room') === 1, 'subscription on B');
    redis.freeze();
    const lost = (await waitFor(a.events, 'disconnected')) as { error?: Error };
    assert.match(lost.error?.message ?? '', /did not answer a PING within 2000 ms/);
    await assert.rejects(a.srv.server.clusterConnectionCount(), { code: 'SW_BACKPLANE_UNAVAILABLE' });
    a.srv.server.publish('room', 'while frozen');
    redis.thaw();
    await waitFor(a.events, 'connected');
    assert.equal((await onB.rec.messages.next('the message published meanwhile', 10_000)).data.toString(), 'while frozen');
  });

  test('a Redis that accepts connections and answers nothing from the start: reported once the handshake is not answered in responseTimeout, connected once it answers', async (t) => {
    const redis = await RedisServer.start(t);
    redis.freeze();
    t.after(() => redis.thaw());
    const backplane = new RedisBackplane({ url: redis.url, prefix: 'test', maxReconnectDelay: 100, responseTimeout: 2000 });
    const events = new Queue<BackplaneEvent>();
    const srv = await serve(t, { backplane });
    srv.server.on('backplane', (event) => events.push(event));
    const lost = (await waitFor(events, 'disconnected')) as { error?: Error };
    assert.match(lost.error?.message ?? '', /did not answer its first commands within 2000 ms/);
    redis.thaw();
    await waitFor(events, 'connected');
  });

  test('a DB in the URL that Redis refuses (out of range): reported, and never connected in DB 0 instead', async (t) => {
    const redis = await RedisServer.start(t);
    const backplane = new RedisBackplane({ url: `${redis.url}/99`, prefix: 'db99', maxReconnectDelay: 50 });
    const events: BackplaneEvent[] = [];
    const srv = await serve(t, { backplane });
    srv.server.on('backplane', (event) => events.push(event));
    await eventually(() => events.length > 0, 'the first report');
    srv.server.publish('room', 'not to DB 0');
    await sleep(1500);
    assert.ok(events.every((event) => event.type === 'disconnected'), JSON.stringify(events.map((event) => event.type)));
    assert.match((events[0] as { error?: Error }).error?.message ?? '', /DB index is out of range/);
    assert.deepEqual(await redisClient(t, redis).keys('db99*'), [], 'nothing written in DB 0');
  });

  test('reads Redis refuses while connected (the stream key made another type) report disconnected, with the refusal; connected again once reads succeed', async (t) => {
    const redis = await RedisServer.start(t);
    const a = await node(t, redis);
    const client = redisClient(t, redis);
    await client.del('test:bus');
    await client.set('test:bus', 'not a stream');
    const lost = (await waitFor(a.events, 'disconnected')) as { error?: Error };
    assert.match(lost.error?.message ?? '', /WRONGTYPE/);
    await client.del('test:bus');
    await waitFor(a.events, 'connected');
  });

  test('close() ends while Redis does not answer; what was handed on unacknowledged is reported as unconfirmed', async (t) => {
    const redis = await RedisServer.start(t);
    const a = await node(t, redis, { responseTimeout: 2000 });
    redis.freeze();
    t.after(() => redis.thaw());
    for (let i = 0; i < 3; i++) a.srv.server.publish('room', `m${i}`);
    assert.equal(a.backplane.buffered, 3);
    // (Bounded: the drain waits 2 s, leaving the cluster at most responseTimeout.)
    await withTimeout(a.srv.server.close(), 'close() while Redis does not answer', 15_000);
    assert.deepEqual(await waitFor(a.events, 'dropped'), { type: 'dropped', count: 3, reason: 'unconfirmed' });
    assert.equal(a.backplane.buffered, 0);
  });

  test('a Buffer the caller changes after publish() returns reaches other nodes as it was published', async (t) => {
    const redis = await RedisServer.start(t);
    const a = await node(t, redis);
    const b = await node(t, redis);
    const onA = await wsClient(t, a.srv.url);
    const onB = await wsClient(t, b.srv.url);
    await eventually(() => a.srv.server.subscriberCount('room') === 1 && b.srv.server.subscriberCount('room') === 1, 'subscriptions');
    const bytes = Buffer.from('ORIGINAL');
    a.srv.server.publish('room', bytes);
    bytes.write('MUTATED!');
    for (const client of [onA, onB]) assert.equal((await client.rec.messages.next('the message', 10_000)).data.toString(), 'ORIGINAL');
  });

  test('misuse is a UsageError (SW_INVALID_STATE), not an unavailable backplane: counts before a server started it, a second server on it', async (t) => {
    const redis = await RedisServer.start(t);
    const backplane = new RedisBackplane({ url: redis.url, prefix: 'test' });
    const misuse = (error: unknown): boolean => error instanceof UsageError && error.code === 'SW_INVALID_STATE' && !(error instanceof BackplaneError);
    await assert.rejects(backplane.subscriberCount('room'), misuse);
    await assert.rejects(backplane.connectionCount(), misuse);
    const server = new WebSocketServer({ backplane });
    t.after(() => server.close());
    assert.throws(() => new WebSocketServer({ backplane }), (error: unknown) => misuse(error) && /already serves a server/.test((error as Error).message));
  });

  test('options are checked: responseTimeout below a read block (other than 0) and non-numbers are refused', () => {
    assert.throws(() => new RedisBackplane({ responseTimeout: 500 }), RangeError);
    assert.throws(() => new RedisBackplane({ replayWindowBytes: 'lots' as unknown as number }), TypeError);
    // (Not started: no connection is made.)
    assert.doesNotThrow(() => new RedisBackplane({ responseTimeout: 0 }));
    assert.doesNotThrow(() => new RedisBackplane({ responseTimeout: 2000 }));
  });

  test('options are checked: a url that is not redis://HOST[:PORT][/DB] is refused, where ioredis would read it as a socket path or a NaN DB', () => {
    for (const url of ['http://127.0.0.1:6379', '127.0.0.1:6379', 'redis://', 'redis://127.0.0.1:99999']) {
      assert.throws(() => new RedisBackplane({ url }), TypeError, url);
    }
    for (const url of ['redis://127.0.0.1:6379/abc', 'redis://127.0.0.1/-1', 'redis://127.0.0.1/1.5']) {
      assert.throws(() => new RedisBackplane({ url }), { name: 'RangeError', message: /the DB in url must be a number/ }, url);
    }
    assert.throws(() => new RedisBackplane({ url: 'http://user:secret@h/' }), (error: Error) => !error.message.includes('secret'));
    assert.throws(() => new RedisBackplane({ url: 6379 as unknown as string }), TypeError);
    for (const url of ['redis://127.0.0.1', 'redis://h:6379/', 'rediss://user:pw@h:6380/3', 'redis://[::1]:6379/0']) {
      assert.doesNotThrow(() => new RedisBackplane({ url }), url);
    }
  });

  test('options are checked: values that would switch the feature off (no buffer, presence expiring at once, reconnecting in a loop) are refused', () => {
    for (const [options, name] of [
      [{ maxBuffered: 0 }, 'maxBuffered'],
      [{ maxBufferedBytes: 0 }, 'maxBufferedBytes'],
      [{ streamLength: 0 }, 'streamLength'],
      [{ presenceTtl: 999 }, 'presenceTtl'],
      [{ maxReconnectDelay: 9 }, 'maxReconnectDelay'],
    ] as const) {
      assert.throws(() => new RedisBackplane(options), { name: 'RangeError', message: new RegExp(`${name} must be a whole number at least`) });
    }
    // A replay window of 0 is none, as documented; each lowest value is taken.
    assert.doesNotThrow(() => new RedisBackplane({ replayWindow: 0, replayWindowBytes: 0, maxBuffered: 1, maxBufferedBytes: 1, streamLength: 1, presenceTtl: 1000, maxReconnectDelay: 10 }));
  });

  test("ioredis's commandTimeout (passed in `redis`) does not wedge the node: a Redis busy for longer than it delays the publish, which then goes through", async (t) => {
    const redis = await RedisServer.start(t);
    const a = await node(t, redis, { redis: { commandTimeout: 300 } });
    const b = await node(t, redis);
    const onB = await wsClient(t, b.srv.url);
    await eventually(() => b.srv.server.subscriberCount('room') === 1, 'subscription on B');
    redis.freeze();
    t.after(() => redis.thaw());
    a.srv.server.publish('room', 'while busy');
    // (Well past the 300 ms, well within the health check's 5000.)
    await sleep(1200);
    redis.thaw();
    a.srv.server.publish('room', 'after');
    assert.deepEqual(texts(await onB.rec.messages.take(2, 'both messages on B', 10_000)), ['while busy', 'after']);
    assert.equal(a.backplane.buffered, 0);
    assert.deepEqual(a.events.history.map((event) => event.type), ['connected'], 'no outage was reported');
  });

  test('a publish that fails without an answer from Redis on a connection still ready (its outcome unknown) makes the connection again: it goes again, once', async (t) => {
    const { a, onB } = await twoNodes(t);
    // (What ioredis gives for a command timed out on its side: the connection stays ready.)
    const pub = (a.backplane as unknown as { pub: Redis }).pub;
    const xadd = pub.xadd;
    let failures = 0;
    pub.xadd = ((...args: Parameters<Redis['xadd']>) => {
      if (failures++ === 0) return Promise.reject(new Error('Command timed out'));
      return xadd.apply(pub, args);
    }) as Redis['xadd'];
    a.srv.server.publish('room', 'failed once');
    const lost = (await waitFor(a.events, 'disconnected')) as { error?: Error };
    assert.match(lost.error?.message ?? '', /a publish failed without an answer from Redis \(Command timed out\)/);
    await waitFor(a.events, 'connected');
    a.srv.server.publish('room', 'after');
    assert.deepEqual(texts(await onB.rec.messages.take(2, 'both messages on B', 10_000)), ['failed once', 'after']);
    assert.equal(a.backplane.buffered, 0);
    a.srv.server.publish('room', 'end');
    assert.equal((await onB.rec.messages.next('the marker', 10_000)).data.toString(), 'end', 'no repeat before it');
    assert.ok(!a.events.history.some((event) => event.type === 'dropped'));
  });

  test('a Redis that refuses INFO (an ACL without it): a key stands in for the run id, nodes connect and deliver, and a restart is still noticed', async (t) => {
    // (ioredis, asked to check readiness with INFO, would warn on every connect that it cannot.)
    const warn = t.mock.method(console, 'warn');
    const redis = await RedisServer.start(t);
    const admin = redisClient(t, redis);
    const restrict = () => admin.call('ACL', 'SETUSER', 'app', 'on', '>pw', '~*', '&*', '+@all', '-info');
    await restrict();
    const url = `redis://app:pw@127.0.0.1:${redis.port}`;
    const a = await node(t, redis, { url });
    const b = await node(t, redis, { url });
    const onB = await wsClient(t, b.srv.url);
    await eventually(() => b.srv.server.subscriberCount('room') === 1, 'subscription on B');
    a.srv.server.publish('room', 'm1');
    assert.equal((await onB.rec.messages.next('m1 on B', 10_000)).data.toString(), 'm1');
    assert.match(String(await admin.get('test:run')), /^[0-9a-f]{16}$/);
    // Redis restarts (losing everything, the key too): A sends its replay window again, B reads the new stream from its start.
    await redis.kill();
    await waitFor(a.events, 'disconnected');
    a.srv.server.publish('room', 'm2');
    await redis.restart();
    const again = redisClient(t, redis);
    await again.call('ACL', 'SETUSER', 'app', 'on', '>pw', '~*', '&*', '+@all', '-info');
    await waitFor(a.events, 'connected');
    a.srv.server.publish('room', 'm3');
    assert.deepEqual(texts(await onB.rec.messages.take(2, 'm2 and m3 on B', 10_000)), ['m2', 'm3']);
    assert.deepEqual(warn.mock.calls.map((call) => String(call.arguments[0])), []);
  });

  test('a Redis with INFO renamed away (as some hosted services do): nodes connect, deliver, and notice a restart', async (t) => {
    const redis = await RedisServer.start(t, undefined, ['--rename-command', 'INFO', '']);
    const a = await node(t, redis);
    const b = await node(t, redis);
    const onB = await wsClient(t, b.srv.url);
    await eventually(() => b.srv.server.subscriberCount('room') === 1, 'subscription on B');
    a.srv.server.publish('room', 'm1');
    assert.equal((await onB.rec.messages.next('m1 on B', 10_000)).data.toString(), 'm1');
    await redis.kill();
    await waitFor(a.events, 'disconnected');
    a.srv.server.publish('room', 'm2');
    await redis.restart();
    await waitFor(a.events, 'connected');
    a.srv.server.publish('room', 'm3');
    assert.deepEqual(texts(await onB.rec.messages.take(2, 'm2 and m3 on B', 10_000)), ['m2', 'm3']);
  });

  test('a Redis that refuses INFO and the key standing in for it: reported with the reason, once, and asked again less and less often', async (t) => {
    const redis = await RedisServer.start(t);
    const admin = redisClient(t, redis);
    await admin.call('ACL', 'SETUSER', 'app', 'on', '>pw', '~test:bus', '~test:node*', '&*', '+@all', '-info');
    const backplane = new RedisBackplane({ url: `redis://app:pw@127.0.0.1:${redis.port}`, prefix: 'test', maxReconnectDelay: 1000 });
    const events = new Queue<BackplaneEvent>();
    const srv = await serve(t, { backplane });
    srv.server.on('backplane', (event) => events.push(event));
    const first = (await waitFor(events, 'disconnected')) as { error?: Error };
    assert.match(first.error?.message ?? '', /Redis refused INFO \(NOPERM.*test:run/);
    const infos = async (): Promise<number> => Number(/cmdstat_info:.*rejected_calls=(\d+)/.exec(await admin.info('commandstats'))?.[1] ?? 0);
    const before = await infos();
    await sleep(2000);
    const during = (await infos()) - before;
    // (Two connections, each asking at most about once a second after the first few tries; at a steady 50 ms it would be 80.)
    assert.ok(during <= 20, `INFO asked ${during} times in 2 s`);
    assert.deepEqual(events.history.map((event) => event.type), ['disconnected'], JSON.stringify(events.history));
    srv.server.publish('room', 'kept');
    assert.equal(backplane.buffered, 1);
  });

  test('a URL of a server that is not Redis: each reason is reported once per outage, not at every retry', async (t) => {
    const sockets = new Set<Socket>();
    const garbage: Server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('data', () => socket.write('HTTP/1.1 400 Bad Request\r\n\r\n'));
    });
    await new Promise<void>((resolve) => garbage.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      for (const socket of sockets) socket.destroy();
      garbage.close();
    });
    const port = (garbage.address() as { port: number }).port;
    const backplane = new RedisBackplane({ url: `redis://127.0.0.1:${port}`, prefix: 'test', maxReconnectDelay: 20 });
    const events: BackplaneEvent[] = [];
    const srv = await serve(t, { backplane });
    srv.server.on('backplane', (event) => events.push(event));
    await eventually(() => events.length > 0, 'the first report');
    // Dozens of attempts meanwhile, each failing (in two ways that take turns).
    await sleep(1000);
    assert.ok(sockets.size >= 10, `${sockets.size} attempts`);
    assert.ok(events.length <= 3, JSON.stringify(events.map((event) => (event as { error?: Error }).error?.message)));
    assert.ok(events.every((event) => event.type === 'disconnected'));
    assert.equal(new Set(events.map((event) => (event as { error?: Error }).error?.message)).size, events.length, 'each reason once');
  });
});

// (No redis-server needed: the Redis here is a port that refuses connections.)
test('a server closed while Redis is unreachable leaves nothing that keeps its process alive (no wait on a Redis client timer)', async () => {
  const refusing = createServer();
  await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
  const port = (refusing.address() as { port: number }).port;
  await new Promise((resolve) => refusing.close(resolve));
  const script = join(ROOT, 'test', 'redis', 'fixtures', 'close-unreachable.mjs');
  const run = promisify(execFile)(process.execPath, [script], { env: { ...process.env, REDIS_URL: `redis://127.0.0.1:${port}` }, timeout: 20_000 });
  const { stdout } = await withTimeout(run, 'the node to close', 25_000);
  assert.deepEqual(JSON.parse(stdout), []);
});
