#!/usr/bin/env node
// Cluster-count cost on a Redis-backed node with many topics: one connection subscribed to
// TOPICS topics, then COUNTS calls of clusterSubscriberCount(). A redis-server is started here on
// a free port (no persistence) and killed at the end.
//   node bench/presence-count.mjs [--topics 10000] [--counts 200] [--root DIR]
// --root: the package root whose dist/ to load (default: this repository), to compare builds.
// Prints one RESULT line: milliseconds per count.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    topics: { type: 'string', default: '10000' },
    counts: { type: 'string', default: '200' },
    root: { type: 'string', default: fileURLToPath(new URL('..', import.meta.url)) },
  },
});
const topics = Math.min(Number(values.topics), 1_000_000);
const counts = Math.min(Number(values.counts), 100_000);
const root = pathToFileURL(`${values.root.replace(/\/$/, '')}/`);
const { WebSocketServer, connect } = await import(new URL('dist/index.js', root).href);
const { RedisBackplane } = await import(new URL('dist/redis/index.js', root).href);

const probe = createServer().listen(0, '127.0.0.1');
await once(probe, 'listening');
const port = probe.address().port;
probe.close();
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
try {
  const server = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    backplane: new RedisBackplane({ url: `redis://127.0.0.1:${port}`, prefix: `bench${process.pid}` }),
    onConnection: () => ({ onOpen: (connection) => { for (let i = 0; i < topics; i++) connection.subscribe(`topic-${i}`); } }),
  });
  // ('disconnected' comes first while the redis-server just started is not listening yet.)
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no connection to Redis within 10 s')), 10_000);
    server.on('backplane', (event) => event.type === 'connected' && (clearTimeout(timer), resolve()));
  });
  const { url } = await server.listen();
  const client = await connect(url);
  for (let i = 0; i < 1000 && server.subscriberCount(`topic-${topics - 1}`) !== 1; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  await server.clusterSubscriberCount('topic-0');
  const start = performance.now();
  for (let i = 0; i < counts; i++) await server.clusterSubscriberCount(`topic-${i % topics}`);
  const perCount = (performance.now() - start) / counts;
  console.log(`RESULT topics=${topics} counts=${counts} ms_per_count=${perCount.toFixed(3)}`);
  client.close();
  await server.close();
} finally {
  redis.kill();
}
