// The soak test's server: sockwave (built, dist/) with three endpoints, and a sample of its own
// health every interval on stdout: `SAMPLE {json}` with RSS, heap, event-loop delay p99 and stats.
//   /echo       every message comes back
//   /broadcast  every message goes to every /broadcast connection
//   /topic      'sub T' subscribes (answered 'subscribed T'); 'pub T text' publishes text to T
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { WebSocketServer } from '../dist/index.js';

const interval = Number(process.argv[2] ?? 10_000);
const server = new WebSocketServer({ host: '127.0.0.1', port: 0, maxConnectionsPerAddress: 100_000, pingInterval: 30_000 });
const room = new Set();

server.route('/echo', () => ({ onMessage: (connection, data, binary) => void connection.send(data, { binary }) }));
server.route('/broadcast', () => ({
  onOpen: (connection) => void room.add(connection),
  onClose: (connection) => void room.delete(connection),
  onMessage: (_connection, data) => void server.broadcast(data, { filter: (client) => room.has(client) }),
}));
server.route('/topic', () => ({
  onMessage: (connection, data) => {
    const text = String(data);
    if (text.startsWith('sub ')) {
      const topic = text.slice(4);
      connection.subscribe(topic);
      connection.send(`subscribed ${topic}`);
    } else if (text.startsWith('pub ')) {
      const space = text.indexOf(' ', 4);
      server.publish(text.slice(4, space), text.slice(space + 1));
    }
  },
}));

const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();
const started = Date.now();
setInterval(() => {
  const stats = server.stats();
  const memory = process.memoryUsage();
  const sample = {
    t: Math.round((Date.now() - started) / 1000),
    rss: memory.rss,
    heapUsed: memory.heapUsed,
    p99: delay.percentile(99) / 1e6,
    max: delay.max / 1e6,
    connections: stats.connections,
    messagesIn: stats.messagesIn,
    messagesOut: stats.messagesOut,
    dropped: stats.dropped,
    limits: Object.fromEntries(Object.entries(stats.limits).filter(([, count]) => count !== 0)),
  };
  delay.reset();
  process.stdout.write(`SAMPLE ${JSON.stringify(sample)}\n`);
}, interval).unref();

const info = await server.listen();
process.stdout.write(`listening on ${info.url}\n`);
process.once('SIGTERM', () => void server.close({ timeout: 2000 }).then(() => process.exit(0)));
