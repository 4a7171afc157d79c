import { type Socket } from 'node:net';
import { HandshakeError } from '../errors.js';
import { findHeadEnd, parseRequestHead, type RequestHead } from '../handshake/http-head.js';
import { coarseClock } from '../io/coarse-clock.js';

/** What becomes of a socket whose request head was read, or could not be. */
export interface HeadSink {
  /** The head arrived; `rest` is what came after it. The socket is paused. */
  headRead(socket: Socket, head: RequestHead, rest: Buffer): void;
  /**
   * No head: malformed (400) or too large (431), the client closed first (400), or it did not
   * finish in time (408, code SW_HANDSHAKE_TIMEOUT). The socket is paused.
   */
  headFailed(socket: Socket, error: HandshakeError): void;
}

/** A socket still sending its head: what came so far, and when its time is up. */
interface Reading {
  buffered: Buffer;
  readonly deadline: number;
}

/**
 * Reads HTTP request heads from raw sockets (standalone mode: no `http` objects per connection).
 * It costs a socket no closure, promise or timer of its own: every socket shares the reader's
 * three listeners, and one timer serves the slowloris guard for all of them. The timeout is the
 * same for every socket, so arrival order is deadline order: the timer waits for the oldest
 * socket still reading, and when it fires, drops every socket past its deadline and waits for
 * the next oldest.
 */
export class HeadReader {
  /** Sockets still reading, in arrival (and so deadline) order. */
  private readonly reading = new Map<Socket, Reading>();
  private timer: NodeJS.Timeout | undefined;
  private readonly onData: (this: Socket, chunk: Buffer) => void;
  private readonly onEnd: (this: Socket) => void;

  constructor(
    private readonly sink: HeadSink,
    private readonly maxHeaderBytes: number,
    private readonly timeout: number,
  ) {
    const reader = this;
    this.onData = function (this: Socket, chunk: Buffer) {
      reader.received(this, chunk);
    };
    this.onEnd = function (this: Socket) {
      reader.fail(this, new HandshakeError(400, 'the client closed before completing its request'));
    };
  }

  /** Sockets whose head has not arrived yet. */
  get size(): number {
    return this.reading.size;
  }

  /** Starts reading the request head of `socket`; the sink hears of it once. */
  read(socket: Socket): void {
    this.reading.set(socket, { buffered: EMPTY, deadline: coarseClock.monotonic() + this.timeout });
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    if (this.timer === undefined) this.arm(this.timeout);
  }

  private received(socket: Socket, chunk: Buffer): void {
    const reading = this.reading.get(socket);
    if (reading === undefined) return;
    const searchFrom = reading.buffered.length;
    const buffered = searchFrom === 0 ? chunk : Buffer.concat([reading.buffered, chunk]);
    reading.buffered = buffered;
    const end = findHeadEnd(buffered, searchFrom);
    if (end === -1) {
      if (buffered.length > this.maxHeaderBytes) this.fail(socket, new HandshakeError(431, 'request header fields too large'));
      return;
    }
    if (end > this.maxHeaderBytes) return this.fail(socket, new HandshakeError(431, 'request header fields too large'));
    let head: RequestHead;
    try {
      head = parseRequestHead(buffered.subarray(0, end));
    } catch (error) {
      return this.fail(socket, error instanceof HandshakeError ? error : new HandshakeError(400, 'bad request'));
    }
    this.stop(socket);
    this.sink.headRead(socket, head, buffered.subarray(end));
  }

  private fail(socket: Socket, error: HandshakeError): void {
    if (!this.reading.has(socket)) return;
    this.stop(socket);
    this.sink.headFailed(socket, error);
  }

  /** Takes the reader's listeners off `socket`, leaving it paused. */
  private stop(socket: Socket): void {
    this.reading.delete(socket);
    socket.removeListener('data', this.onData);
    socket.removeListener('end', this.onEnd);
    socket.removeListener('close', this.onEnd);
    socket.pause();
  }

  private arm(delay: number): void {
    this.timer = setTimeout(() => this.expire(), delay);
    this.timer.unref();
  }

  /**
   * Drops every socket past its deadline (the oldest first), then waits for the next one's. The
   * deadlines are on the monotonic clock: setting the wall clock neither delays nor hastens them.
   */
  private expire(): void {
    this.timer = undefined;
    const now = coarseClock.monotonic();
    try {
      for (const [socket, reading] of this.reading) {
        if (reading.deadline > now) break;
        this.fail(socket, new HandshakeError(408, 'handshake timeout', {}, '', 'SW_HANDSHAKE_TIMEOUT'));
      }
    } finally {
      // Also when a listener of what fail() reports threw: the sockets after it keep their timer.
      const next = this.reading.values().next();
      if (!next.done && this.timer === undefined) this.arm(Math.max(1, next.value.deadline - now));
    }
  }
}

const EMPTY = Buffer.alloc(0);
