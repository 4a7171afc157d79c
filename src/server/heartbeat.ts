import { type Connection } from '../io/connection.js';
import { coarseClock } from '../io/coarse-clock.js';
import { HELD_BY_THIS_SIDE } from '../io/connection-flags.js';
import { pongWait, PongWait } from '../io/pong-wait.js';
import { timerDelay } from '../io/timer-delay.js';

export interface HeartbeatOptions {
  /** Ping every connection this often (ms); 0 turns pings off. */
  pingInterval: number;
  /** A ping unanswered for this long (ms) means a dead peer: the connection is terminated (1006). */
  pongTimeout: number;
  /** Close (1001) a connection from which nothing arrived for this long (ms); 0 turns it off. */
  idleTimeout: number;
}

export interface HeartbeatCounters {
  heartbeatTimeouts: number;
  idleTimeouts: number;
}

/**
 * One timer for every connection of a server (no timer per connection): each tick walks the
 * connections once, pings those due, terminates those whose ping went unanswered past
 * `pongTimeout`, and closes those idle past `idleTimeout`. The tick is a fifth of the shortest
 * interval (pongTimeout counts only when pings are on; at least 20 ms), so deadlines are kept
 * within that granularity: late by at most a tick (idleTimeout: two), never early.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private readonly nextPing = new WeakMap<Connection<unknown>, number>();
  /** When a connection's ping out is late: pongTimeout after it was sent, or after its wait was last held. */
  private readonly pongDue = new WeakMap<Connection<unknown>, number>();
  /** A connection's {@link Connection.wireBytesTaken} when its ping went out or its wait was last held. */
  private readonly taken = new WeakMap<Connection<unknown>, number>();
  /** The bytes a connection had received then: more since means a live peer (its pong may be queued behind them). */
  private readonly received = new WeakMap<Connection<unknown>, number>();
  /** The last tick that saw a connection's reading paused by this side (only with idleTimeout). */
  private readonly pausedAt = new WeakMap<Connection<unknown>, number>();
  /** Milliseconds between ticks. */
  private readonly interval: number;

  constructor(
    private readonly connections: () => Iterable<Connection<unknown>>,
    private readonly options: HeartbeatOptions,
    private readonly counters: HeartbeatCounters,
  ) {
    // pongTimeout matters only while pinging: with pings off it would only make ticks more frequent.
    const intervals = options.pingInterval > 0 ? [options.pingInterval, options.pongTimeout, options.idleTimeout] : [options.idleTimeout];
    const shortest = Math.min(...intervals.filter((value) => value > 0));
    this.interval = timerDelay(Math.max(20, Math.floor(shortest / 5)));
  }

  get enabled(): boolean {
    return this.options.pingInterval > 0 || this.options.idleTimeout > 0;
  }

  start(): void {
    if (!this.enabled || this.timer) return;
    this.timer = setInterval(() => this.tick(), this.interval);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * @internal One pass over the connections (exposed for tests driving time by hand). `now`,
   * `lastActivity` and `pingSentAt` are all on the coarse clock's monotonic scale.
   */
  tick(now = coarseClock.tick()): void {
    const { pingInterval, pongTimeout, idleTimeout } = this.options;
    /** Connections whose ping is past pongTimeout, each followed by when the ping was sent. */
    let late: (Connection<unknown> | number)[] | undefined;
    for (const connection of this.connections()) {
      if (connection.status !== 'open') continue;
      if (idleTimeout > 0) {
        // Reading paused by this side (the application, a full pull reader, an inflation): what
        // the peer sends is not read, so it is not judged silent meanwhile; its idle time starts
        // again from the last tick that saw it so. (A pause because the peer does not read what
        // we send is no such reason: a peer that neither reads nor sends is idle.)
        if ((connection.pauseReasons & HELD_BY_THIS_SIDE) !== 0) this.pausedAt.set(connection, now);
        // A connection without a rate limit stamps its reads with the coarse clock, which this
        // tick refreshes: up to a tick old. Waiting that much more keeps an idle close from
        // coming early.
        else if (now - connection.lastActivity >= idleTimeout + this.interval && now - (this.pausedAt.get(connection) ?? -Infinity) >= idleTimeout + this.interval) {
          this.counters.idleTimeouts++;
          connection.limitReached('idleTimeout', `nothing received for ${idleTimeout} ms`);
          connection.close(1001, 'idle timeout');
          continue;
        }
      }
      if (pingInterval <= 0) continue;
      // Reading paused: see pongWait for when the wait for a pong counts.
      const wait = connection.pauseReasons === 0 ? PongWait.Counts : pongWait(connection, this.taken.get(connection) ?? 0);
      if (wait === PongWait.Forgotten) {
        // The application stopped reading: pinging starts again once it reads.
        connection.pingSentAt = 0;
        this.nextPing.set(connection, now + pingInterval);
        continue;
      }
      if (connection.pingSentAt !== 0) {
        const received = connection.stats.wireBytesIn;
        if (wait === PongWait.Held || received !== this.received.get(connection)) {
          this.pongDue.set(connection, now + pongTimeout);
          this.taken.set(connection, connection.wireBytesTaken);
          this.received.set(connection, received);
        } else if (now >= (this.pongDue.get(connection) ?? connection.pingSentAt + pongTimeout)) {
          // Judged once this turn's reads are done (see dropUnanswered).
          (late ??= []).push(connection, connection.pingSentAt, received);
        }
        continue;
      }
      const due = this.nextPing.get(connection) ?? connection.lastActivity + pingInterval;
      if (now >= due) {
        connection.pingSentAt = coarseClock.precise();
        this.nextPing.set(connection, now + pingInterval);
        this.pongDue.set(connection, connection.pingSentAt + pongTimeout);
        this.taken.set(connection, connection.wireBytesTaken);
        this.received.set(connection, connection.stats.wireBytesIn);
        connection.ping();
      }
    }
    if (late !== undefined) setImmediate(() => this.dropUnanswered(late));
  }

  /**
   * Drops the connections whose ping is still unanswered once the reads of the tick's turn are
   * done: a pong may have been waiting in the socket, unread because the event loop was busy, and
   * a timer runs before the reads of its turn (or other bytes, which the next tick counts). A
   * half-open peer: no close handshake can complete, so it is dropped (reported as 1006).
   * `late` holds, per connection, the connection, its ping's time and the bytes it had received.
   */
  private dropUnanswered(late: (Connection<unknown> | number)[]): void {
    for (let i = 0; i < late.length; i += 3) {
      const connection = late[i] as Connection<unknown>;
      if (connection.status !== 'open' || connection.pingSentAt !== late[i + 1] || connection.stats.wireBytesIn !== late[i + 2]) continue;
      this.counters.heartbeatTimeouts++;
      connection.limitReached('pongTimeout', `ping unanswered for ${this.options.pongTimeout} ms`);
      connection.terminate();
    }
  }
}
