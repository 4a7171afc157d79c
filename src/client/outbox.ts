import { SockwaveError } from '../errors.js';

/**
 * Messages sent while a reconnecting client is disconnected: kept in order, bounded in count and
 * bytes, delivered once the connection is back. When full, the policy decides — `reject` refuses
 * the new message (the caller gets an error), `drop-oldest` discards the oldest one and reports it.
 * Nothing is ever dropped without being reported.
 */
export type OutboxPolicy = 'reject' | 'drop-oldest';

export interface OutboxOptions {
  /** Most messages held. Default 1024. */
  maxMessages?: number | undefined;
  /** Most bytes held. Default 16 MiB. */
  maxBytes?: number | undefined;
  /** What happens when a message does not fit. Default 'reject'. */
  policy?: OutboxPolicy | undefined;
}

export interface OutboxEntry {
  data: Buffer;
  binary: boolean;
}

/**
 * The outbox had no room: thrown by send() (policy 'reject'), or reported when policy
 * 'drop-oldest' discarded a message, which {@link OutboxFullError.dropped} hands back.
 */
export class OutboxFullError extends SockwaveError {
  declare readonly code: 'SW_OUTBOX_FULL';
  /** The message discarded to make room (policy 'drop-oldest'); undefined when send() threw. */
  readonly dropped: OutboxEntry | undefined;
  constructor(message: string, dropped?: OutboxEntry) {
    super('SW_OUTBOX_FULL', message);
    this.dropped = dropped;
  }
}

/**
 * Messages accepted while disconnected that will never be sent, because the client was closed or
 * gave up reconnecting: handed back, oldest first, so that the caller can keep them elsewhere.
 */
export class UnsentMessagesError extends SockwaveError {
  declare readonly code: 'SW_NOT_SENT';
  readonly messages: readonly OutboxEntry[];
  constructor(messages: readonly OutboxEntry[], why: string) {
    super('SW_NOT_SENT', `${messages.length} queued message${messages.length === 1 ? ' was' : 's were'} not sent: ${why}`);
    this.messages = messages;
  }
}

export class Outbox {
  private readonly entries: OutboxEntry[] = [];
  private bytes = 0;
  private readonly maxMessages: number;
  private readonly maxBytes: number;
  readonly policy: OutboxPolicy;

  constructor(options: OutboxOptions = {}) {
    this.maxMessages = options.maxMessages ?? 1024;
    this.maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
    this.policy = options.policy ?? 'reject';
  }

  get size(): number {
    return this.entries.length;
  }

  get byteSize(): number {
    return this.bytes;
  }

  /**
   * Queues a message. Returns the entries dropped to make room (policy 'drop-oldest'), or throws
   * OutboxFullError (policy 'reject', or a message larger than the whole outbox).
   */
  push(entry: OutboxEntry): OutboxEntry[] {
    if (entry.data.length > this.maxBytes) throw new OutboxFullError(`message of ${entry.data.length} bytes exceeds the outbox (${this.maxBytes} bytes)`);
    const dropped: OutboxEntry[] = [];
    while (this.entries.length >= this.maxMessages || this.bytes + entry.data.length > this.maxBytes) {
      // (An outbox of no messages has nothing to drop: the message cannot be held at all.)
      if (this.policy === 'reject' || this.entries.length === 0) throw new OutboxFullError(`outbox full (${this.entries.length} messages, ${this.bytes} bytes)`);
      const oldest = this.entries.shift()!;
      this.bytes -= oldest.data.length;
      dropped.push(oldest);
    }
    this.entries.push(entry);
    this.bytes += entry.data.length;
    return dropped;
  }

  /** Takes every queued message, oldest first. */
  drain(): OutboxEntry[] {
    const all = this.entries.splice(0);
    this.bytes = 0;
    return all;
  }
}
