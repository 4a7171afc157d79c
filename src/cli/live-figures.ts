import { type Connection } from '../io/connection.js';
import { type ServerStats } from '../server/stats.js';

/** Round-trip times over the connections that have one, in milliseconds. */
export interface RttFigures {
  min: number;
  median: number;
  max: number;
  /** How many connections the figures cover. */
  samples: number;
}

/** One second of the server's life, as the demo page's figures panel shows it. */
export interface LiveFigures {
  type: 'figures';
  /** When the sample was taken (ms since the epoch). */
  time: number;
  connections: number;
  connectionsTotal: number;
  /** Chat members on /broadcast that gave a name. */
  chatMembers: number;
  messagesInPerSecond: number;
  messagesOutPerSecond: number;
  bytesInPerSecond: number;
  bytesOutPerSecond: number;
  /** Message bytes over wire bytes since the start (above 1 when compression pays). */
  compressionRatio: number | null;
  deflate: boolean;
  rtt: RttFigures | null;
}

/**
 * Turns the server's cumulative counters into per-second rates: each call to {@link sample}
 * compares the totals with those of the previous call.
 */
export class FigureSampler {
  private previous: ServerStats;
  private previousAt: number;

  constructor(
    private readonly read: () => ServerStats,
    private readonly deflate: boolean,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.previous = read();
    this.previousAt = now();
  }

  sample(rtts: readonly number[], chatMembers: number): LiveFigures {
    const current = this.read();
    const at = this.now();
    const seconds = Math.max((at - this.previousAt) / 1000, 0.001);
    const rate = (key: 'messagesIn' | 'messagesOut' | 'bytesIn' | 'bytesOut'): number =>
      Math.round((current[key] - this.previous[key]) / seconds);
    const payload = current.bytesIn + current.bytesOut;
    const wire = current.wireBytesIn + current.wireBytesOut;
    const figures: LiveFigures = {
      type: 'figures',
      time: Date.now(),
      connections: current.connections,
      connectionsTotal: current.connectionsTotal,
      chatMembers,
      messagesInPerSecond: rate('messagesIn'),
      messagesOutPerSecond: rate('messagesOut'),
      bytesInPerSecond: rate('bytesIn'),
      bytesOutPerSecond: rate('bytesOut'),
      compressionRatio: wire > 0 ? Math.round((payload / wire) * 1000) / 1000 : null,
      deflate: this.deflate,
      rtt: summarizeRtt(rtts),
    };
    this.previous = current;
    this.previousAt = at;
    return figures;
  }
}

export function summarizeRtt(rtts: readonly number[]): RttFigures | null {
  if (rtts.length === 0) return null;
  const sorted = [...rtts].sort((a, b) => a - b);
  const round = (value: number): number => Math.round(value * 100) / 100;
  return { min: round(sorted[0]!), median: round(sorted[Math.floor((sorted.length - 1) / 2)]!), max: round(sorted[sorted.length - 1]!), samples: sorted.length };
}

/**
 * Measures round trips with pings of its own: the payload is the send time, so a pong needs
 * no bookkeeping and an unanswered ping costs nothing.
 */
export class RttProbe {
  private readonly latest = new Map<Connection, number>();

  /** Sends a timed ping to each connection. */
  ping(connections: Iterable<Connection>): void {
    for (const connection of connections) {
      if (connection.status !== 'open') continue;
      connection.ping(performance.now().toFixed(3));
    }
  }

  /** Call from the connection's onPong handler. */
  pong(connection: Connection, payload: Buffer): void {
    const sentAt = Number(payload.toString('latin1'));
    if (!Number.isFinite(sentAt) || sentAt <= 0) return;
    const rtt = performance.now() - sentAt;
    if (rtt >= 0) this.latest.set(connection, rtt);
  }

  forget(connection: Connection): void {
    this.latest.delete(connection);
  }

  /** The latest round trip of every connection measured, this probe's or the server heartbeat's. */
  rtts(all: Iterable<Connection>): number[] {
    const values: number[] = [];
    for (const connection of all) {
      const rtt = this.latest.get(connection) ?? connection.rtt;
      if (rtt !== undefined) values.push(rtt);
    }
    return values;
  }
}
