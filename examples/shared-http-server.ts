/**
 * Two sockwave servers sharing one HTTP server, told apart by their `path` option: `attach()`
 * installs one 'upgrade' dispatcher on the HTTP server and sends each upgrade to the sockwave
 * server that serves its path (404 when none does).
 *
 *   http://127.0.0.1:PORT/         a plain HTTP answer
 *   ws://127.0.0.1:PORT/echo       the echo server
 *   ws://127.0.0.1:PORT/clock      the clock server: sends the time now, and again on every message
 *
 * Run: npm run build && npx tsc -p tsconfig.test.json && PORT=8080 node build/examples/shared-http-server.js
 */
import { createServer } from 'node:http';
import { WebSocketServer } from 'sockwave';

const http = createServer((_req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' }).end('WebSocket endpoints: /echo and /clock\n');
});

// Each server accepts every upgrade for its path (its `onConnection` admits them all).
const echo = new WebSocketServer({
  path: '/echo',
  onConnection: () => ({
    onMessage: (conn, data, isBinary) => conn.send(data, { binary: isBinary }),
  }),
});

const clock = new WebSocketServer({
  path: '/clock',
  onConnection: () => ({
    onOpen: (conn) => conn.send({ now: new Date().toISOString() }), // an object goes as JSON text
    onMessage: (conn) => conn.send({ now: new Date().toISOString() }),
  }),
});

echo.attach(http);
clock.attach(http);

// SIGTERM / SIGINT: close both servers' connections (1001), then the HTTP server; Node then
// exits by itself with code 0.
const stop = (): void => {
  void Promise.all([echo.close({ timeout: 2000 }), clock.close({ timeout: 2000 })]).then(() => http.close());
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

http.listen(Number(process.env['PORT'] ?? 0), '127.0.0.1', () => {
  const address = http.address();
  console.log(`listening on http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`);
});
