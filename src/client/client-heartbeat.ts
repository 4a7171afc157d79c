import { SockwaveError } from '../errors.js';
import { type Connection } from '../io/connection.js';
import { pongWait, PongWait } from '../io/pong-wait.js';
import { timerDelay } from '../io/timer-delay.js';

/**
 * A client's heartbeat: a ping every `interval` ms; a ping unanswered for `timeout` ms, with
 * nothing else arriving meanwhile, means a dead peer (a half-open TCP connection), and the
 * connection is dropped (an SW_TIMEOUT error, then 1006) so that reconnection, when on, can
 * begin. Bytes arriving keep the peer alive: its pong may be queued behind a long message. The
 * connection records the pong (pingSentAt back to 0, rtt updated). Returns the function that
 * stops it. An interval of 0 or less starts nothing.
 *
 * One timer ticks at the finer of the two periods (at most half the timeout, so that a missing
 * pong is found within 1.5 × timeout); a tick pings only once `interval` has passed since the last
 * ping. While reading is paused, the wait for a pong is held or forgotten as {@link pongWait} says.
 */
export function startClientHeartbeat(connection: Connection, interval: number, timeout: number): () => void {
  if (interval <= 0) return () => {};
  const tick = timerDelay(Math.max(10, Math.min(interval, timeout / 2)));
  let lastPingAt = performance.now();
  /** When the ping out is late: `timeout` after it was sent, or after its wait was last held. */
  let pongDue = 0;
  /** connection.wireBytesTaken when the ping went out or its wait was last held. */
  let taken = 0;
  /** The bytes received then: more since means a live peer (its pong may be queued behind them). */
  let received = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    // Reading paused: see pongWait for when the wait for a pong counts.
    const wait = connection.pauseReasons === 0 ? PongWait.Counts : pongWait(connection, taken);
    if (wait === PongWait.Forgotten) {
      // The application stopped reading: the next ping waits a whole interval after it reads again.
      connection.pingSentAt = 0;
      lastPingAt = now;
      return;
    }
    const sentAt = connection.pingSentAt;
    if (sentAt !== 0) {
      if (wait === PongWait.Held || connection.stats.wireBytesIn !== received) {
        pongDue = now + timeout;
        taken = connection.wireBytesTaken;
        received = connection.stats.wireBytesIn;
      } else if (now >= pongDue) {
        // Judged once this turn's reads are done: the pong (or other bytes) may be waiting in the
        // socket, unread because the event loop was busy, and a timer runs before the reads of its turn.
        setImmediate(dropIfUnanswered, connection, sentAt, timeout, received);
      }
      return;
    }
    // Half a tick of slack: a timer that fires a little early still pings on its tick.
    if (now - lastPingAt + tick / 2 < interval) return;
    lastPingAt = now;
    pongDue = now + timeout;
    taken = connection.wireBytesTaken;
    received = connection.stats.wireBytesIn;
    connection.pingSentAt = performance.timeOrigin + now;
    connection.ping();
  }, tick);
  timer.unref();
  return () => clearInterval(timer);
}

/** The ping sent at `sentAt` is still unanswered, nothing else came: the peer is dead (reported as SW_TIMEOUT, then 1006). */
function dropIfUnanswered(connection: Connection, sentAt: number, timeout: number, received: number): void {
  if (connection.pingSentAt !== sentAt || connection.stats.wireBytesIn !== received) return;
  connection.dropWith(new SockwaveError('SW_TIMEOUT', `ping unanswered for ${timeout} ms: the peer is taken as dead`));
}
