/**
 * Topics: each connection subscribes to the topics it wants, and `server.publish(topic, data)`
 * sends a message to every subscriber of that topic, framed once for all of them.
 *
 *   ws://127.0.0.1:PORT/topics   send JSON commands:
 *     {"subscribe": "news"}                  answered {"subscribed": "news"}
 *     {"unsubscribe": "news"}                answered {"unsubscribed": "news"}
 *     {"publish": "news", "text": "hi"}      every subscriber of "news" gets {"topic": "news", "text": "hi"};
 *                                            the publisher is answered {"published": "news", "receivers": N}
 *
 * Run: npm run build && npx tsc -p tsconfig.test.json && PORT=8080 node build/examples/topics.js
 */
import { WebSocketServer } from 'sockwave';

type Command = { subscribe: string } | { unsubscribe: string } | { publish: string; text: string };

const server = new WebSocketServer({ port: Number(process.env['PORT'] ?? 0), host: '127.0.0.1' });

server.route('/topics', () => ({
  onMessage: (conn, data, isBinary) => {
    let command: Command;
    try {
      if (isBinary) throw new Error('binary');
      command = JSON.parse(String(data)) as Command;
    } catch {
      return conn.close(1003, 'send JSON commands');
    }
    if ('subscribe' in command) {
      conn.subscribe(command.subscribe);
      conn.send({ subscribed: command.subscribe });
    } else if ('unsubscribe' in command) {
      conn.unsubscribe(command.unsubscribe);
      conn.send({ unsubscribed: command.unsubscribe });
    } else if ('publish' in command) {
      const receivers = server.publish(command.publish, { topic: command.publish, text: command.text });
      conn.send({ published: command.publish, receivers });
    } else {
      conn.close(1008, 'unknown command');
    }
  },
}));

// SIGTERM / SIGINT: close every connection with 1001; Node then exits by itself with code 0.
const stop = (): void => {
  void server.close({ timeout: 2000 });
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

const { url } = await server.listen();
console.log(`listening on ${url}`);
