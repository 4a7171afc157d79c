import { type Connection } from '../io/connection.js';
import { timerDelay } from '../io/timer-delay.js';

/**
 * A client's heartbeat: a ping every `interval` ms; a ping unanswered for `timeout` ms means a dead
 * peer (a half-open TCP connection), and the connection is dropped (1006) so that reconnection,
 * when on, can begin. The connection records the pong (pingSentAt back to 0, rtt updated).
 * Returns the function that stops it. An interval of 0 or less starts nothing.
 *
 * One timer ticks at the finer of the two periods (at most half the timeout, so that a missing
 * pong is found within 1.5 × timeout); a tick pings only once `interval` has passed since the last
 * ping.
 */
export function startClientHeartbeat(connection: Connection, interval: number, timeout: number): () => void {
  if (interval <= 0) return () => {};
  const tick = timerDelay(Math.max(10, Math.min(interval, timeout / 2)));
  let lastPingAt = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    // Reading is paused (pause(), a full pull reader, an inflation, a peer that does not read):
    // no pong could be read. The ping out is forgotten and the next waits a whole interval, as on
    // a server, rather than a live peer being taken for a dead one.
    if (connection.isPaused) {
      connection.pingSentAt = 0;
      lastPingAt = now;
      return;
    }
    const sentAt = connection.pingSentAt;
    if (sentAt !== 0) {
      // Judged once this turn's reads are done: the pong may be waiting in the socket, unread
      // because the event loop was busy, and a timer runs before the reads of its turn.
      if (performance.timeOrigin + now - sentAt >= timeout) setImmediate(dropIfUnanswered, connection, sentAt);
      return;
    }
    // Half a tick of slack: a timer that fires a little early still pings on its tick.
    if (now - lastPingAt + tick / 2 < interval) return;
    lastPingAt = now;
    connection.pingSentAt = performance.timeOrigin + now;
    connection.ping();
  }, tick);
  timer.unref();
  return () => clearInterval(timer);
}

/** The ping sent at `sentAt` is still unanswered: the peer is dead. */
function dropIfUnanswered(connection: Connection, sentAt: number): void {
  if (connection.pingSentAt === sentAt) connection.terminate();
}
