/**
 * One machine, several processes: Node's cluster module forks WORKERS workers that share PORT,
 * and a Redis backplane joins them, so a message published on any worker reaches the subscribers
 * of every worker. A worker that dies is forked again and rejoins.
 *
 *   ws://127.0.0.1:PORT/chat   on open: {"worker": N, "pid": PID}; every text message goes to every /chat
 *                              client of every worker (the sender included).
 *   GET /count                 cluster-wide counts: {"connections": N, "subscribers": N}
 *
 * Needs a Redis server (REDIS_URL, default redis://127.0.0.1:6379) and the ioredis package.
 * Run: npm run build && npx tsc -p tsconfig.test.json && PORT=8080 WORKERS=2 node build/examples/cluster.js
 */
import cluster from 'node:cluster';
import { WebSocketServer, type PlainHttpResponse } from 'sockwave';
import { RedisBackplane } from 'sockwave/redis';

const port = Number(process.env['PORT'] ?? 0);
const workers = Number(process.env['WORKERS'] ?? 2);
const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

if (cluster.isPrimary) {
  let stopping = false;
  let announced = false;
  const listening = new Set<number>();
  const fork = (): void => {
    const worker = cluster.fork();
    worker.on('message', (message: { listening?: string }) => {
      if (message.listening === undefined) return;
      listening.add(worker.id);
      // One line once every worker of the first generation listens.
      if (!announced && listening.size === workers) {
        announced = true;
        process.stdout.write(`listening on ${message.listening}\n`);
      }
    });
  };
  cluster.on('exit', (worker) => {
    listening.delete(worker.id);
    if (!stopping) fork(); // it crashed: a new worker takes its place and rejoins the cluster
    else if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
  });
  for (let i = 0; i < workers; i++) fork();
  // SIGTERM / SIGINT: every worker closes its connections with 1001 and exits; then the primary.
  const stop = (): void => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
} else {
  const id = cluster.worker?.id ?? 0;
  const server: WebSocketServer = new WebSocketServer({
    host: '127.0.0.1',
    backplane: new RedisBackplane({ url: redisUrl, prefix: 'example-cluster' }),
    onHttpRequest: async (request): Promise<PlainHttpResponse> => {
      if (request.path !== '/count') return { status: 404 };
      const body: string = JSON.stringify({ connections: await server.clusterConnectionCount(), subscribers: await server.clusterSubscriberCount('chat') });
      return { status: 200, headers: { 'Content-Type': 'application/json' }, body };
    },
  });
  server.on('backplane', (event) => {
    if (event.type !== 'connected') process.stderr.write(`worker ${id}: backplane ${JSON.stringify(event)}\n`);
  });
  server.route('/chat', () => ({
    onOpen: (conn) => {
      conn.subscribe('chat');
      conn.send({ worker: id, pid: process.pid });
    },
    onMessage: (_conn, data, isBinary) => {
      if (!isBinary) server.publish('chat', data);
    },
  }));
  // Ready when the backplane is: wait for it (bounded) before taking connections.
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 5000);
    server.once('backplane', () => (clearTimeout(timer), resolve()));
  });
  // Workers listening on one port share it (the primary hands out the connections).
  const { url } = await server.listen({ port });
  process.send?.({ listening: url });
  process.once('SIGTERM', () => void server.close({ timeout: 2000 }).then(() => process.exit(0)));
  process.once('SIGINT', () => {}); // the primary decides
}
