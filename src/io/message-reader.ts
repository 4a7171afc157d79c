import { ConnectionClosedError, SockwaveError } from '../errors.js';
import { watchAbort } from './abort-watch.js';
import { PauseReason } from './connection-flags.js';
import { type CloseInfo } from './connection-types.js';
import { MAX_TIMER_DELAY } from './timer-delay.js';
import { checkNumber, checkType, isAbortSignal } from '../option-checks.js';

/** One message as the pull style returns it: text as a string, binary as a Buffer (testing `isBinary` narrows `data`). */
export type PulledMessage = { data: string; isBinary: false } | { data: Buffer; isBinary: true };

export interface MessageReaderOptions {
  /** Messages held before reading from the peer pauses. Default 1024. */
  maxBufferedMessages?: number | undefined;
  /** Bytes (characters, for text) held before reading from the peer pauses. Default 16 MiB. */
  maxBufferedBytes?: number | undefined;
}

export interface NextMessageOptions {
  /** Milliseconds to wait; past it the promise rejects with code SW_TIMEOUT. Default (and `Infinity`): no limit. */
  timeout?: number | undefined;
  /** Rejects with code SW_ABORTED when aborted. */
  signal?: AbortSignal | undefined;
}

/** What a reader needs from its connection. */
export interface ReadableConnection {
  /**
   * Takes the reader made over it: from then on it hands the reader every message, with
   * {@link MessageReader.take}, before its handler and its listeners see it (so that what they
   * throw cannot keep a message from the reader). A connection has one reader: it throws for another.
   */
  attachReader(reader: MessageReader): void;
  on(event: 'close', listener: (info: CloseInfo) => void): unknown;
  /** Stops reading from the peer for `reason`, apart from the application's own `pause()`. */
  pauseReading(reason: PauseReason): void;
  /** Told when the buffer fills up (a server counts it as its `receiveBuffer` limit). */
  limitReached?(limit: 'receiveBuffer', detail: string): void;
  resumeReading(reason: PauseReason): void;
  readonly status: string;
  /** How it ended, once closed. */
  readonly closeInfo?: CloseInfo;
}

interface Waiter {
  resolve(message: PulledMessage): void;
  reject(error: Error): void;
}

/**
 * The pull style over a connection: `await reader.next()`, `for await (const m of reader)`; a
 * connection's one reader is `conn.messages()`.
 * Messages are held in a bounded buffer; when it is full the connection stops reading from the
 * peer (TCP then slows the peer down), and reading resumes once the buffer is half empty.
 * After the connection closes, buffered messages are still returned, then `next()` rejects with
 * ConnectionClosedError and iteration ends (it throws if the close was not clean).
 */
export class MessageReader implements AsyncIterable<PulledMessage> {
  private readonly connection: ReadableConnection;
  private readonly buffer: PulledMessage[] = [];
  private head = 0;
  private bytes = 0;
  private readonly waiters: Waiter[] = [];
  private closed: CloseInfo | undefined;
  private paused = false;
  private maxMessages = 1024;
  private maxBytes = 16 * 1024 * 1024;

  /**
   * Not for applications: a connection's reader is made by its `messages()` (or `nextMessage()`,
   * or iteration), and a connection takes one reader only. (Left in the published types, unlike
   * other internals: without it a class would declare a public constructor taking nothing.)
   */
  constructor(connection: ReadableConnection, options: MessageReaderOptions = {}) {
    this.connection = connection;
    this.setLimits(options);
    connection.attachReader(this);
    connection.on('close', (info) => this.close(info));
    if (connection.status === 'closed') this.close(connection.closeInfo ?? { code: 1006, reason: '', wasClean: false, remote: false });
  }

  /** True when a message can be returned without waiting. */
  get hasBufferedMessage(): boolean {
    return this.head < this.buffer.length;
  }

  /**
   * Changes the limits given (the others stay): reading pauses at once if the buffer is now full,
   * and resumes if it is now at most half full. Infinity means no limit. Throws RangeError,
   * changing nothing, for a limit that is not a positive integer or Infinity.
   */
  setLimits(options: MessageReaderOptions): void {
    const { maxBufferedMessages = this.maxMessages, maxBufferedBytes = this.maxBytes } = options;
    for (const [name, value] of [['maxBufferedMessages', maxBufferedMessages], ['maxBufferedBytes', maxBufferedBytes]] as const) {
      if (!(value >= 1 && (Number.isSafeInteger(value) || value === Infinity))) throw new RangeError(`${name} must be a positive integer or Infinity (got ${String(value)})`);
    }
    this.maxMessages = maxBufferedMessages;
    this.maxBytes = maxBufferedBytes;
    if (this.paused) this.resumeIfCaughtUp();
    else this.pauseIfFull();
  }

