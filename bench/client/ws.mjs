// Client benchmark driver: the `ws` client, pipelined echo. With WS_NO_BUFFER_UTIL=1 in the
// environment ws skips bufferutil (see node_modules/ws/lib/buffer-util.js).
// Options: see common.mjs (--port --conns --inflight --size --binary --time --warmup --srv-pid).
import WebSocket from 'ws';
import { wsNativeMask } from '../lib/ws-native-mask.mjs';
import { clientOptions, measure, watchdog } from './common.mjs';

const options = clientOptions();
watchdog(options);
const { message, binary, inflight } = options;
const sendOptions = { binary };
let received = 0;

function open() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(options.url);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.on('message', () => {
      received++;
      ws.send(message, sendOptions);
    });
    ws.on('close', () => {
      console.log('RESULT error=connection_closed');
      process.exit(1);
    });
  });
}

const sockets = await Promise.all(Array.from({ length: options.conns }, open));
for (const ws of sockets) for (let i = 0; i < inflight; i++) ws.send(message, sendOptions);
const label = process.env.WS_NO_BUFFER_UTIL ? 'ws-nobu' : 'ws';
measure(options, () => received, label, `native_mask=${wsNativeMask()}`);
