/** One publish of this node, numbered, encoded for the stream. */
export interface LogEntry {
  seq: number;
  header: string;
  data: Buffer;
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
  private bytes = 0;
  private acked: LogEntry[] = [];
  private seq = 0;

  constructor(private readonly limits: PublishLogLimits) {}

  /** Messages waiting or in flight. */
  get size(): number {
    return this.pending.length - this.head;
  }

  /** Numbers and queues a message; undefined (nothing queued) when the buffer is full. */
  add(header: (seq: number) => string, data: Buffer): LogEntry | undefined {
    if (this.size >= this.limits.maxMessages || (this.size > 0 && this.bytes + data.length > this.limits.maxBytes)) return undefined;
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

  /** Redis acknowledged the oldest entry in flight (acknowledgements come in order). */
  ack(entry: LogEntry): void {
    if (this.pending[this.head] !== entry) return;
    this.pending[this.head++] = undefined as unknown as LogEntry;
    this.bytes -= entry.data.length;
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

  /** Redis restarted (and lost its stream): the replay window goes out again, before the rest. */
  replay(): number {
    const window = this.acked.slice(-this.limits.replayWindow);
    this.acked = [];
    this.pending = [...window, ...this.pending.slice(this.head)];
    this.head = 0;
    this.next = 0;
    for (const entry of window) this.bytes += entry.data.length;
    return window.length;
  }

  /** Empties the buffer; returns how many messages were in it. */
  clear(): number {
    const count = this.size;
    this.pending = [];
    this.head = this.next = this.bytes = 0;
    return count;
  }

  private compact(): void {
    if (this.head < 1024 || this.head * 2 < this.pending.length) return;
    this.pending = this.pending.slice(this.head);
    this.next -= this.head;
    this.head = 0;
  }
}
