/**
 * Topics over real sockets: subscribe/unsubscribe, connection.topics, publish() reaching only
 * subscribers, subscriberCount, leaving topics on close, and publishing to permessage-deflate clients.
 */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { SockwaveError, connect, type Connection } from '../../src/index.js';
import { TopicRegistry } from '../../src/server/topics.js';
import { payloadBytes, sha256 } from '../support/net.js';
import { eventually, serve, wsClient } from '../support/server-kit.js';

type WsClient = Awaited<ReturnType<typeof wsClient>>;

/** Each client's messages, as text, up to and including 'end' (the test broadcasts it last). */
function untilEnd(clients: readonly WsClient[]): Promise<string[][]> {
  return Promise.all(
    clients.map(async ({ rec }) => {
      const out: string[] = [];
      for (;;) {
        const m = await rec.messages.next('a message');
        out.push(m.data.toString());
        if (out.at(-1) === 'end') return out;
      }
    }),
  );
}

describe('topics', { timeout: 60_000 }, () => {
  test('subscribe() and unsubscribe() answer whether anything changed, and connection.topics follows', async (t) => {
    const srv = await serve(t, { onConnection: () => ({}) });
    await wsClient(t, srv.url);
    const connection = (await srv.connections.next('the connection')).connection;
    assert.deepEqual([...connection.topics], []);
    assert.equal(connection.subscribe('news'), true);
    assert.equal(connection.subscribe('news'), false);
    assert.equal(connection.subscribe('sport'), true);
    assert.deepEqual([...connection.topics].sort(), ['news', 'sport']);
    assert.equal(srv.server.subscriberCount('news'), 1);
    assert.equal(connection.unsubscribe('news'), true);
    assert.equal(connection.unsubscribe('news'), false);
    assert.equal(connection.unsubscribe('never'), false);
    assert.deepEqual([...connection.topics], ['sport']);
    assert.equal(srv.server.subscriberCount('news'), 0);
    assert.equal(srv.server.subscriberCount('sport'), 1);
  });

  test('publish() reaches only the subscribers of the topic and returns their number', async (t) => {
    const srv = await serve(t, { onConnection: () => ({}) });
    const clients = [await wsClient(t, srv.url), await wsClient(t, srv.url), await wsClient(t, srv.url)];
    const sides = (await srv.connections.take(3, 'three connections')).map((s) => s.connection);
    sides[0]!.subscribe('a');
    sides[1]!.subscribe('b');
    sides[2]!.subscribe('a');
    sides[2]!.subscribe('b');
    assert.equal(srv.server.subscriberCount('a'), 2);
    assert.equal(srv.server.subscriberCount('b'), 2);
    assert.equal(srv.server.subscriberCount('c'), 0);
    assert.equal(srv.server.publish('a', 'to a'), 2);
    assert.equal(srv.server.publish('b', Buffer.from('to b')), 2);
    assert.equal(srv.server.publish('c', 'to nobody'), 0);
    srv.server.broadcast('end');
    const all = await untilEnd(clients);
    assert.deepEqual(all, [['to a', 'end'], ['to b', 'end'], ['to a', 'to b', 'end']]);
  });

  test('publish() with except, filter and report', async (t) => {
    const srv = await serve<{ name: string }>(t, { onConnection: (request) => ({ data: { name: request.path.slice(1) } }) });
    const clients = [await wsClient(t, `${srv.url}/ann`), await wsClient(t, `${srv.url}/bob`), await wsClient(t, `${srv.url}/cid`)];
    const sides = (await srv.connections.take(3, 'three connections')).map((s) => s.connection);
    for (const side of sides) side.subscribe('room');
    assert.equal(srv.server.publish('room', 'not to ann', { except: (function* () { yield sides[0]!; })() }), 2);
    assert.equal(srv.server.publish('room', 'only to cid', { filter: (c) => c.data.name === 'cid' }), 1);
    const results = srv.server.publish('room', 'report', { report: true });
    assert.deepEqual(results.map((r) => [r.id, r.success, r.payloadSize, r.wireSize]).sort(), sides.map((s) => [s.id, true, 6, 8]).sort());
    const firsts = await Promise.all(clients.map(({ rec }) => rec.messages.next('the first message')));
    assert.deepEqual(firsts.map((m) => m.data.toString()), ['report', 'not to ann', 'not to ann']);
  });

  test('subscribe() of a topic that is not a string throws a TypeError and subscribes to nothing', async (t) => {
    const srv = await serve(t, { onConnection: () => ({}) });
    await wsClient(t, srv.url);
    const connection = (await srv.connections.next('the connection')).connection;
    for (const topic of [42, undefined, null, { name: 'news' }, ['news']]) {
      assert.throws(() => connection.subscribe(topic as never), TypeError, String(topic));
    }
    assert.deepEqual([...connection.topics], []);
    assert.equal(srv.server.subscriberCount(42 as never), 0);
    assert.equal(srv.server.subscriberCount('42'), 0);
  });

  test('publish() whose filter unsubscribes and resubscribes the connection it is asked about, or subscribes another, reaches each subscriber present at the start exactly once, and ends', async (t) => {
    const srv = await serve(t, { onConnection: () => ({}) });
    const clients = [await wsClient(t, srv.url), await wsClient(t, srv.url), await wsClient(t, srv.url), await wsClient(t, srv.url)];
    const [a, b, c, d] = (await srv.connections.take(4, 'four connections')).map((s) => s.connection);
    for (const side of [a!, b!, c!]) side.subscribe('t');
    const name = (connection: unknown): string => 'abcd'[[a, b, c, d].indexOf(connection as typeof a)]!;
    // A bound on the visits, so that an endless fan-out fails the test instead of hanging it.
    const BOUND = 100;
    let visits: string[] = [];
    // 1. The filter subscribes d, which was not a subscriber when publish() began.
    const first = srv.server.publish('t', 'm1', {
      filter: (connection) => {
        visits.push(name(connection));
        if (connection === a) d!.subscribe('t');
        return true;
      },
    });
    assert.deepEqual(visits, ['a', 'b', 'c']);
    assert.equal(first, 3);
    assert.equal(srv.server.subscriberCount('t'), 4);
    // 2. The filter takes each connection out of the topic and puts it back (to the end of the set).
    visits = [];
    const second = srv.server.publish('t', 'm2', {
      filter: (connection) => {
        visits.push(name(connection));
        if (visits.length < BOUND) {
          connection.unsubscribe('t');
          connection.subscribe('t');
        }
        return true;
      },
    });
    assert.deepEqual(visits, ['a', 'b', 'c', 'd']);
    assert.equal(second, 4);
    assert.equal(srv.server.subscriberCount('t'), 4);
    assert.deepEqual([a, b, c, d].map((side) => [...side!.topics]), [['t'], ['t'], ['t'], ['t']]);
    // Afterwards, an ordinary publish reaches every subscriber once.
    assert.equal(srv.server.publish('t', 'm3'), 4);
    srv.server.broadcast('end');
    const all = await untilEnd(clients);
    assert.deepEqual(all, [['m1', 'm2', 'm3', 'end'], ['m1', 'm2', 'm3', 'end'], ['m1', 'm2', 'm3', 'end'], ['m2', 'm3', 'end']]);
  });

  test('subscriptions made by handlers on client request (a chat room)', async (t) => {
    const srv = await serve(t, {
      onConnection: () => ({
        onMessage: (connection, data) => {
          const [command, room, ...text] = String(data).split(' ');
          if (command === 'join') connection.send(connection.subscribe(room!) ? `joined ${room}` : `already in ${room}`);
          if (command === 'leave') connection.send(connection.unsubscribe(room!) ? `left ${room}` : `not in ${room}`);
          if (command === 'say') srv.server.publish(room!, text.join(' '), { except: [connection] });
        },
      }),
    });
    const ann = await wsClient(t, srv.url);
    const bob = await wsClient(t, srv.url);
    ann.ws.send('join lobby');
    bob.ws.send('join lobby');
    bob.ws.send('join lobby');
    assert.equal((await ann.rec.messages.next('ann joined')).data.toString(), 'joined lobby');
    assert.deepEqual((await bob.rec.messages.take(2, 'bob joined twice')).map((m) => m.data.toString()), ['joined lobby', 'already in lobby']);
    ann.ws.send('say lobby hello bob');
    assert.equal((await bob.rec.messages.next('the chat line')).data.toString(), 'hello bob');
    bob.ws.send('leave lobby');
    assert.equal((await bob.rec.messages.next('bob left')).data.toString(), 'left lobby');
    assert.equal(srv.server.subscriberCount('lobby'), 1);
    ann.ws.send('say lobby anyone?');
    ann.ws.send('leave lobby');
    assert.equal((await ann.rec.messages.next('ann left')).data.toString(), 'left lobby');
    srv.server.broadcast('end');
    assert.equal((await bob.rec.messages.next('the next message to bob')).data.toString(), 'end', 'bob no longer hears the lobby');
    assert.equal(srv.server.subscriberCount('lobby'), 0);
  });

  test('a connection that closes leaves its topics: subscriberCount drops and publish skips it', async (t) => {
    const srv = await serve(t, { onConnection: () => ({}) });
    const a = await wsClient(t, srv.url);
    const b = await wsClient(t, srv.url);
    const [sideA, sideB] = await srv.connections.take(2, 'two connections');
    for (const side of [sideA!, sideB!]) {
      side.connection.subscribe('t1');
      side.connection.subscribe('t2');
    }
    assert.equal(srv.server.subscriberCount('t1'), 2);
    a.ws.close(1000);
    await sideA!.rec.closed();
    assert.equal(srv.server.subscriberCount('t1'), 1);
    assert.equal(srv.server.subscriberCount('t2'), 1);
    assert.deepEqual([...sideA!.connection.topics], []);
    assert.equal(srv.server.publish('t1', 'still here?'), 1);
    assert.equal((await b.rec.messages.next('the message')).data.toString(), 'still here?');
    // A terminated connection leaves too.
    sideB!.connection.terminate();
    await sideB!.rec.closed();
    assert.equal(srv.server.subscriberCount('t1'), 0);
    assert.equal(srv.server.publish('t1', 'nobody'), 0);
  });

  test('subscribe() on a closed connection returns false and adds nothing', async (t) => {
    const srv = await serve(t, { onConnection: () => ({}) });
    const { ws } = await wsClient(t, srv.url);
    const side = await srv.connections.next('the connection');
    ws.close(1000);
    await side.rec.closed();
    assert.equal(side.connection.subscribe('late'), false);
    assert.equal(srv.server.subscriberCount('late'), 0);
    assert.deepEqual([...side.connection.topics], []);
  });

  test('a client connection has no topics: subscribe() throws SW_INVALID_STATE', async (t) => {
    const srv = await serve(t, { onConnection: () => ({}) });
    const client = await connect(srv.url);
    t.after(() => client.terminate());
    assert.throws(() => client.subscribe('x'), (error: unknown) => error instanceof SockwaveError && error.code === 'SW_INVALID_STATE');
  });

  test('publish() to permessage-deflate and plain subscribers: every message arrives intact', async (t) => {
    const srv = await serve(t, { perMessageDeflate: true, onConnection: () => ({}) });
    const subscribers = [
      await wsClient(t, srv.url),
      await wsClient(t, srv.url),
      await wsClient(t, srv.url, undefined, { perMessageDeflate: false }),
    ];
    const outsider = await wsClient(t, srv.url);
    const sides = (await srv.connections.take(4, 'four connections')).map((s) => s.connection);
    for (const side of sides.slice(0, 3)) side.subscribe('feed');
    const messages: Array<string | Buffer> = [
      'small',
      JSON.stringify({ items: Array.from({ length: 2000 }, (_, i) => ({ i, label: `label ${i % 10}` })) }),
      payloadBytes(100_000, 4),
      'é'.repeat(50_000),
    ];
    for (const message of messages) assert.equal(srv.server.publish('feed', message), 3);
    const results = srv.server.publish('feed', 'x'.repeat(5000), { report: true });
    assert.deepEqual(
      results.map((r) => [r.id, r.compressed]),
      [
        [sides[0]!.id, true],
        [sides[1]!.id, true],
        [sides[2]!.id, false],
      ],
    );
    for (const { rec } of subscribers) {
      const got = await rec.messages.take(5, 'five published messages');
      for (let i = 0; i < messages.length; i++) {
        const expected = messages[i]!;
        if (typeof expected === 'string') assert.equal(got[i]!.data.toString(), expected, `message ${i}`);
        else assert.equal(sha256(got[i]!.data), sha256(expected), `message ${i}`);
        assert.equal(got[i]!.isBinary, typeof expected !== 'string');
      }
      assert.equal(got[4]!.data.toString(), 'x'.repeat(5000));
    }
    srv.server.broadcast('end');
    assert.equal((await outsider.rec.messages.next('the only message to the outsider')).data.toString(), 'end');
    await eventually(() => sides.every((s) => s.bufferedAmount === 0), 'every buffer to drain');
  });
});

