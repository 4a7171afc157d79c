import { type Connection } from '../io/connection.js';
import { OutboxFullError, type OutboxOptions } from './outbox.js';
import { type BlobRead } from './websocket-support.js';

/**
 * What the standard WebSocket's send() and close() hand over, kept in order: a Blob is read
 * before anything after it goes out. While no connection is attached (a reconnecting WebSocket
 * between connections) everything waits, bounded in count and bytes like the handler-style
 * client's outbox; once a connection is attached it goes out first, in order.
 */
export type Outgoing =
  | { kind: 'message'; data: string | Buffer; size: number }
  | { kind: 'blob'; read: Promise<BlobRead>; size: number }
  | { kind: 'close'; code: number | undefined; reason: string };

export interface OrderedSenderHooks {
  /**
   * A Blob could not be read: that message cannot be sent, so the connection must fail. The Blob
   * is already out of the queue; what was queued after it is still there. `attached`: whether a
   * connection was attached when the read failed (a reconnecting WebSocket may be between two).
   */
  blobUnreadable(error: unknown, size: number, attached: boolean): void;
  /** `size` bytes of application data were handed to the network. */
  sent(size: number): void;
  /** `size` bytes of application data were never handed to the network: their connection failed first. */
  lost(size: number): void;
}

export class OrderedSender {
  readonly #queue: Outgoing[] = [];
  #queuedBytes = 0;
  #pumping = false;
  #connection: Connection | undefined;
  readonly #hooks: OrderedSenderHooks;
  readonly #maxMessages: number;
  readonly #maxBytes: number;
  readonly #dropOldest: boolean;

  constructor(hooks: OrderedSenderHooks, limits: OutboxOptions = {}) {
    this.#hooks = hooks;
    this.#maxMessages = limits.maxMessages ?? 1024;
    this.#maxBytes = limits.maxBytes ?? 16 * 1024 * 1024;
    this.#dropOldest = limits.policy === 'drop-oldest';
  }

  /** Items waiting (not yet handed to a connection). */
  get size(): number {
    return this.#queue.length;
  }

  /**
   * Sends through `connection` from now on, beginning with what waited. What waits goes out only
   * while the connection is open: one already closing (the server's close frame came with its
   * 101) sends none of it, and it waits for the next connection.
   */
  attach(connection: Connection): void {
    this.#connection = connection;
    if (this.#queue.length > 0 && !this.#pumping) void this.#pump();
  }

  /** Holds everything from now on (the connection is gone; another may come). */
  detach(): void {
    this.#connection = undefined;
  }

  /**
   * Sends now, or after what waits. While detached the queue is bounded: a message that does not
   * fit throws OutboxFullError (policy 'reject'), or the oldest messages make room and are
   * returned (policy 'drop-oldest').
   */
  push(item: Outgoing): Outgoing[] {
    if (this.#connection !== undefined && this.#queue.length === 0 && item.kind !== 'blob') {
      this.#transmitNow(this.#connection, item);
      return [];
    }
    const dropped = this.#connection === undefined ? this.#makeRoom(item.kind === 'close' ? 0 : item.size) : [];
    this.#queue.push(item);
    if (item.kind !== 'close') this.#queuedBytes += item.size;
    if (this.#connection !== undefined && !this.#pumping) void this.#pump();
    return dropped;
  }

  /** Forgets everything waiting; returns it. */
  clear(): Outgoing[] {
    this.#queuedBytes = 0;
    return this.#queue.splice(0);
  }

  #makeRoom(size: number): Outgoing[] {
    if (size > this.#maxBytes) throw new OutboxFullError(`message of ${size} bytes exceeds the outbox (${this.#maxBytes} bytes)`);
    const dropped: Outgoing[] = [];
    while (this.#queue.length >= this.#maxMessages || this.#queuedBytes + size > this.#maxBytes) {
      // (An outbox of no messages has nothing to drop: the message cannot be held at all.)
      if (!this.#dropOldest || this.#queue.length === 0) throw new OutboxFullError(`outbox full (${this.#queue.length} messages, ${this.#queuedBytes} bytes)`);
      const oldest = this.#queue.shift()!;
      if (oldest.kind !== 'close') this.#queuedBytes -= oldest.size;
      dropped.push(oldest);
    }
    return dropped;
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      while (this.#queue.length > 0 && this.#connection?.status === 'open') {
        let item = this.#queue[0]!;
        if (item.kind === 'blob') {
          const read = await item.read;
          if (this.#queue[0] !== item) break; // cleared meanwhile (the connection failed)
          if (!read.ok) {
            this.#queue.shift();
            this.#queuedBytes -= item.size;
            // The connection is failing now: what follows the Blob waits (for the next connection, or for clear()).
            this.#hooks.blobUnreadable(read.error, item.size, this.#connection !== undefined);
            break;
          }
          item = { kind: 'message', data: read.bytes, size: item.size };
          this.#queue[0] = item;
          if (this.#connection?.status !== 'open') break; // detached or closing while reading: it waits, read
        }
        this.#queue.shift();
        if (item.kind !== 'close') this.#queuedBytes -= item.size;
        this.#transmitNow(this.#connection, item);
      }
    } finally {
      this.#pumping = false;
    }
  }

  #transmitNow(connection: Connection, item: Exclude<Outgoing, { kind: 'blob' }>): void {
    if (item.kind === 'close') {
      connection.close(item.code, item.reason);
      return;
    }
    const size = item.size;
    connection.send(item.data, (error) => {
      if (error) this.#hooks.lost(size);
      else this.#hooks.sent(size);
    });
  }
}

/**
 * The error event's error for an item that policy 'drop-oldest' discarded: an OutboxFullError
 * that hands the message back (its bytes; a Blob not read yet has none to hand back).
 */
export function droppedError(item: Outgoing): OutboxFullError {
  const message = item.kind === 'message' ? { data: typeof item.data === 'string' ? Buffer.from(item.data) : item.data, binary: typeof item.data !== 'string' } : undefined;
  return new OutboxFullError(`outbox full: dropped the oldest message (${item.kind === 'close' ? 0 : item.size} bytes)`, message);
}
