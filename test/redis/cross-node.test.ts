/**
 * A cluster of real processes: 2–3 nodes (test/redis/fixtures/node-process.mjs, each a sockwave
 * server with the Redis backplane) around a redis-server the test starts on a free port and kills
 * and restarts by PID, with many `ws` clients on each node. Checks that every message published
 * reaches every subscriber exactly once and in order per publisher, across a Redis restart, and
 * that a node killed with SIGKILL leaves the cluster counts (presence expiry) and can rejoin.
 */
import { describe, test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import WebSocket from 'ws';
import { closeWs, withTimeout } from '../support/net.js';
import { eventually, sleep } from '../support/server-kit.js';
import { hasRedisServer, RedisServer } from '../support/redis-server.js';
import { ROOT, startServerProcess, type ServerProcess } from '../interop/support/child.js';

const skip = hasRedisServer() ? false : 'redis-server is not installed (.ci/run installs it)';
const NODE_SCRIPT = join(ROOT, 'test', 'redis', 'fixtures', 'node-process.mjs');

function startNode(t: TestContext, redis: RedisServer, env: Record<string, string> = {}): Promise<ServerProcess> {
  return startServerProcess(t, process.execPath, [NODE_SCRIPT], { env: { REDIS_URL: redis.url, PORT: '0', ...env }, ms: 15_000 });
}

/** A subscriber of 'room' that checks what it gets: per publisher, 0, 1, 2… with no gap and no repeat. */
class Receiver {
  readonly next = new Map<string, number>();
  readonly errors: string[] = [];
  received = 0;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.take(String(data)));
  }

  private take(text: string): void {
    const colon = text.lastIndexOf(':');
    const publisher = text.slice(0, colon);
    const seq = Number(text.slice(colon + 1));
    const expected = this.next.get(publisher) ?? 0;
    if (seq !== expected && this.errors.length < 5) this.errors.push(`${publisher}: got ${seq}, expected ${expected}`);
    this.next.set(publisher, Math.max(expected, seq + 1));
    this.received++;
  }
}

