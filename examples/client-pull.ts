/**
 * A client, pull style: read when you are ready; a bounded buffer pauses the socket meanwhile.
 * Run: node build/examples/client-pull.js ws://127.0.0.1:8080/echo
 */
import { connect } from 'sockwave';

const conn = await connect(process.argv[2] ?? 'ws://127.0.0.1:8080/echo');
for (const word of ['one', 'two', 'three']) {
  conn.send(word);
  const { data } = await conn.nextMessage({ timeout: 5000 });
  console.log(`echo: ${String(data)}`);
}
conn.close(1000, 'done');
for await (const message of conn) console.log(`late: ${String(message.data)}`); // ends on the close
console.log('closed');
