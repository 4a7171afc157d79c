// Client benchmark driver: sockwave's client (handler-object style), pipelined echo.
// Options: see common.mjs (--port --conns --inflight --size --binary --time --warmup --srv-pid).
import { connect } from '../../dist/index.js';
import { clientOptions, measure, watchdog } from './common.mjs';

const options = clientOptions();
watchdog(options);
const { message, binary, inflight } = options;
const sendOptions = { binary };
let received = 0;

const handler = {
  onMessage(conn) {
    received++;
    conn.send(message, sendOptions);
  },
  onClose() {
    console.log('RESULT error=connection_closed');
    process.exit(1);
  },
};

const conns = await Promise.all(Array.from({ length: options.conns }, () => connect(options.url, { handler })));
for (const conn of conns) for (let i = 0; i < inflight; i++) conn.send(message, sendOptions);
measure(options, () => received, 'sockwave');