describe('TopicRegistry', () => {
  /** The registry keeps connections as set members only: plain objects stand for them. */
  const fake = (name: string): Connection<unknown> => ({ name }) as unknown as Connection<unknown>;

  test('add() and remove() answer whether anything changed; a topic whose last member leaves is gone from counts() and names()', () => {
    const topics = new TopicRegistry();
    const [a, b] = [fake('a'), fake('b')];
    assert.equal(topics.add(a, 'news'), true);
    assert.equal(topics.add(a, 'news'), false);
    assert.equal(topics.add(b, 'news'), true);
    assert.equal(topics.add(b, 'sport'), true);
    assert.equal(topics.count('news'), 2);
    assert.equal(topics.count('none'), 0);
    assert.deepEqual([...topics.counts()], [['news', 2], ['sport', 1]]);
    assert.equal(topics.remove(a, 'sport'), false, 'a was not subscribed to sport');
    assert.equal(topics.remove(a, 'none'), false);
    assert.equal(topics.remove(a, 'news'), true);
    assert.equal(topics.remove(a, 'news'), false);
    assert.equal(topics.count('news'), 1);
    assert.equal(topics.remove(b, 'sport'), true);
    assert.deepEqual([...topics.counts()], [['news', 1]], 'an emptied topic is not reported with 0 members');
    assert.deepEqual([...topics.names()], ['news']);
    assert.equal(topics.remove(b, 'news'), true);
    assert.deepEqual([...topics.counts()], []);
    assert.equal(topics.count('news'), 0);
  });

  test('outside a publish, add() and remove() change the set in place: no copy per subscription', () => {
    const topics = new TopicRegistry();
    const [a, b, c] = [fake('a'), fake('b'), fake('c')];
    topics.add(a, 't');
    const before = topics.publishTo('t', (subscribers) => subscribers);
    topics.add(b, 't');
    topics.add(c, 't');
    topics.remove(a, 't');
    const after = topics.publishTo('t', (subscribers) => subscribers);
    assert.equal(after, before, 'the set was replaced by a copy');
    assert.deepEqual([...after], [b, c]);
  });

  test('publishTo() of a topic nobody subscribed runs the publish over no subscribers and returns its result', () => {
    const topics = new TopicRegistry();
    assert.equal(topics.publishTo('none', (subscribers) => `ran over ${subscribers.size}`), 'ran over 0');
  });

  test('changes made during a publish, nested publishes to the same topic included, are not seen by it but are kept', () => {
    const topics = new TopicRegistry();
    const [a, b, c] = [fake('a'), fake('b'), fake('c')];
    topics.add(a, 't');
    topics.add(b, 't');
    const seen = topics.publishTo('t', (subscribers) => {
      const out: Connection<unknown>[] = [];
      for (const member of subscribers) {
        out.push(member);
        if (member === a) {
          // A publish to the same topic from inside this one (a filter, a 'limit' listener) ends
          // first: this publish still goes through its set.
          assert.equal(topics.publishTo('t', (inner) => inner.size), 2);
          topics.add(c, 't');
          topics.remove(b, 't');
          topics.add(b, 't');
        }
      }
      return out;
    });
    assert.deepEqual(seen, [a, b], 'the publish reached the subscribers present when it began, once each');
    assert.equal(topics.count('t'), 3);
    assert.deepEqual(topics.publishTo('t', (subscribers) => [...subscribers]), [a, c, b]);
  });

  test('a member removed during a publish is removed for the next one, and an emptied topic is gone', () => {
    const topics = new TopicRegistry();
    const a = fake('a');
    topics.add(a, 't');
    const sizes = topics.publishTo('t', (subscribers) => {
      topics.remove(a, 't');
      return subscribers.size;
    });
    assert.equal(sizes, 1, 'the publish kept its set');
    assert.equal(topics.count('t'), 0);
    assert.deepEqual([...topics.counts()], []);
    assert.equal(topics.add(a, 't'), true);
    assert.equal(topics.count('t'), 1);
  });
});
