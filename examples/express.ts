/**
 * sockwave with Express: Express serves the HTTP routes, sockwave the WebSocket upgrades that
 * arrive at the same port.
 *
 *   http://127.0.0.1:PORT/        a page that talks to /echo
 *   ws://127.0.0.1:PORT/echo      every message comes back, with the same type
 *
 * Run: npm run build && npx tsc -p tsconfig.test.json && PORT=8080 node build/examples/express.js
 */
import express from 'express';
import { WebSocketServer } from 'sockwave';

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>sockwave with Express</title>
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

const app = express();
app.get('/', (_req, res) => {
  res.type('html').send(PAGE);
});

// app.listen() returns the node:http server; Express never sees upgrade requests, sockwave does.
const http = app.listen(Number(process.env['PORT'] ?? 0), '127.0.0.1', () => {
  const address = http.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  console.log(`listening on http://127.0.0.1:${port}`);
});
http.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head));

// SIGTERM / SIGINT: close the WebSocket connections (1001), then the HTTP server; Node then
// exits by itself with code 0.
const stop = (): void => {
  void wss.close({ timeout: 2000 }).then(() => http.close());
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
