/** The bit sets a connection keeps its state in: one number each instead of a field per bit. */

/** A connection's yes/no state, as bits of one number (one field instead of eight per connection). */
export const enum Flag {
  /** open() ran. */
  Started = 1,
  /** Our FIN was sent (socket.end()). */
  Ended = 2,
  /** The socket reported an error. */
  SocketError = 4,
  /** terminate() was called. */
  Terminated = 8,
  /** startReading() was called. */
  Reading = 16,
  /** A drain marker is pending: 'drain' is due once the buffered amount falls under the mark. */
  NeedDrain = 32,
  /** close() was called while sends were still waiting in the outbox. */
  CloseRequested = 64,
  /** Reading is paused because the peer does not read (slow-consumer policy 'wait'). */
  PausedForSlowness = 128,
  /** A send over maxBufferedAmount is being reported (the 'limit' event, onError): sends meanwhile are dropped unreported. */
  ReportingOverflow = 4096,
}

/** Why a connection stopped reading from its socket: bits of the same number as {@link Flag}. */
export const enum PauseReason {
  /** A large message is being inflated in the thread pool. */
  Inflate = 256,
  /** The peer does not read what we send (slow-consumer policy 'wait'). */
  SlowConsumer = 512,
  /** The application asked (`pause()`). */
  Application = 1024,
  /** The pull reader's buffer is full (apart from `pause()`: neither undoes the other). */
  PullBuffer = 2048,
}

/** Every {@link PauseReason} bit: reading is paused while any is set. */
export const PAUSED = PauseReason.Inflate | PauseReason.SlowConsumer | PauseReason.Application | PauseReason.PullBuffer;

/**
 * The reasons by which this side holds reading (`pause()`, a full pull reader, an inflation): what
 * the peer sends is not read. All but a peer that does not read what we send.
 */
export const HELD_BY_THIS_SIDE = PauseReason.Application | PauseReason.PullBuffer | PauseReason.Inflate;
