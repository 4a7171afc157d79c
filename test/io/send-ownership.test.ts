/**
 * What send() takes from the caller's memory: the message is the bytes as they were when send()
 * returned wherever sockwave keeps them past that point (a compression in the thread pool,
 * messages and pings queued behind one, a client's masked frames, a server's small frames), so a
 * caller may refill one buffer between sends. Our client against a ws server and our server
 * against a ws client, over 127.0.0.1.
 */
import { describe, test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { connect, type Connection } from '../../src/index.js';
import { Queue, startWsServer } from '../support/net.js';
import { serve, wsClient } from '../support/server-kit.js';

/** Past the codec's synchronous limit (256 KiB): compressed in the thread pool, later than send() returns. */
const ASYNC_SIZE = 300 * 1024;

/** Sends `count` messages from one buffer refilled with `fill(i)` after each send (and a ping between two). */
function sendRefilled(connection: Connection, buffer: Buffer, count: number): string[] {
  const sent: string[] = [];
  for (let i = 0; i < count; i++) {
    buffer.fill(`m${i}-`);
    sent.push(String(buffer));
    connection.send(buffer);
    if (i === 1) {
      buffer.write('pingbody');
      connection.ping(buffer.subarray(0, 8));
    }
  }
  buffer.fill('after the last send');
  return sent;
}

/** Our client, with permessage-deflate, connected to a ws server that records what arrives. */
async function clientToWs(t: TestContext): Promise<{ connection: Connection; received: Queue<string>; pings: Queue<string> }> {
  const srv = await startWsServer({ perMessageDeflate: { threshold: 0 } });
  t.after(() => srv.close());
  const received = new Queue<string>();
  const pings = new Queue<string>();
  srv.wss.on('connection', (ws) => {
    ws.on('message', (data) => received.push(String(data)));
    ws.on('ping', (data) => pings.push(String(data)));
  });
  const connection = await connect(srv.url, { perMessageDeflate: true });
  t.after(() => connection.terminate());
  assert.ok(connection.extensions.includes('permessage-deflate'), 'compression negotiated');
  return { connection, received, pings };
}

describe('send(): the message is the bytes as they were when send() returned', () => {
  test('a client: a buffer compressed in the thread pool, refilled and sent again', async (t) => {
    const { connection, received } = await clientToWs(t);
    const sent = sendRefilled(connection, Buffer.alloc(ASYNC_SIZE), 3);
    for (const [i, text] of sent.entries()) assert.equal(await received.next(`message ${i}`), text, `message ${i}`);
  });

  test('a client: small messages and a ping queued behind a thread-pool compression keep their bytes', async (t) => {
    const { connection, received, pings } = await clientToWs(t);
    connection.send(Buffer.alloc(ASYNC_SIZE, 'x'));
    const sent = sendRefilled(connection, Buffer.alloc(8), 4);
    assert.equal((await received.next('the large message')).length, ASYNC_SIZE);
    for (const [i, text] of sent.entries()) assert.equal(await received.next(`message ${i}`), text, `message ${i}`);
    assert.equal(await pings.next('the ping'), 'pingbody');
  });

  test('a server: a buffer compressed in the thread pool, and small ones queued behind it, refilled between sends', async (t) => {
    const srv = await serve(t, { perMessageDeflate: true });
    const sent: string[] = [];
    srv.server.route('/', () => ({
      onOpen: (connection) => {
        sent.push(...sendRefilled(connection, Buffer.alloc(ASYNC_SIZE), 2));
        sent.push(...sendRefilled(connection, Buffer.alloc(8), 3));
      },
    }));
    const { rec } = await wsClient(t, `${srv.url}/`, undefined, { perMessageDeflate: true });
    for (let i = 0; i < 5; i++) assert.equal(String((await rec.messages.next(`message ${i}`)).data), sent[i], `message ${i}`);
  });

  test('a server without compression: payloads up to 16 KiB are copied into their frames', async (t) => {
    const srv = await serve(t);
    const sent: string[] = [];
    srv.server.route('/', () => ({ onOpen: (connection) => void sent.push(...sendRefilled(connection, Buffer.alloc(16 * 1024), 4)) }));
    const { rec } = await wsClient(t, `${srv.url}/`);
    for (let i = 0; i < 4; i++) assert.equal(String((await rec.messages.next(`message ${i}`)).data), sent[i], `message ${i}`);
  });
});
