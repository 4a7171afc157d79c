/**
 * A client, promise and events: one connection, yours to manage.
 * Run: node build/examples/client-events.js ws://127.0.0.1:8080/echo
 */
import { connect } from 'sockwave';

const conn = await connect(process.argv[2] ?? 'ws://127.0.0.1:8080/echo');
let replies = 0;
conn.on('message', (data, isBinary) => {
  console.log(isBinary ? `binary: ${(data as Buffer).length} bytes` : `text: ${String(data)}`);
  if (++replies === 2) conn.close(1000, 'done');
});
conn.on('close', ({ code }) => console.log(`closed with ${code}`));
conn.send('hello');
conn.send(new Uint8Array([1, 2, 3]));
