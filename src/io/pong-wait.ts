import { type Connection } from './connection.js';
import { PauseReason } from './connection-flags.js';

/** What a heartbeat's tick does with the wait for a connection's pong (see {@link pongWait}). */
export const enum PongWait {
  /** The pong could arrive: the wait goes on. */
  Counts,
  /** It could not, through no fault of the peer's: the wait starts again from this tick. */
  Held,
  /** The application stopped reading: the ping out is forgotten, and none is sent meanwhile. */
  Forgotten,
}

/**
 * How the wait for a pong fares on a heartbeat's tick (the server's and the client's alike),
 * given why reading is paused, if it is:
 * - it is not: the wait counts;
 * - the application holds it (`pause()`, a full pull reader): no pong can be read, by its choice:
 *   forgotten;
 * - a message received is being inflated: reading goes on by itself once that is done, and the
 *   pong may be queued behind the message: held;
 * - the peer does not read what is sent to it (slowConsumer 'wait'): held while it still takes
 *   bytes (alive, if slow), counting when it takes none. A dead peer never will: its connection
 *   would otherwise be kept for ever.
 * `takenBefore`: {@link Connection.wireBytesTaken} when the ping went out or the wait was last held.
 */
export function pongWait(connection: Connection<unknown>, takenBefore: number): PongWait {
  const reasons = connection.pauseReasons;
  if (reasons === 0) return PongWait.Counts;
  if ((reasons & (PauseReason.Application | PauseReason.PullBuffer)) !== 0) return PongWait.Forgotten;
  if ((reasons & PauseReason.Inflate) !== 0) return PongWait.Held;
  return connection.wireBytesTaken > takenBefore ? PongWait.Held : PongWait.Counts;
}
