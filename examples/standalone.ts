/**
 * A standalone sockwave server: it owns its port and needs no HTTP framework.
 *
 *   ws://127.0.0.1:PORT/echo               every message comes back, with the same type
 *   ws://127.0.0.1:PORT/chat?name=alice    a chat room: refused (400) without ?name=,
 *                                          every text message goes to everyone in the room
 *
 * Run: npm run build && npx tsc -p tsconfig.test.json && PORT=8080 node build/examples/standalone.js
 */
import { WebSocketServer, refuse, type Connection } from 'sockwave';

/** What a chat connection carries from admission on: `conn.data.name` is typed. */
interface Member {
  name: string;
}

const server = new WebSocketServer<Member>({ port: Number(process.env['PORT'] ?? 0), host: '127.0.0.1' });

// /echo: send every message back as it came (text as text, binary as binary). Every route gives
// the connection its Member (a compile error otherwise: conn.data is never undefined).
server.route('/echo', () => ({
  data: { name: 'echo' },
  onMessage: (conn, data, isBinary) => conn.send(data, { binary: isBinary }),
}));

// /chat: admission decides before the handshake is answered. No name, no WebSocket: the client
// gets a plain HTTP 400 with a short body instead of a 101.
const room = new Set<Connection<Member>>();
server.route('/chat', (request) => {
  const name = request.query.get('name');
  if (!name) return refuse(400, { body: 'add ?name=YOUR_NAME to the URL' });
  return {
    data: { name },
    onOpen: (conn) => {
      room.add(conn);
      server.broadcast(`* ${conn.data.name} joined`, { filter: (other) => room.has(other) });
    },
    onMessage: (conn, data, isBinary) => {
      if (isBinary) return conn.close(1003, 'text only');
      // Framed once, the same bytes written to every member.
      server.broadcast(`${conn.data.name}: ${String(data)}`, { filter: (other) => room.has(other) });
    },
    onClose: (conn) => void room.delete(conn),
  };
});

// SIGTERM / SIGINT: stop listening and close every connection with 1001. Nothing is left
// running after that, so Node exits by itself, with code 0.
const stop = (): void => {
  void server.close({ code: 1001, reason: 'server shutting down', timeout: 2000 });
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

const { url } = await server.listen();
console.log(`listening on ${url}`);
