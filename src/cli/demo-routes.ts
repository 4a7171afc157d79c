import { type Connection } from '../io/connection.js';
import { type WebSocketServer } from '../server/server.js';
import { FigureSampler, RttProbe } from './live-figures.js';

/** The topic behind /broadcast: with a backplane, it spans every server sharing it. */
const BROADCAST_TOPIC = '/broadcast';

/** The longest chat name kept; longer ones are cut. */
const MAX_NAME = 32;

/** A notice about the chat room, sent only to members that gave a name (the demo page). */
export interface RoomNotice {
  type: 'join' | 'leave';
  name: string;
  /** The names in the room after the change. */
  members: string[];
}

export interface DemoRoutes {
  /** Stops the once-a-second figures timer. */
  stop(): void;
}

/**
 * The routes of `sockwave serve`:
 *
 * - `ws /echo` — every message goes back with the same type;
 * - `ws /broadcast` — every message received goes to every connection there, the sender included,
 *   unchanged (through the '/broadcast' topic: with `--backplane`, on every server sharing it). A client that connects with `?name=NAME` (the demo page) is a chat member: it also
 *   receives {@link RoomNotice}s (JSON text) when a named member joins or leaves. Clients without
 *   a name see only the messages sent to the room, exactly as before;
 * - `ws /stats` — the server's figures ({@link LiveFigures}, JSON text) once a second.
 */
export function installDemoRoutes(server: WebSocketServer, options: { deflate: boolean; interval?: number }): DemoRoutes {
  const names = new Map<Connection, string>();
  const watchers = new Set<Connection>();
  const probe = new RttProbe();

  server.route('/echo', () => ({
    onMessage: (connection: Connection, data: string | Buffer, isBinary: boolean) => {
      connection.send(data, { binary: isBinary });
    },
  }));

  const notify = (type: RoomNotice['type'], name: string): void => {
    const notice: RoomNotice = { type, name, members: [...names.values()] };
    const text = JSON.stringify(notice);
    for (const member of names.keys()) member.send(text);
  };

  server.route('/broadcast', (request) => {
    const name = (request.query.get('name') ?? '').trim().slice(0, MAX_NAME);
    return {
      onOpen: (connection: Connection) => {
        connection.subscribe(BROADCAST_TOPIC);
        if (name === '') return;
        names.set(connection, name);
        notify('join', name);
      },
      onClose: (connection: Connection) => {
        probe.forget(connection);
        if (!names.delete(connection)) return;
        notify('leave', name);
      },
      onPong: (connection: Connection, payload: Buffer) => probe.pong(connection, payload),
      onMessage: (_connection: Connection, data: string | Buffer, isBinary: boolean) => {
        server.publish(BROADCAST_TOPIC, data, { binary: isBinary });
      },
    };
  });

  server.route('/stats', () => ({
    onOpen: (connection: Connection) => void watchers.add(connection),
    onClose: (connection: Connection) => {
      watchers.delete(connection);
      probe.forget(connection);
    },
    onPong: (connection: Connection, payload: Buffer) => probe.pong(connection, payload),
  }));

  const sampler = new FigureSampler(() => server.stats(), options.deflate);
  const timer = setInterval(() => {
    if (watchers.size === 0) {
      sampler.sample([], names.size); // keeps the rates' baseline current
      return;
    }
    const figures = sampler.sample(probe.rtts(server.clients as Iterable<Connection>), names.size);
    const text = JSON.stringify(figures);
    for (const watcher of watchers) watcher.send(text);
    // Only the demo page's own sockets are pinged: other clients see no frames they did not ask for.
    probe.ping(watchers);
    probe.ping(names.keys());
  }, options.interval ?? 1000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
