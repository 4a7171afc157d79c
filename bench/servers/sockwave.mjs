// Benchmark server: sockwave. Usage: node sockwave.mjs PORT [--deflate]
// /echo echoes with the same type; /broadcast relays every message to every /broadcast connection.
import { WebSocketServer } from '../../dist/index.js';

const port = Number(process.argv[2] ?? 9001);
const deflate = process.argv.includes('--deflate');
// The load generator opens up to 10,000 connections from one address: the default limits
// (10,000 in all, 1,000 per address) are raised past that; every other default is kept.
const server = new WebSocketServer({ port, host: '127.0.0.1', perMessageDeflate: deflate, maxConnections: 100_000, maxConnectionsPerAddress: 100_000 });
// One handler object for every /echo connection (the handler-object style needs no closure per connection).
const echo = { onMessage: (conn, data, isBinary) => conn.send(data, { binary: isBinary }) };
server.route('/echo', () => echo);
// /broadcast through a topic, as the CLI's /broadcast does: one shared handler, and publish()
// frames each message once and writes the same bytes to every subscriber.
const relay = {
  onOpen: (conn) => conn.subscribe('/broadcast'),
  onMessage: (_conn, data, isBinary) => server.publish('/broadcast', data, { binary: isBinary }),
};
server.route('/broadcast', () => relay);
await server.listen();
console.log(`listening on ws://127.0.0.1:${port}`);
process.on('SIGTERM', () => process.exit(0));
