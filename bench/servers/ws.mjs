// Benchmark server: ws (the rival). Usage: node ws.mjs PORT [--deflate]
// WS_NO_BUFFER_UTIL=1 in the environment makes ws skip bufferutil; the listening line says which.
// Same endpoints as sockwave.mjs. Broadcast uses ws's documented pattern (send to each client).
import { WebSocketServer } from 'ws';
import { wsNativeMask } from '../lib/ws-native-mask.mjs';

const port = Number(process.argv[2] ?? 9002);
const deflate = process.argv.includes('--deflate');
const wss = new WebSocketServer({ port, host: '127.0.0.1', perMessageDeflate: deflate });
const room = new Set();
wss.on('connection', (ws, req) => {
  if (req.url === '/broadcast') {
    room.add(ws);
    ws.on('close', () => room.delete(ws));
    ws.on('message', (data, isBinary) => {
      for (const client of room) if (client.readyState === 1) client.send(data, { binary: isBinary });
    });
  } else {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  }
});
wss.on('listening', () => console.log(`listening on ws://127.0.0.1:${port} native_mask=${wsNativeMask()}`));
process.on('SIGTERM', () => process.exit(0));
