import { type Socket } from 'node:net';
import { HandshakeError } from '../errors.js';
import { findHeadEnd, parseRequestHead, type RequestHead } from '../handshake/http-head.js';
import { coarseClock } from '../io/coarse-clock.js';
import { LentSocket } from '../io/lent-socket.js';
import { type SocketEventsTarget } from '../io/socket-events.js';
import { timerDelay } from '../io/timer-delay.js';

/** What becomes of a socket whose request head was read, or could not be. */
export interface HeadSink {
  /** The head arrived; `rest` is what came after it. The socket is paused. */
  headRead(socket: Socket, head: RequestHead, rest: Buffer): void;
  /**
   * No head: malformed (400) or too large (431), the client closed first (400), or it did not
   * finish in time (408, code SW_HANDSHAKE_TIMEOUT). The socket is paused.
   */
  headFailed(socket: Socket, error: HandshakeError): void;
  /** The client closed without sending a byte (a port probe, a health check): nothing to answer. */
  headAbandoned(socket: Socket): void;
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
 *
 * A TLS socket's time runs from its TCP arrival, before its TLS handshake, which completes in no
 * particular order: once such a socket breaks the order, each pass looks at every socket still
 * reading (and passes are at least a hundredth of the timeout apart), until none is left.
 */
export class HeadReader {
  /** Sockets still reading, in arrival (and so deadline) order. */
  private readonly reading = new Map<Socket, Reading>();
  private timer: NodeJS.Timeout | undefined;
  /** When the timer fires (monotonic clock). */
  private timerAt = 0;
  /** The latest deadline given since the reader was last empty. */
  private latest = 0;
  /** Some socket's deadline is earlier than one given before it: `reading` is not in deadline order. */
  private unordered = false;
  private readonly onData: (this: Socket, chunk: Buffer) => void;
  private readonly onEnd: (this: Socket) => void;
  /**
   * What a lent socket reads to while its head is read (see kTarget): one for every socket. Only
   * its bytes come this way; the socket's end and close come through `onEnd`.
   */
  private readonly lentTarget: SocketEventsTarget;

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
      reader.ended(this);
    };
    this.lentTarget = {
      received: (chunk, socket) => reader.received(socket, chunk),
      socketEnded: ignore,
      socketClosed: ignore,
      socketErrored: ignore,
      socketDrained: ignore,
    };
  }

  /** Sockets whose head has not arrived yet. */
  get size(): number {
    return this.reading.size;
  }

  /**
   * Starts reading the request head of `socket`; the sink hears of it once. Its time runs from
   * `since` (monotonic clock; default now): a TLS socket's from its TCP arrival.
   */
  read(socket: Socket, since?: number): void {
    const now = coarseClock.monotonic();
    const deadline = (since ?? now) + this.timeout;
    this.reading.set(socket, { buffered: EMPTY, deadline });
    if (deadline < this.latest) this.unordered = true;
    else this.latest = deadline;
    // (A lent socket's reads come as they are read, and what is kept is copied: see received.)
    if (socket instanceof LentSocket) socket.target = this.lentTarget;
    else socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    if (this.timer === undefined) this.arm(deadline - now, now);
    else if (deadline < this.timerAt) {
      clearTimeout(this.timer);
      this.arm(deadline - now, now);
    }
  }

  private received(socket: Socket, data: Buffer): void {
    const reading = this.reading.get(socket);
    if (reading === undefined) return;
    const searchFrom = reading.buffered.length;
    let chunk = data;
    if (searchFrom === 0) {
      // Empty lines before the request line are ignored (RFC 9112 §2.2: a server SHOULD).
      let skip = 0;
      while (skip < chunk.length && (chunk[skip] === 0x0d || chunk[skip] === 0x0a)) skip++;
      if (skip === chunk.length) return;
      if (skip !== 0) chunk = chunk.subarray(skip);
      // A request line starts with its method, a token: anything else (a TLS ClientHello, 0x16,
      // from a wss:// client) gets its 400 at once, not after the handshake timeout.
      if (!TOKEN_BYTES[chunk[0]!]) return this.fail(socket, new HandshakeError(400, 'not an HTTP request'));
    }
    // A lent chunk (see kTarget) is the socket's read buffer: kept only as a copy.
    const lent = searchFrom === 0 && socket instanceof LentSocket;
    const buffered = searchFrom === 0 ? chunk : Buffer.concat([reading.buffered, chunk]);
    const end = findHeadEnd(buffered, searchFrom);
    if (end === -1) {
      reading.buffered = lent ? Buffer.from(buffered) : buffered;
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
    // (The head itself is parsed into strings: what came after it is all that is kept.)
    const rest = end === buffered.length ? EMPTY : lent ? Buffer.from(buffered.subarray(end)) : buffered.subarray(end);
    this.sink.headRead(socket, head, rest);
  }

  /** The client closed before its head was complete: a refusal (400) if it had begun one. */
  private ended(socket: Socket): void {
    const reading = this.reading.get(socket);
    if (reading === undefined) return;
    if (reading.buffered.length !== 0) return this.fail(socket, new HandshakeError(400, 'the client closed before completing its request'));
    this.stop(socket);
    this.sink.headAbandoned(socket);
  }

  private fail(socket: Socket, error: HandshakeError): void {
    if (!this.reading.has(socket)) return;
    this.stop(socket);
    this.sink.headFailed(socket, error);
  }

  /** Takes the reader's listeners off `socket`, leaving it paused. */
  private stop(socket: Socket): void {
    this.reading.delete(socket);
    if (this.reading.size === 0) {
      this.latest = 0;
      this.unordered = false;
    }
    if (socket instanceof LentSocket) socket.target = undefined;
    else socket.removeListener('data', this.onData);
    socket.removeListener('end', this.onEnd);
    socket.removeListener('close', this.onEnd);
    socket.pause();
  }

  private arm(delay: number, now: number): void {
    const wait = timerDelay(Math.max(1, delay));
    this.timerAt = now + wait;
    this.timer = setTimeout(() => this.expire(), wait);
    this.timer.unref();
  }

  /**
   * Drops every socket past its deadline (the oldest first), then waits for the next one's. The
   * deadlines are on the monotonic clock: setting the wall clock neither delays nor hastens them.
   */
  private expire(): void {
    this.timer = undefined;
    const now = coarseClock.monotonic();
    const unordered = this.unordered;
    try {
      for (const [socket, reading] of this.reading) {
        if (reading.deadline > now) {
          if (unordered) continue;
          break;
        }
        this.fail(socket, new HandshakeError(408, 'handshake timeout', {}, '', 'SW_HANDSHAKE_TIMEOUT'));
      }
    } finally {
      // Also when a listener of what fail() reports threw: the sockets after it keep their timer.
      if (this.reading.size !== 0 && this.timer === undefined) {
        let next = Infinity;
        if (this.unordered) for (const reading of this.reading.values()) next = Math.min(next, reading.deadline);
        else next = this.reading.values().next().value!.deadline;
        this.arm(this.unordered ? Math.max(next - now, this.timeout / 100) : next - now, now);
      }
    }
  }
}

const EMPTY = Buffer.alloc(0);

function ignore(): void {}

/** The bytes of a token (RFC 9110 §5.6.2), which a request line starts with. */
const TOKEN_BYTES = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TOKEN_BYTES[c.charCodeAt(0)] = 1;
