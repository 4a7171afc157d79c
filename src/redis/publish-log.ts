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
}

export interface PublishLogLimits {
  /** Most messages not yet acknowledged by Redis (buffered while it is unreachable, or in flight). */
  maxMessages: number;
  /** Most payload bytes of those. */
  maxBytes: number;
  /** Acknowledged messages kept to send again after a Redis restart (0: none). */
  replayWindow: number;
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

  /**
   * Redis acknowledged the oldest entry in flight (acknowledgements come in order), as stream
   * entry `id` (undefined: Redis refused it).
   */
  ack(entry: LogEntry, id?: string): void {
    if (this.pending[this.head] !== entry) return;
    this.pending[this.head++] = undefined as unknown as LogEntry;
    entry.id ??= id;
    if (entry.replayed === true) {
      entry.replayed = false;
      this.replaying--;
    } else {
      this.bytes -= entry.data.length;
    }
    if (this.limits.replayWindow > 0) {
      this.acked.push(entry);
      if (this.acked.length > this.limits.replayWindow * 2) this.acked = this.acked.slice(-this.limits.replayWindow);
    }
    this.compact();
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
    const window = this.acked.slice(-this.limits.replayWindow);
    this.acked = [];
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

  /** Empties the buffer; returns how many messages were in it. */
  clear(): number {
    const count = this.size;
    this.pending = [];
    this.head = this.next = this.bytes = this.replaying = 0;
    return count;
  }

  private compact(): void {
    if (this.head < 1024 || this.head * 2 < this.pending.length) return;
    this.pending = this.pending.slice(this.head);
    this.next -= this.head;
    this.head = 0;
  }
}
