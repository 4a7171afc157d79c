/**
 * A client, handler object, always connected: it reconnects with backoff, and what you send
 * while it is down waits in order.
 * Run: node build/examples/client-handler.js ws://127.0.0.1:8080/echo
 */
import { createClient } from 'sockwave';

let replies = 0;
const client = createClient(process.argv[2] ?? 'ws://127.0.0.1:8080/echo', {
  dataType: 'json', // objects go out as JSON text; text that comes in is parsed
  reconnect: { minDelay: 500, maxDelay: 30_000 },
  onOpen: () => console.log('connected'),
  onMessage: (self, message) => {
    console.log(`got ${JSON.stringify(message)}`);
    if (++replies === 2) self.close(1000, 'done');
  },
  onClose: (_self, { code, willReconnect }) => console.log(`closed with ${code}${willReconnect ? ', reconnecting' : ''}`),
});
client.send({ hello: 'world' }); // queued until connected
client.send([1, 2, 3]);
