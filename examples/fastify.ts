/**
 * sockwave with Fastify: Fastify serves the HTTP routes, sockwave the WebSocket upgrades that
 * arrive at the same port (through Fastify's underlying node:http server).
 *
 *   http://127.0.0.1:PORT/        a page that talks to /echo
 *   ws://127.0.0.1:PORT/echo      every message comes back, with the same type
 *
 * Run: npm run build && npx tsc -p tsconfig.test.json && PORT=8080 node build/examples/fastify.js
 */
import Fastify from 'fastify';
import { WebSocketServer } from 'sockwave';

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>sockwave with Fastify</title>
<p id="out">connecting…</p>
<script>
  const ws = new WebSocket(\`ws://\${location.host}/echo\`);
  ws.onopen = () => ws.send('hello from the page');
  ws.onmessage = (event) => (document.getElementById('out').textContent = 'echo: ' + event.data);
</script>
`;

const wss = new WebSocketServer();
wss.route('/echo', () => ({
  onMessage: (conn, data, isBinary) => conn.send(data, { binary: isBinary }),
}));

const app = Fastify();
app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(PAGE));

// fastify.server is the node:http server; upgrade requests never reach Fastify's router.
app.server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head));

// SIGTERM / SIGINT: close the WebSocket connections (1001), then Fastify; Node then exits by
// itself with code 0.
const stop = (): void => {
  void wss.close({ timeout: 2000 }).then(() => app.close());
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

await app.listen({ port: Number(process.env['PORT'] ?? 0), host: '127.0.0.1' });
const address = app.server.address();
console.log(`listening on http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`);
