import { type Connection } from '../io/connection.js';
import { type Outgoing } from './message-format.js';

/**
 * The lines read from stdin (and --execute's messages) on their way to the server.
 *
 * `sockwave connect` keeps them here rather than in the reconnecting client's outbox: that outbox
 * is bounded (1024 messages) and refuses what does not fit, and discards its content when the
 * client is closed, while a line read from stdin must never be lost silently. Rather than
 * buffering without bound, reading stdin pauses while too much is waiting here (not connected
 * yet, reconnecting, or the socket's send buffer past its high-water mark) and resumes once it
 * went out: backpressure from the socket all the way back to the pipe.
 */
export interface OutflowTarget {
  /** The connection to send on, or undefined while there is none (connecting, reconnecting, leaving). */
  connection(): Connection | undefined;
  /** Sends one message on the open connection (the client's send(): text for a string, binary for bytes). */
  send(message: Outgoing): string;
  pauseInput(): void;
  resumeInput(): void;
  /** Everything waiting went out (to the connection's send buffer). */
  drained(): void;
}

/** Reading stdin pauses once this many messages, or bytes, wait; it resumes below half of it. */
const PAUSE_MESSAGES = 1024;
const PAUSE_BYTES = 1024 * 1024;

export class Outflow {
  private queue: Outgoing[] = [];
  /** Index of the oldest waiting message in `queue` (shift() would copy a long queue each time). */
  private head = 0;
  private bytes = 0;
  private paused = false;
  /** The connection whose send buffer is full: nothing more goes to it before its 'drain'. */
  private blockedOn: Connection | undefined;

  constructor(private readonly target: OutflowTarget) {}

  /** Messages read but not sent yet. */
  get pending(): number {
    return this.queue.length - this.head;
  }

  /** Sends `message` now if it can, else keeps it, in order, until flush() can. */
  push(message: Outgoing): void {
    this.queue.push(message);
    this.bytes += size(message);
    this.flush();
    if (!this.paused && (this.pending >= PAUSE_MESSAGES || this.bytes >= PAUSE_BYTES)) {
      this.paused = true;
      this.target.pauseInput();
    }
  }

  /** Sends what waits, oldest first, as far as the connection takes it. Call when one opens. */
  flush(): void {
    const connection = this.target.connection();
    if (connection === undefined || connection.status !== 'open' || connection === this.blockedOn) return;
    this.blockedOn = undefined;
    const waiting = this.pending > 0;
    while (this.pending > 0) {
      const message = this.queue[this.head]!;
      const result = this.target.send(message);
      if (result === 'dropped') {
        // Not accepted (closing, or over the connection's buffer limit): it stays first in line,
        // for when this connection drains or the next one opens.
        this.block(connection);
        break;
      }
      this.take();
      if (result === 'backpressure') {
        this.block(connection);
        break;
      }
    }
    if (this.paused && this.pending < PAUSE_MESSAGES / 2 && this.bytes < PAUSE_BYTES / 2) {
      this.paused = false;
      this.target.resumeInput();
    }
    if (waiting && this.pending === 0) this.target.drained();
  }

  /** Forgets what waits (its reader is gone); returns how many messages that was. */
  discard(): number {
    const count = this.pending;
    this.queue = [];
    this.head = 0;
    this.bytes = 0;
    return count;
  }

  private take(): void {
    this.bytes -= size(this.queue[this.head]!);
    this.queue[this.head++] = '';
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  private block(connection: Connection): void {
    this.blockedOn = connection;
    connection.once('drain', () => {
      if (this.blockedOn !== connection) return;
      this.blockedOn = undefined;
      this.flush();
    });
  }
}

function size(message: Outgoing): number {
  return typeof message === 'string' ? Buffer.byteLength(message) : message.length;
}
