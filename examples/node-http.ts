/**
 * sockwave behind a plain node:http server: the HTTP server answers ordinary requests (a page at
 * /), and hands every upgrade request to sockwave with `handleUpgrade`.
 *
 *   http://127.0.0.1:PORT/        a page that talks to /echo
 *   ws://127.0.0.1:PORT/echo      every message comes back, with the same type
 *
 * Run: npm run build && npx tsc -p tsconfig.test.json && PORT=8080 node build/examples/node-http.js
 */
import { createServer } from 'node:http';
import { WebSocketServer } from 'sockwave';

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>sockwave behind node:http</title>
<p id="out">connecting…</p>
<script>
  const ws = new WebSocket(\`ws://\${location.host}/echo\`);
  ws.onopen = () => ws.send('hello from the page');
  ws.onmessage = (event) => (document.getElementById('out').textContent = 'echo: ' + event.data);
</script>
`;

// No port of its own: this server only takes the upgrades it is given.
const wss = new WebSocketServer();
wss.route('/echo', () => ({
  onMessage: (conn, data, isBinary) => conn.send(data, { binary: isBinary }),
}));

const http = createServer((req, res) => {
  if (req.url === '/') {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(PAGE);
  } else {
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
  }
});

// Node types the socket as a stream.Duplex; for an http server it is always a net.Socket.
// Upgrades for paths without a route are refused by sockwave with 404.
http.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head));

// SIGTERM / SIGINT: close the WebSocket connections (1001), then the HTTP server; Node then
// exits by itself with code 0.
const stop = (): void => {
  void wss.close({ timeout: 2000 }).then(() => http.close());
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

http.listen(Number(process.env['PORT'] ?? 0), '127.0.0.1', () => {
  const address = http.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  console.log(`listening on http://127.0.0.1:${port}`);
});
