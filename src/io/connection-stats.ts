/**
 * Traffic counters of one connection. Payload bytes are message bytes as the application sees
 * them (inflated); wire bytes are what crossed the socket (frames, headers, compression).
 */
export class ConnectionStats {
  messagesIn = 0;
  messagesOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  wireBytesIn = 0;
  wireBytesOut = 0;
  /** Messages not sent because the connection was closing or its send buffer was over the limit. */
  dropped = 0;

  /** Adds another connection's counters (a server keeps the totals of closed connections). */
  add(other: ConnectionStats): void {
    this.messagesIn += other.messagesIn;
    this.messagesOut += other.messagesOut;
    this.bytesIn += other.bytesIn;
    this.bytesOut += other.bytesOut;
    this.wireBytesIn += other.wireBytesIn;
    this.wireBytesOut += other.wireBytesOut;
    this.dropped += other.dropped;
  }
}

/** What to do when a send would take a connection's buffer past `maxBufferedAmount`. */
export type SlowConsumerPolicy =
  /** Drop the message (counted, reported as 'dropped'). */
  | 'drop'
  /** Drop the message and close the connection (default code 1013, try again later). */
  | 'close'
  /**
   * Accept it, and stop reading from the peer until its buffer drains (its own traffic cannot grow
   * the buffer further); past twice the limit, messages are dropped.
   */
  | 'wait';
