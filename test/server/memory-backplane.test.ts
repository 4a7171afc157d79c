/**
 * The default backplane: a server alone is a cluster of one; servers given one MemoryBus share
 * publish, broadcast, sendTo and the cluster-wide counts.
 */
import { describe, test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { BackplaneError, MemoryBackplane, MemoryBus, UsageError, WebSocketServer, type Connection } from '../../src/index.js';
import { type BackplaneNode, type Envelope } from '../../src/server/backplane.js';
import { type StartedServer } from '../support/net.js';
import { eventually, serve, wsClient } from '../support/server-kit.js';

async function member(t: TestContext, bus?: MemoryBus): Promise<StartedServer<unknown>> {
  return serve(t, {
    ...(bus ? { backplane: new MemoryBackplane(bus) } : {}),
    onConnection: () => ({ onOpen: (connection: Connection) => void connection.subscribe('room') }),
  });
}

/** Two servers on one bus, each with one client subscribed to 'room'. */
async function twoNodes(t: TestContext): Promise<{ a: StartedServer<unknown>; b: StartedServer<unknown>; onA: Awaited<ReturnType<typeof wsClient>>; onB: Awaited<ReturnType<typeof wsClient>> }> {
  const bus = new MemoryBus();
  const a = await member(t, bus);
  const b = await member(t, bus);
  const onA = await wsClient(t, a.url);
  const onB = await wsClient(t, b.url);
  await eventually(() => a.server.subscriberCount('room') === 1 && b.server.subscriberCount('room') === 1, 'subscriptions');
  return { a, b, onA, onB };
}

describe('MemoryBackplane', () => {
  test('servers on one bus share publish, broadcast and sendTo; each message is framed once per server', async (t) => {
    const { a, b, onA, onB } = await twoNodes(t);
    assert.equal(a.server.publish('room', 'one'), 1, 'the count is of local receivers');
    a.server.broadcast('two');
    const { connection: onBSide } = await b.connections.next();
    const results = a.server.sendTo([onBSide.id, 'nobody.0'], 'three');
    assert.deepEqual(results.map((result) => [result.success, result.remote]), [[true, true], [true, true]]);
    assert.deepEqual((await onB.rec.messages.take(3)).map((m) => m.data.toString()), ['one', 'two', 'three']);
    assert.deepEqual((await onA.rec.messages.take(2)).map((m) => m.data.toString()), ['one', 'two']);
    assert.equal(await a.server.clusterSubscriberCount('room'), 2);
    assert.equal(await b.server.clusterConnectionCount(), 2);
    await b.close();
    assert.equal(await a.server.clusterConnectionCount(), 1, 'a closed server leaves the bus');
  });

  test('broadcast, publish and sendTo with bad arguments throw before anything is sent: neither this server\'s clients nor the other server\'s receive anything', async (t) => {
    const { a, b, onA, onB } = await twoNodes(t);
    const { connection: onASide } = await a.connections.next();
    const { connection: onBSide } = await b.connections.next();
    const bad = (options: unknown): never => options as never;
    // Refused once the message was already handed to the bus, before the fix.
    assert.throws(() => a.server.broadcast('b1', { fragmentSize: 0 }), RangeError);
    assert.throws(() => a.server.publish('room', 'p1', { fragmentSize: -1 }), RangeError);
    assert.throws(() => a.server.broadcast('f1', { filter: bad('not a function') }), TypeError);
    a.server.broadcast('marker 1');
    assert.equal((await onB.rec.messages.next('the first message on the other server')).data.toString(), 'marker 1');
    assert.equal((await onA.rec.messages.next('the first message on this server')).data.toString(), 'marker 1');
    const calls: Array<[string, () => unknown, typeof TypeError | typeof RangeError]> = [
      ['broadcast fragmentSize "big"', () => a.server.broadcast('b2', { fragmentSize: bad('big') }), TypeError],
      ['publish fragmentSize 0', () => a.server.publish('room', 'p2', { fragmentSize: 0 }), RangeError],
      ['broadcast binary "yes"', () => a.server.broadcast('b3', { binary: bad('yes') }), TypeError],
      ['broadcast except [5]', () => a.server.broadcast('b4', { except: bad([5]) }), TypeError],
      ['publish except [connection, 5]', () => a.server.publish('room', 'p3', { except: bad([onASide, 5]) }), TypeError],
      ['publish filter not a function', () => a.server.publish('room', 'p4', { filter: bad(1) }), TypeError],
      ['broadcast report "yes"', () => a.server.broadcast('b5', { report: bad('yes') }), TypeError],
      ['publish report 1', () => a.server.publish('room', 'p5', { report: bad(1) }), TypeError],
      ['publish to a topic that is not a string', () => a.server.publish(bad(42), 'p6'), TypeError],
      ['sendTo one id string instead of a list', () => a.server.sendTo(bad(onBSide.id), 's1'), TypeError],
      ['sendTo fragmentSize NaN', () => a.server.sendTo([onBSide.id, onASide.id], 's2', { fragmentSize: NaN }), TypeError],
      ['sendTo fragmentSize -1', () => a.server.sendTo([onBSide.id, onASide.id], 's3', { fragmentSize: -1 }), RangeError],
      ['sendTo options a string', () => a.server.sendTo([onBSide.id], 's4', bad('binary')), TypeError],
    ];
    for (const [name, call, type] of calls) assert.throws(call, type, name);
    a.server.broadcast('marker 2');
    assert.equal((await onB.rec.messages.next('the next message on the other server')).data.toString(), 'marker 2');
    assert.equal((await onA.rec.messages.next('the next message on this server')).data.toString(), 'marker 2');
    // And the server goes on fanning out.
    assert.equal(a.server.publish('room', 'after'), 1);
    assert.equal((await onB.rec.messages.next()).data.toString(), 'after');
  });

  test('a server alone (the default) is a cluster of one: sendTo an unknown id fails', async (t) => {
    const a = await member(t);
    const onA = await wsClient(t, a.url);
    await eventually(() => a.server.subscriberCount('room') === 1, 'subscription');
    const [result] = a.server.sendTo(['nobody.0'], 'x');
    assert.deepEqual(result, { id: 'nobody.0', success: false, payloadSize: 1, wireSize: 0, compressed: false });
    assert.equal(a.server.publish('room', 'mine'), 1);
    assert.equal((await onA.rec.messages.next()).data.toString(), 'mine');
    assert.equal(await a.server.clusterSubscriberCount('room'), 1);
    assert.equal(await a.server.clusterConnectionCount(), 1);
  });

  test('across the bus, a binary message stays binary, and except (connections or ids) is honoured by the other server, and sendTo reaches only the ids listed', async (t) => {
    const { a, b, onB } = await twoNodes(t);
    const onB2 = await wsClient(t, b.url);
    await eventually(() => b.server.subscriberCount('room') === 2, 'the second subscription');
    const [bSide1, bSide2] = [...b.server.clients];
    a.server.broadcast(Buffer.from([1, 2, 3]));
    a.server.publish('room', 'text');
    a.server.broadcast('not to b1', { except: [bSide1!] });
    a.server.publish('room', 'not to b2', { except: [bSide2!.id] });
    a.server.sendTo([bSide2!.id], 'only to b2');
    a.server.broadcast('end');
    const got = async (rec: typeof onB.rec, count: number): Promise<string[]> =>
      (await rec.messages.take(count)).map((m) => `${m.isBinary ? 'binary' : 'text'} ${m.isBinary ? [...(m.data as Buffer)].join(',') : m.data.toString()}`);
    assert.deepEqual(await got(onB.rec, 4), ['binary 1,2,3', 'text text', 'text not to b2', 'text end']);
    assert.deepEqual(await got(onB2.rec, 5), ['binary 1,2,3', 'text text', 'text not to b1', 'text only to b2', 'text end']);
  });
});

describe('MemoryBackplane on its own', () => {
  /** A stand-in server: records what it is delivered, and reports the presence given. */
  function node(connections = 0, topics: Record<string, number> = {}): BackplaneNode & { delivered: Envelope[] } {
    const delivered: Envelope[] = [];
    return { delivered, deliver: (envelope) => void delivered.push(envelope), presence: () => ({ connections, topics: new Map(Object.entries(topics)) }), report: () => {} };
  }
  const envelope: Envelope = { kind: 'broadcast', data: Buffer.from('x'), binary: false };

  test('serves one server only: a second start() is a usage error (SW_INVALID_STATE), not an unavailable backplane', (t) => {
    const backplane = new MemoryBackplane();
    backplane.start(node());
    assert.throws(() => backplane.start(node()), (error: unknown) => error instanceof UsageError && error.code === 'SW_INVALID_STATE' && /already serves a server/.test(error.message));
    const shared = new MemoryBackplane();
    const server = new WebSocketServer({ backplane: shared });
    t.after(() => server.close());
    assert.throws(() => new WebSocketServer({ backplane: shared }), (error: unknown) => error instanceof UsageError && !(error instanceof BackplaneError));
  });

  test('publish() delivers to every other member of the bus, never back to its own server, and says whether there was another', async () => {
    const bus = new MemoryBus();
    const [x, y, z] = [node(), node(), node()];
    const [bx, by, bz] = [new MemoryBackplane(bus), new MemoryBackplane(bus), new MemoryBackplane(bus)];
    bx.start(x);
    assert.equal(bx.publish(envelope), false, 'alone on the bus');
    by.start(y);
    bz.start(z);
    assert.equal(bx.publish(envelope), true);
    assert.deepEqual([x.delivered.length, y.delivered.length, z.delivered.length], [0, 1, 1]);
    assert.equal(y.delivered[0], envelope);
    await by.close();
    await bz.close();
    assert.equal(bx.publish(envelope), false, 'the others left the bus');
    assert.deepEqual([y.delivered.length, z.delivered.length], [1, 1]);
  });

  test('once closed (its server left the cluster), publish() reaches no one on the bus, and says it dropped the message if there was anyone', async () => {
    const bus = new MemoryBus();
    const reports: unknown[] = [];
    const x = { ...node(), report: (event: unknown) => void reports.push(event) };
    const [bx, by] = [new MemoryBackplane(bus), new MemoryBackplane(bus)];
    const y = node();
    bx.start(x);
    by.start(y);
    await bx.close();
    assert.equal(bx.publish(envelope), false);
    assert.equal(y.delivered.length, 0, 'the server still on the bus gets nothing');
    assert.deepEqual(reports, [{ type: 'dropped', count: 1, reason: 'closed' }]);
    await by.close();
    bx.publish(envelope);
    assert.equal(reports.length, 1, 'nobody left on the bus: nothing dropped');
  });

  test('the cluster counts add up every member of the bus, a member without the topic counting 0', async () => {
    const bus = new MemoryBus();
    const [bx, by, bz] = [new MemoryBackplane(bus), new MemoryBackplane(bus), new MemoryBackplane(bus)];
    bx.start(node(3, { room: 2, other: 1 }));
    by.start(node(4, { room: 1 }));
    bz.start(node(5));
    assert.equal(await bx.subscriberCount('room'), 3);
    assert.equal(await by.subscriberCount('other'), 1);
    assert.equal(await bz.subscriberCount('none'), 0);
    assert.equal(await bx.connectionCount(), 12);
    await bz.close();
    assert.equal(await bx.connectionCount(), 7);
  });
});