  /** Messages held now. */
  get bufferedMessages(): number {
    return this.buffer.length - this.head;
  }

  /** The next message: at once if one is buffered, else when one arrives. */
  next(options: NextMessageOptions = {}): Promise<PulledMessage> {
    try {
      checkType('nextMessage', 'options', options, 'object');
      checkNumber('nextMessage', 'timeout', options.timeout, { infinite: true });
      if (options.signal != null && !isAbortSignal(options.signal)) throw new TypeError('nextMessage: signal must be an AbortSignal');
    } catch (error) {
      return Promise.reject(error as Error);
    }
    if (this.hasBufferedMessage) return Promise.resolve(this.shift());
    if (this.closed) return Promise.reject(closedError(this.closed));
    const { timeout } = options;
    const signal = options.signal ?? undefined;
    if (signal?.aborted) return Promise.reject(aborted(signal));
    return new Promise<PulledMessage>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter: Waiter = {
        resolve: (message) => {
          cleanup();
          resolve(message);
        },
        reject: (error) => {
          cleanup();
          reject(error);
        },
      };
      let unwatch: (() => void) | undefined;
      const cleanup = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        unwatch?.();
      };
      // (Node fires a delay it cannot hold, over 2^31 - 1 ms, after 1 ms: held to that instead.)
      if (timeout !== undefined && timeout !== Infinity) {
        timer = setTimeout(() => {
          this.removeWaiter(waiter);
          waiter.reject(new SockwaveError('SW_TIMEOUT', `no message within ${timeout} ms`));
        }, Math.min(timeout, MAX_TIMER_DELAY));
      }
      if (signal !== undefined) {
        unwatch = watchAbort(signal, () => {
          this.removeWaiter(waiter);
          waiter.reject(aborted(signal));
        });
      }
      this.waiters.push(waiter);
    });
  }

  async *[Symbol.asyncIterator](): AsyncIterator<PulledMessage> {
    for (;;) {
      try {
        yield await this.next();
      } catch (error) {
        if (error instanceof ConnectionClosedError && error.wasClean) return;
        throw error;
      }
    }
  }

  /**
   * @internal A message, from the connection (see {@link ReadableConnection.attachReader}). A
   * reader made while a message is delivered (by its handler) starts with the next one.
   */
  take(data: string | Buffer, isBinary: boolean): void {
    // (The connection passes text as a string and binary as a Buffer: the pairs PulledMessage allows.)
    const message = { data, isBinary } as PulledMessage;
    const waiter = this.waiters.shift();
    if (waiter) return waiter.resolve(message);
    this.buffer.push(message);
    this.bytes += message.data.length;
    if (!this.paused) this.pauseIfFull();
  }

  /** Backpressure: when the buffer is full, reading stops until the application catches up. */
  private pauseIfFull(): void {
    if (this.bufferedMessages < this.maxMessages && this.bytes < this.maxBytes) return;
    this.paused = true;
    this.connection.limitReached?.('receiveBuffer', `pull buffer full (${this.bufferedMessages} messages, ${this.bytes} bytes): reading paused`);
    this.connection.pauseReading(PauseReason.PullBuffer);
  }

  private resumeIfCaughtUp(): void {
    if (this.bufferedMessages > this.maxMessages / 2 || this.bytes > this.maxBytes / 2) return;
    this.paused = false;
    this.connection.resumeReading(PauseReason.PullBuffer);
  }

  private shift(): PulledMessage {
    const message = this.buffer[this.head]!;
    this.buffer[this.head++] = undefined as unknown as PulledMessage;
    if (this.head === this.buffer.length) {
      this.buffer.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.buffer.length) {
      this.buffer.splice(0, this.head);
      this.head = 0;
    }
    this.bytes -= message.data.length;
    if (this.paused) this.resumeIfCaughtUp();
    return message;
  }

  private close(info: CloseInfo): void {
    if (this.closed) return;
    this.closed = info;
    for (const waiter of this.waiters.splice(0)) waiter.reject(closedError(info));
  }

  private removeWaiter(waiter: Waiter): void {
    const index = this.waiters.indexOf(waiter);
    if (index !== -1) this.waiters.splice(index, 1);
  }
}

function closedError(info: CloseInfo): ConnectionClosedError {
  return new ConnectionClosedError(info.code, info.reason, info.wasClean, info.remote);
}

function aborted(signal: AbortSignal): SockwaveError {
  return new SockwaveError('SW_ABORTED', 'waiting for a message was aborted', { cause: signal.reason });
}
