import { type Connection } from '../io/connection.js';

/**
 * A client's heartbeat: ping every `interval` ms; a ping unanswered for `timeout` ms means a dead
 * peer (a half-open TCP connection), and the connection is dropped (1006) so that reconnection,
 * when on, can begin. The connection records the pong (pingSentAt back to 0, rtt updated).
 * Returns the function that stops it. An interval of 0 or less starts nothing.
 */
export function startClientHeartbeat(connection: Connection, interval: number, timeout: number): () => void {
  if (interval <= 0) return () => {};
  const timer = setInterval(() => {
    const now = performance.timeOrigin + performance.now();
    if (connection.pingSentAt !== 0) {
      if (now - connection.pingSentAt >= timeout) connection.terminate();
      return;
    }
    connection.pingSentAt = now;
    connection.ping();
  }, Math.max(10, Math.min(interval, timeout / 2)));
  timer.unref();
  return () => clearInterval(timer);
}
