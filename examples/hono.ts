/**
 * sockwave with Hono on Node (@hono/node-server): Hono serves the HTTP routes, sockwave the
 * WebSocket upgrades that arrive at the same port.
 *
 *   http://127.0.0.1:PORT/        a page that talks to /echo
 *   ws://127.0.0.1:PORT/echo      every message comes back, with the same type
 *
 * Run: npm run build && npx tsc -p tsconfig.test.json && PORT=8080 node build/examples/hono.js
 */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { type Server } from 'node:http';
import { WebSocketServer } from 'sockwave';

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>sockwave with Hono</title>
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

const app = new Hono();
app.get('/', (c) => c.html(PAGE));

// serve() returns the node:http server it created (typed as a union with the HTTP/2 servers,
// which it is not unless asked for). Without its `websocket` option, @hono/node-server leaves
// upgrade requests alone: sockwave takes them.
const http = serve({ fetch: app.fetch, port: Number(process.env['PORT'] ?? 0), hostname: '127.0.0.1' }, (info) => {
  console.log(`listening on http://127.0.0.1:${info.port}`);
}) as Server;
http.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head));

// SIGTERM / SIGINT: close the WebSocket connections (1001), then the HTTP server; Node then
// exits by itself with code 0.
const stop = (): void => {
  void wss.close({ timeout: 2000 }).then(() => http.close());
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
