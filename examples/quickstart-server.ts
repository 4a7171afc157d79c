/**
 * The README's ten-line server: an echo endpoint and a room where every message goes to everyone.
 * Run: npm run build && npx tsc -p tsconfig.test.json && PORT=8080 node build/examples/quickstart-server.js
 */
import { WebSocketServer } from 'sockwave';

const server = new WebSocketServer({ port: Number(process.env['PORT'] ?? 8080), host: '127.0.0.1' });
server.route('/echo', () => ({
  onMessage: (conn, data, isBinary) => conn.send(data, { binary: isBinary }),
}));
server.route('/room', () => ({
  onMessage: (conn, data) => server.broadcast(`${conn.id} says ${String(data)}`),
}));
const stop = (): void => void server.close({ code: 1001, reason: 'bye' });
process.once('SIGTERM', stop).once('SIGINT', stop);
console.log(`listening on ${(await server.listen()).url}`);
