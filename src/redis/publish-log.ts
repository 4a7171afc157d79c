import { withOrigin } from './envelope-codec.js';

/** One publish of this node, numbered, encoded for the stream. */
export interface LogEntry {
  seq: number;
  header: string;
  data: Buffer;
  /** The stream id Redis gave it the first time it was acknowledged. */
  id?: string;
  /** Sent again after a Redis restart (not counted against the buffer's bound). */
  replayed?: boolean;
  /** How many times a connection broke while it was the oldest entry in flight. */
  breaks?: number;
}

export interface PublishLogLimits {
  /** Most messages not yet acknowledged by Redis (buffered while it is unreachable, or in flight). */
  maxMessages: number;
  /** Most payload bytes of those. */
  maxBytes: number;
  /** Acknowledged messages kept to send again after a Redis restart (0: none). */
  replayWindow: number;
  /** Most payload bytes of those: the oldest go first past it (a few large messages must not pin gigabytes). */
  replayWindowBytes: number;
}

/** What {@link PublishLog.clear} let go of. */
export interface ClearedCounts {
  /** Never handed to Redis: no other node gets them. */
  unsent: number;
  /** Handed to Redis and not acknowledged: other nodes may or may not get them. */
  unconfirmed: number;
}

/**
 * This node's outgoing messages, in order: those Redis has not acknowledged yet (the buffer, with
 * a bound), and the last acknowledged ones (the replay window, sent again when Redis restarted
 * and lost what it held). Receivers drop what they already had by sequence number.
 */
export class PublishLog {
  private pending: LogEntry[] = [];
  private head = 0;
  /** Index (in `pending`) of the first entry not handed to Redis yet. */
  private next = 0;
  /** Payload bytes of the pending entries that count against the bound (replayed ones do not). */
  private bytes = 0;
  /** Pending entries sent again after a Redis restart. */
  private replaying = 0;
  private acked: LogEntry[] = [];
  /** Payload bytes of `acked`. */
  private ackedBytes = 0;
  private seq = 0;

  constructor(private readonly limits: PublishLogLimits) {}

  /** Messages waiting or in flight. */
  get size(): number {
    return this.pending.length - this.head;
  }

  /**
   * Numbers and queues a message; undefined (nothing queued) when the buffer is full. The replay
   * window sent again after a Redis restart is not counted: it must not crowd out new messages.
   */
  add(header: (seq: number) => string, data: Buffer): LogEntry | undefined {
    const buffered = this.size - this.replaying;
    if (buffered >= this.limits.maxMessages || (buffered > 0 && this.bytes + data.length > this.limits.maxBytes)) return undefined;
    const entry = { seq: ++this.seq, header: header(this.seq), data };
    this.pending.push(entry);
    this.bytes += data.length;
    return entry;
  }

  hasUnsent(): boolean {
    return this.next < this.pending.length;
  }

  /** The next entry to hand to Redis. */
  takeUnsent(): LogEntry | undefined {
    return this.next < this.pending.length ? this.pending[this.next++] : undefined;
  }

  /** The oldest entry handed to Redis and not acknowledged yet, if any. */
  oldestInFlight(): LogEntry | undefined {
    return this.head < this.next ? this.pending[this.head] : undefined;
  }

  /**
   * Redis acknowledged the oldest entry in flight (acknowledgements come in order), as stream
   * entry `id`: it is kept in the replay window.
   */
  ack(entry: LogEntry, id?: string): void {
    if (!this.release(entry)) return;
    entry.id ??= id;
    if (this.limits.replayWindow > 0 && this.limits.replayWindowBytes > 0) {
      this.acked.push(entry);
      this.ackedBytes += entry.data.length;
      // Trimmed in steps (up to twice the window is held), not at every acknowledgement.
      if (this.acked.length > this.limits.replayWindow * 2 || this.ackedBytes > this.limits.replayWindowBytes * 2) this.trimAcked();
    }
  }

  /**
   * Gives up the oldest entry in flight: Redis refused it, or closed the connection each time it
   * was sent. It reached no node, so it is neither sent again nor kept for the replay window.
   */
  discard(entry: LogEntry): void {
    this.release(entry);
  }

  /** Takes `entry`, if it is the oldest in flight, out of the buffer; whether it was. */
  private release(entry: LogEntry): boolean {
    if (this.pending[this.head] !== entry) return false;
    this.pending[this.head++] = undefined as unknown as LogEntry;
    if (entry.replayed === true) {
      entry.replayed = false;
      this.replaying--;
    } else {
      this.bytes -= entry.data.length;
    }
    this.compact();
    return true;
  }

  /** Keeps the newest acknowledged entries within the replay window's count and bytes. */
  private trimAcked(): void {
    let first = Math.max(0, this.acked.length - this.limits.replayWindow);
    let bytes = 0;
    for (let i = first; i < this.acked.length; i++) bytes += this.acked[i]!.data.length;
    while (first < this.acked.length && bytes > this.limits.replayWindowBytes) bytes -= this.acked[first++]!.data.length;
    this.acked = this.acked.slice(first);
    this.ackedBytes = bytes;
  }

  /** The connection was lost: what was in flight is sent again (receivers drop duplicates). */
  rewind(): void {
    this.next = this.head;
  }

  /**
   * Redis restarted (and lost its stream): the replay window goes out again, before the rest.
   * Each replayed entry's header names the stream id it first had, so that a node that joined
   * after it was published can tell it is not for it.
   */
  replay(): number {
    this.trimAcked();
    const window = this.acked;
    this.acked = [];
    this.ackedBytes = 0;
    for (const entry of window) {
      entry.replayed = true;
      if (entry.id !== undefined && !entry.header.includes('"o":')) entry.header = withOrigin(entry.header, entry.id);
    }
    this.pending = [...window, ...this.pending.slice(this.head)];
    this.head = 0;
    this.next = 0;
    // (Entries replayed before and still pending are counted again.)
    this.replaying = 0;
    for (const entry of this.pending) if (entry.replayed === true) this.replaying++;
    return window.length;
  }

  /** Empties the buffer and the replay window; says how many messages were buffered, sent or not. */
  clear(): ClearedCounts {
    const counts = { unsent: this.pending.length - this.next, unconfirmed: this.next - this.head };
    this.pending = [];
    this.acked = [];
    this.head = this.next = this.bytes = this.replaying = this.ackedBytes = 0;
    return counts;
  }

  private compact(): void {
    if (this.head < 1024 || this.head * 2 < this.pending.length) return;
    this.pending = this.pending.slice(this.head);
    this.next -= this.head;
    this.head = 0;
  }
}
