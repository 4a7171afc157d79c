// Benchmark server: sockwave. Usage: node sockwave.mjs PORT [--deflate]
// /echo echoes with the same type; /broadcast relays every message to every /broadcast connection.
import { WebSocketServer } from '../../dist/index.js';

const port = Number(process.argv[2] ?? 9001);
const deflate = process.argv.includes('--deflate');
const server = new WebSocketServer({ port, host: '127.0.0.1', perMessageDeflate: deflate });
server.route('/echo', () => ({ onMessage: (conn, data, isBinary) => conn.send(data, { binary: isBinary }) }));
const room = new Set();
server.route('/broadcast', () => ({
  onOpen: (conn) => room.add(conn),
  onClose: (conn) => room.delete(conn),
  onMessage: (_conn, data, isBinary) => server.broadcast(data, { binary: isBinary, filter: (c) => room.has(c) }),
}));
await server.listen();
console.log(`listening on ws://127.0.0.1:${port}`);
process.on('SIGTERM', () => process.exit(0));