async function clients(t: TestContext, node: ServerProcess, count: number): Promise<Receiver[]> {
  const receivers: Receiver[] = [];
  for (let start = 0; start < count; start += 50) {
    const batch = Array.from({ length: Math.min(50, count - start) }, async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${node.port}/room`, { perMessageDeflate: false });
      t.after(() => closeWs(ws));
      const receiver = new Receiver(ws);
      await withTimeout(new Promise<void>((resolve, reject) => (ws.once('open', () => resolve()), ws.once('error', reject))), 'a client to open', 15_000);
      return receiver;
    });
    receivers.push(...(await Promise.all(batch)));
  }
  return receivers;
}

async function counts(node: ServerProcess): Promise<{ connections: number; subscribers: number } | undefined> {
  const response = await fetch(`http://127.0.0.1:${node.port}/count`).catch(() => undefined);
  if (!response || response.status !== 200) return undefined;
  return (await response.json()) as { connections: number; subscribers: number };
}

async function countsReach(node: ServerProcess, connections: number, label: string): Promise<void> {
  let last: unknown;
  for (let i = 0; i < 200; i++) {
    const got = await counts(node);
    last = got;
    if (got?.connections === connections && got.subscribers === connections) return;
    await sleep(100);
  }
  assert.fail(`${label}: cluster counts never reached ${connections} (last ${JSON.stringify(last)})`);
}

/** Each publisher sends messages `NAME:from` … `NAME:(to - 1)`, one round every `gap` ms; `at(i)` runs before round i. */
async function publish(publishers: ReadonlyMap<string, WebSocket>, from: number, to: number, gap: number, at: (round: number) => Promise<void> = async () => {}): Promise<void> {
  for (let i = from; i < to; i++) {
    await at(i);
    for (const [name, ws] of publishers) ws.send(`${name}:${i}`);
    await sleep(gap);
  }
}

async function allReceived(receivers: readonly Receiver[], expected: number, label: string, ms: number): Promise<void> {
  await eventually(() => receivers.every((receiver) => receiver.received >= expected), `${label}: every receiver to get ${expected}`, ms, 100).catch((error: unknown) => {
    const short = receivers.filter((receiver) => receiver.received < expected);
    throw new Error(`${error instanceof Error ? error.message : String(error)}; ${short.length} short, e.g. ${short[0]?.received} (${short[0]?.errors.join('; ')})`);
  });
}

describe('a cluster of processes on Redis', { skip, concurrency: false }, () => {
  test('3 nodes × 300 clients: every message reaches every subscriber exactly once, in order per publisher, across a Redis restart', { timeout: 180_000 }, async (t) => {
    const redis = await RedisServer.start(t);
    const nodes = [await startNode(t, redis), await startNode(t, redis), await startNode(t, redis)];
    const receivers: Receiver[] = [];
    for (const node of nodes) receivers.push(...(await clients(t, node, 300)));
    await countsReach(nodes[0]!, 900, 'before traffic');
    // Two publishers per node (they are subscribers too).
    const publishers = new Map<string, WebSocket>();
    nodes.forEach((_node, n) => [0, 1].forEach((k) => publishers.set(`n${n}p${k}`, receivers[n * 300 + k]!.ws)));
    const perPublisher = 60;
    await publish(publishers, 0, perPublisher, 20, async (round) => {
      if (round === 20) await redis.kill();
      if (round === 40) await redis.restart();
    });
    const expected = perPublisher * publishers.size;
    await allReceived(receivers, expected, 'across the restart', 90_000);
    // Nothing more: a marker from each publisher is the next message everywhere.
    await publish(publishers, perPublisher, perPublisher + 2, 0);
    await allReceived(receivers, expected + 2 * publishers.size, 'the markers', 30_000);
    for (const node of nodes) {
      const events = node.stderr();
      assert.match(events, /"type":"disconnected"[\s\S]*"type":"connected"/, 'each node lost Redis and got it back');
      assert.doesNotMatch(events, /"type":"(dropped|missed)"/, 'nothing dropped or missed within the bounds');
    }
    const errors = receivers.flatMap((receiver) => receiver.errors);
    assert.deepEqual(errors, [], 'no gap, repeat or reordering');
    for (const receiver of receivers) {
      assert.equal(receiver.received, expected + 2 * publishers.size);
      for (const name of publishers.keys()) assert.equal(receiver.next.get(name), perPublisher + 2);
    }
    t.diagnostic(`${receivers.length} subscribers × ${expected + 2 * publishers.size} messages = ${receivers.length * (expected + 2 * publishers.size)} deliveries, each once and in order`);
  });

  test('a node killed with SIGKILL leaves the cluster counts within the presence TTL, and a restarted node rejoins', { timeout: 120_000 }, async (t) => {
    const redis = await RedisServer.start(t);
    const env = { PRESENCE_TTL: '1500' };
    const one = await startNode(t, redis, env);
    const two = await startNode(t, redis, env);
    let three = await startNode(t, redis, env);
    const onOne = await clients(t, one, 50);
    const onTwo = await clients(t, two, 50);
    await clients(t, three, 50);
    await countsReach(one, 150, 'three nodes');
    const publishers = new Map([
      ['one', onOne[0]!.ws],
      ['two', onTwo[0]!.ws],
    ]);
    await publish(publishers, 0, 30, 20, async (round) => {
      if (round === 10) await three.kill();
    });
    await countsReach(one, 100, 'after the SIGKILL (presence expired)');
    three = await startNode(t, redis, { ...env, PORT: String(three.port) });
    const onThree = await clients(t, three, 50);
    await countsReach(two, 150, 'after the restart');
    await publish(publishers, 30, 60, 20);
    // onOne and onTwo saw everything in order; the rejoined node's clients see what came after they joined.
    await allReceived([...onOne, ...onTwo], 2 * 60, 'the survivors', 30_000);
    for (const receiver of [...onOne, ...onTwo]) assert.deepEqual([receiver.next.get('one'), receiver.next.get('two')], [60, 60]);
    assert.deepEqual([...onOne, ...onTwo].flatMap((receiver) => receiver.errors), []);
    await allReceived(onThree, 2 * 30, 'the clients of the rejoined node', 30_000);
    for (const receiver of onThree) assert.deepEqual([receiver.next.get('one'), receiver.next.get('two')], [60, 60]);
  });
});
