#!/usr/bin/env node
// Reference echo server built on the `ws` package, with the same command-line
// contract as `sockwave serve`: --port (0 = free port), --host, --deflate
// (accept permessage-deflate, RFC 7692); ws path /echo echoes every message
// with the same type; prints 'listening on ws://HOST:PORT'; on SIGINT/SIGTERM
// closes connections with 1001 and exits 0.
import { WebSocketServer } from 'ws';

const args = process.argv.slice(2);
if (args[0] === 'serve') args.shift();
let port = 8080;
let host = '127.0.0.1';
let deflate = false;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--port') port = Number(args[++i]);
  else if (args[i] === '--host') host = args[++i];
  else if (args[i] === '--deflate') deflate = true;
}

// ws' permessage-deflate with its defaults (accepts the first acceptable
// offer, context takeover and 15-bit windows unless the offer asks otherwise;
// messages below 1024 octets are sent uncompressed)
const wss = new WebSocketServer({ port, host, path: '/echo', perMessageDeflate: deflate });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => {});
});
wss.on('listening', () => {
  const a = wss.address();
  console.log(`listening on ws://${host}:${a.port}`);
});

function shutdown() {
  for (const ws of wss.clients) ws.close(1001, 'server shutting down');
  wss.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
