// One node for bench/backplane.mjs: a sockwave server on PORT; clients of /room subscribe to
// 'room', and each message a client sends is published to 'room' (/pub: publish only). With REDIS_URL set it joins
// the Redis backplane; without, it is a single node (the default in-memory backplane).
import { WebSocketServer } from '../../dist/index.js';

const backplane = process.env.REDIS_URL
  ? new (await import('../../dist/redis/index.js')).RedisBackplane({ url: process.env.REDIS_URL, prefix: 'bench' })
  : undefined;
const server = new WebSocketServer({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0), backplane });
server.route('/room', () => ({
  onOpen: (connection) => void connection.subscribe('room'),
  onMessage: (_connection, data, isBinary) => void server.publish('room', data, { binary: isBinary }),
}));
// /pub: publishers only (not subscribed).
server.route('/pub', () => ({
  onMessage: (_connection, data, isBinary) => void server.publish('room', data, { binary: isBinary }),
}));
server.on('backplane', (event) => {
  if (event.type !== 'connected') process.stderr.write(`backplane ${JSON.stringify(event)}\n`);
});
if (backplane) await new Promise((resolve) => server.once('backplane', resolve));
const info = await server.listen();
process.stdout.write(`listening on ${info.url}\n`);
process.once('SIGTERM', () => void server.close({ timeout: 1000 }).then(() => process.exit(0)));
