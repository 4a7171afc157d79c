/**
 * examples/cluster.ts: Node's cluster module, two workers sharing one port, joined by the Redis
 * backplane (a redis-server the test starts on a free port and kills by PID). Clients land on
 * both workers; a message sent on either reaches every client once; a worker killed with SIGKILL
 * is replaced and the new one rejoins; SIGTERM stops everything with 1001 and exit code 0.
 */
import { describe, test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import WebSocket from 'ws';
import { closeWs, recordWs, withTimeout, type WsRecord } from '../support/net.js';
import { sleep } from '../support/server-kit.js';
import { hasRedisServer, RedisServer } from '../support/redis-server.js';
import { ROOT, startServerProcess, type ServerProcess } from '../interop/support/child.js';

const skip = hasRedisServer() ? false : 'redis-server is not installed (.ci/run installs it)';

interface ChatClient {
  ws: WebSocket;
  rec: WsRecord;
  worker: number;
  pid: number;
}

async function chatClient(t: TestContext, primary: ServerProcess): Promise<ChatClient> {
  const ws = new WebSocket(`ws://127.0.0.1:${primary.port}/chat`);
  const rec = recordWs(ws);
  t.after(() => closeWs(ws));
  await withTimeout(new Promise<void>((resolve, reject) => (ws.once('open', () => resolve()), ws.once('error', reject))), 'a /chat client to open', 10_000);
  const hello = JSON.parse(String((await rec.messages.next('the hello', 10_000)).data)) as { worker: number; pid: number };
  return { ws, rec, ...hello };
}

/** Opens clients until there is one on each of `count` workers other than those in `not` (bounded). */
async function onWorkers(t: TestContext, primary: ServerProcess, count: number, not: ReadonlySet<number> = new Set()): Promise<ChatClient[]> {
  const byWorker = new Map<number, ChatClient>();
  for (let i = 0; i < 100 && byWorker.size < count; i++) {
    const client = await chatClient(t, primary);
    if (!not.has(client.worker) && !byWorker.has(client.worker)) {
      byWorker.set(client.worker, client);
      continue;
    }
    // Not a worker we need (yet: a replacement may still be starting).
    await closeWs(client.ws);
    await sleep(100);
  }
  assert.equal(byWorker.size, count, `clients on ${count} workers`);
  return [...byWorker.values()];
}

async function exchange(clients: readonly ChatClient[], label: string): Promise<void> {
  for (const [n, client] of clients.entries()) client.ws.send(`${label} ${n}`);
  for (const client of clients) {
    const got = (await client.rec.messages.take(clients.length, `${label}: every message`, 10_000)).map((m) => String(m.data)).sort();
    assert.deepEqual(got, clients.map((_c, n) => `${label} ${n}`).sort());
  }
}

describe('examples/cluster.ts', { skip }, () => {
  test('two workers share the port and the messages; a killed worker is replaced and rejoins; SIGTERM exits 0', { timeout: 120_000 }, async (t) => {
    const redis = await RedisServer.start(t);
    const primary = await startServerProcess(t, process.execPath, [join(ROOT, 'build', 'examples', 'cluster.js')], {
      env: { PORT: '0', WORKERS: '2', REDIS_URL: redis.url },
      ms: 20_000,
    });
    const [a, b] = await onWorkers(t, primary, 2);
    assert.notEqual(a!.pid, b!.pid);
    await exchange([a!, b!], 'first');
    process.kill(b!.pid, 'SIGKILL');
    await b!.rec.closed(10_000);
    const [c] = await onWorkers(t, primary, 1, new Set([a!.worker, b!.worker]));
    await exchange([a!, c!], 'after the restart');
    primary.child.kill('SIGTERM');
    assert.deepEqual(await primary.exited(15_000), { code: 0, signal: null });
    assert.equal((await a!.rec.closed()).code, 1001);
    assert.equal((await c!.rec.closed()).code, 1001);
  });
});
