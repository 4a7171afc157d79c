/**
 * The default backplane: a server alone is a cluster of one; servers given one MemoryBus share
 * publish, broadcast, sendTo and the cluster-wide counts.
 */
import { describe, test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { MemoryBackplane, MemoryBus, type Connection } from '../../src/index.js';
import { type StartedServer } from '../support/net.js';
import { eventually, serve, wsClient } from '../support/server-kit.js';

async function member(t: TestContext, bus?: MemoryBus): Promise<StartedServer<unknown>> {
  return serve(t, {
    ...(bus ? { backplane: new MemoryBackplane(bus) } : {}),
    onConnection: () => ({ onOpen: (connection: Connection) => void connection.subscribe('room') }),
  });
}

describe('MemoryBackplane', () => {
  test('servers on one bus share publish, broadcast and sendTo; each message is framed once per server', async (t) => {
    const bus = new MemoryBus();
    const a = await member(t, bus);
    const b = await member(t, bus);
    const onA = await wsClient(t, a.url);
    const onB = await wsClient(t, b.url);
    await eventually(() => a.server.subscriberCount('room') === 1 && b.server.subscriberCount('room') === 1, 'subscriptions');
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
});
