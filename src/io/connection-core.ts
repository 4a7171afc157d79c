import { type Socket } from 'node:net';
import { ProtocolError, SockwaveError } from '../errors.js';
import { type PerMessageDeflate } from '../extensions/permessage-deflate/codec.js';
import { CloseCode } from '../protocol/close-codes.js';
import { ProtocolSession, ReadyState, type SessionHandler } from '../protocol/session.js';
import { describeClose } from './close-info.js';
import { coarseClock } from './coarse-clock.js';
import { type Connection } from './connection.js';
import { ConnectionInfo } from './connection-info.js';
import { type ConnectionHandler, type ConnectionInit, type ConnectionOwner, type StoredHandler } from './connection-types.js';
import { type DeferredQueue } from './deferred-queue.js';
import { inflateMessage } from './inbound-inflation.js';
import { RateLimiter } from './rate-limiter.js';
import { resolveSettings, type ConnectionSettings } from './connection-settings.js';
import { limitOfError, type LimitName } from './limits.js';
import { type MessageReader } from './message-reader.js';
import { bindSocket, lendsReads } from './socket-events.js';
import { WriteBatcher } from './write-batcher.js';
import { Flag, PAUSED, PauseReason } from './connection-flags.js';
import { allocatorWarmup, warmUpAllocator } from './malloc-warmup.js';

/**
 * The transport half of a connection, for both roles: binds the sans-I/O {@link ProtocolSession}
 * to a `net`/`tls` socket, reads and dispatches what arrives (inflating compressed messages, in
 * order), writes what the session produces through the {@link WriteBatcher}, and runs the close
 * handshake's timers. {@link ConnectionInfo}, below it, holds what the application reads about
 * the connection; {@link Connection} adds the sending API on top.
 */
export abstract class ConnectionCore<Data = unknown> extends ConnectionInfo<Data> {
  /** @internal */
  readonly session: ProtocolSession;
  protected readonly socket: Socket;
  /** Made with the first write or read: an idle connection carries none. */
  private writeBatcher: WriteBatcher | undefined;
  protected handler: StoredHandler<Data> | undefined;
  /** Timeouts, limits and policies: the server's one object for all its connections. */
  protected readonly settings: ConnectionSettings;
  private closeTimer: NodeJS.Timeout | undefined;
  protected readonly owner: ConnectionOwner | undefined;
  /** @internal The negotiated permessage-deflate codec. */
  readonly deflate: PerMessageDeflate | undefined;
  /** @internal Events waiting behind an inflation running in the thread pool (made when the first one starts). */
  inbox: DeferredQueue | undefined;
  /** {@link Flag} bits, and the {@link PauseReason} bits of why reading is paused (none while reading). */
  protected flags = 0;
  /** Its buckets, made when the first message arrives: an idle connection holds none. */
  private rate: RateLimiter | undefined;
  /** The pull style's buffer, made on first use (see {@link Connection.messages}). */
  protected reader: MessageReader | undefined;

  constructor(socket: Socket, init: ConnectionInit<Data>) {
    super(socket, init);
    this.handler = init.handler;
    this.settings = init.settings ?? resolveSettings(init);
    this.socket = socket;
    this.owner = init.owner;
    this.deflate = init.deflate;
    const { role, maxPayload, maxFragments, autoPong = true } = init;
    // The session reports to this connection. (Not `implements SessionHandler`: these methods are
    // internal, left out of the published types.)
    this.session = new ProtocolSession(init.session ?? { role, maxPayload, maxFragments, autoPong, lentChunks: lendsReads(socket) }, this satisfies SessionHandler);
    if (init.deflate !== undefined) this.session.setAllowRsv1(true);
    this.session.readyState = ReadyState.Connecting;
  }

  /** Replaces the handler object. */
  setHandler(handler: ConnectionHandler<Data> | undefined): void {
    this.handler = handler;
  }

  /**
   * @internal Opens the connection once the handshake is done: takes over the socket's events
   * (leaving it paused) and reports `open`. Reading starts with {@link Connection.startReading}.
   */
  open(): void {
    if ((this.flags & Flag.Started) !== 0) return;
    this.flags |= Flag.Started;
    const socket = this.socket;
    socket.allowHalfOpen = true;
    socket.setNoDelay(true);
    if (socket.timeout) socket.setTimeout(0); // (an attached HTTP server's; on others it adds a property)
    bindSocket(socket, this);
    if (socket.destroyed) {
      queueMicrotask(() => this.socketClosed());
      return;
    }
    this.session.readyState = ReadyState.Open;
    this.handler?.onOpen?.(this.self);
    this.emit('open');
  }

  /** @internal Processes `head` (bytes that came with the handshake), then reads the socket. */
  startReading(head?: Buffer): void {
    this.flags |= Flag.Reading;
    if (head !== undefined && head.length !== 0 && !this.socket.destroyed) this.received(head);
    if ((this.flags & PAUSED) === 0) this.socket.resume();
  }

  /** Drops the connection at once, without a close handshake: nothing more received is delivered. */
  terminate(): void {
    if (this.session.readyState === ReadyState.Closed) return;
    this.session.halt();
    this.flags |= Flag.Terminated;
    this.session.readyState = ReadyState.Closing;
    this.socket.destroy();
  }

  /**
   * @internal Drops the connection as terminate() does, after reporting why to `onError` and
   * 'error' listeners: a dead peer found by a client heartbeat, whose close (1006) alone would not
   * tell it from a dropped TCP connection.
   */
  dropWith(error: SockwaveError): void {
    if (this.session.readyState === ReadyState.Closed || (this.flags & Flag.Terminated) !== 0) return;
    try {
      this.reportError(error);
    } finally {
      // (A handler or listener that throws on the report does not keep a dead peer's connection.)
      this.terminate();
    }
  }

  /** Collects what is written for one write per read (see {@link WriteBatcher}). */
  protected get batcher(): WriteBatcher {
    return (this.writeBatcher ??= new WriteBatcher(this.socket));
  }

  /** Bytes written and not yet taken by the operating system (batched, or waiting in the socket). */
  protected get unsentBytes(): number {
    return this.writeBatcher?.unsentBytes ?? this.socket.writableLength;
  }

  /** @internal */
  write(bytes: Buffer): void {
    this.stats.wireBytesOut += bytes.length;
    this.batcher.write(bytes);
  }

  /** @internal Bytes from the socket. */
  received(chunk: Buffer): void {
    this.stats.wireBytesIn += chunk.length;
    if ((allocatorWarmup.countdown -= chunk.length) < 0) warmUpAllocator();
    // One clock read per chunk serves every message in it (the rate limit's buckets). The coarse
    // clock's scale, which the heartbeat compares with: monotonic, never the wall clock.
    this.activityAt = coarseClock.sinceEpoch(this.settings.rateLimit === undefined ? coarseClock.now : coarseClock.precise());
    // Replies written while handling this read leave together, in one write, when it is done.
    const batcher = this.batcher;
    batcher.hold();
    try {
      this.session.receive(chunk);
    } finally {
      batcher.release();
    }
  }

  /** @internal A whole single-frame text message, already validated and decoded. */
  onText(text: string, byteLength: number): void {
    // RFC 6455 §7.1.7: once the connection is failed (or terminated), nothing more is processed.
    if (this.session.stopped) return;
    if (this.inbox?.active === true) {
      this.inbox.push(() => this.onText(text, byteLength));
      return;
    }
    this.deliverMessage(text, byteLength, false);
  }

  /** @internal A whole message; a compressed one is inflated first, in order (see inbound-inflation.ts). */
  onMessage(data: Buffer, binary: boolean, compressed: boolean): void {
    if (this.session.stopped) return; // (as in onText)
    if (this.inbox?.active === true) {
      this.inbox.push(() => this.onMessage(data, binary, compressed));
      return;
    }
    if (compressed) return inflateMessage(this, data, binary);
    this.deliver(data, binary);
  }

  /** @internal A whole message's bytes, uncompressed, to the application (text decoded). */
  deliver(data: Buffer, binary: boolean): void {
    // (toString() without arguments is Node's fast path to the UTF-8 decoder.)
    this.deliverMessage(binary ? data : data.toString(), data.length, binary);
  }

  private deliverMessage(message: string | Buffer, size: number, binary: boolean): void {
    if (this.settings.rateLimit !== undefined && !this.admit(size)) return this.rateExceeded();
    this.stats.messagesIn++;
    this.stats.bytesIn += size;
    this.reader?.take(message, binary);
    // (emit() gathers its arguments into an array even when nobody listens.)
    if (this.listenerCount('message') === 0) this.handler?.onMessage?.(this.self, message, binary);
    else this.deliverToBoth(message, binary);
  }

  /**
   * A message to the handler and to the listeners: a handler that throws does not keep it from the
   * listeners (the throw still escapes, as a listener's does). Apart, to keep try/finally off the
   * path of a handler alone.
   */
  private deliverToBoth(message: string | Buffer, binary: boolean): void {
    try {
      this.handler?.onMessage?.(this.self, message, binary);
    } finally {
      this.emit('message', message, binary);
    }
  }

  /** @internal Fragments of uncompressed messages only: compressed bytes mean nothing to the caller. */
  onFragment(data: Buffer, binary: boolean, fin: boolean, compressed: boolean): void {
    if (this.session.stopped) return; // (as in onText)
    if (compressed) return;
    if (this.inbox?.active === true) return this.inbox.push(() => this.onFragment(data, binary, fin, compressed));
    // (As in deliverMessage: the listeners get it even if the handler throws.)
    try {
      this.handler?.onFragment?.(this.self, data, binary, fin);
    } finally {
      this.emit('fragment', data, binary, fin);
    }
  }

  /** @internal */
  onPing(payload: Buffer): void {
    if (this.session.stopped) return; // (as in onText)
    if (this.inbox?.active === true) return this.inbox.push(() => this.onPing(payload));
    if (this.settings.rateLimit !== undefined && !this.admit(payload.length)) return this.rateExceeded();
    try {
      this.handler?.onPing?.(this.self, payload);
    } finally {
      this.emit('ping', payload);
    }
  }

  /** @internal */
  onPong(payload: Buffer): void {
    if (this.session.stopped) return; // (as in onText)
    if (this.pingSentAt !== 0) this.rtt = coarseClock.precise() - this.pingSentAt;
    this.pingSentAt = 0;
    if (this.inbox?.active === true) return this.inbox.push(() => this.onPong(payload));
    // Counted as pings are: a peer may send pongs unasked (RFC 6455 §5.5.3), and as fast as anything.
    if (this.settings.rateLimit !== undefined && !this.admit(payload.length)) return this.rateExceeded();
    try {
      this.handler?.onPong?.(this.self, payload);
    } finally {
      this.emit('pong', payload);
    }
  }

  /** @internal */
  onPeerClose(): void {
    this.afterCloseSent();
  }

  /** @internal */
  onProtocolError(error: ProtocolError): void {
    const limit = limitOfError(error);
    if (limit !== undefined) this.limitReached(limit, error.message);
    this.reportError(error);
    // RFC 6455 §7.1.7: after the close frame, close the transport; reading goes on, to see the peer's end.
    this.resumeReading(PauseReason.Application | PauseReason.PullBuffer);
    this.endSocket();
  }

  protected afterCloseSent(): void {
    const session = this.session;
    if (session.closeHandshakeDone) {
      // RFC 6455 §7.1.1: the server closes TCP first; the client waits for it (with a timeout).
      if (this.role === 'server') this.endSocket();
      else this.armCloseTimer();
    } else {
      // Our close frame is out: the peer's must be read, even where the application paused
      // reading (pause(), a full pull reader). What arrives before it is delivered as usual.
      this.resumeReading(PauseReason.Application | PauseReason.PullBuffer);
      this.armCloseTimer();
    }
  }

  private armCloseTimer(): void {
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
    this.closeTimer = setTimeout(closeTimedOut, this.settings.closeTimeout, this);
    this.closeTimer.unref?.();
  }

  /** Flushes what is pending, sends FIN, and destroys the socket if the peer does not close in time. */
  private endSocket(): void {
    if ((this.flags & Flag.Ended) !== 0) return;
    this.socketEnded();
    this.armCloseTimer();
  }

  protected reportError(error: SockwaveError): void {
    this.handler?.onError?.(this.self, error);
    // An 'error' event with no listener would throw: report it only to those who listen.
    if (this.listenerCount('error') !== 0) this.emit('error', error);
  }

  /** @internal The peer sent FIN (or endSocket() ends first): ours follows anything pending (a close echo, say). */
  socketEnded(): void {
    if ((this.flags & Flag.Ended) !== 0) return;
    // Behind a message still being inflated or compressed: what answers it (a close echo too) goes first.
    if (this.deferred(() => this.socketEnded())) return;
    this.flags |= Flag.Ended;
    this.writeBatcher?.flush();
    this.socket.end();
  }

  /** @internal */
  socketErrored(error: Error): void {
    this.flags |= Flag.SocketError;
    this.reportError(new SockwaveError('SW_SOCKET_ERROR', error.message, { cause: error }));
  }

  /** @internal */
  socketClosed(): void {
    const session = this.session;
    if (session.readyState === ReadyState.Closed) return;
    if (this.inbox?.active === true) return this.inbox.push(() => this.socketClosed());
    this.beforeClosed();
    session.receiveEof();
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
    this.closeTimer = undefined;
    const info = describeClose(session, (this.flags & Flag.Terminated) !== 0, (this.flags & Flag.SocketError) !== 0);
    this.owner?.connectionClosed(this.self as Connection<unknown>, info);
    try {
      this.handler?.onClose?.(this.self, info);
    } finally {
      // 'close' listeners, the pull reader among them, hear of it even if the handler threw.
      this.emit('close', info);
    }
  }

  /** @internal */
  closeTimedOut(): void {
    // The peer's close may be here, waiting behind a message this side is still inflating.
    if (this.inbox?.active === true) return this.armCloseTimer();
    this.closeTimer = undefined;
    if (!this.socket.destroyed) this.limitReached('closeTimeout', `no close from the peer within ${this.settings.closeTimeout} ms`);
    this.socket.destroy();
  }

  /** Takes one message of `size` bytes from the rate limit's buckets (full when first made). */
  private admit(size: number): boolean {
    // The buckets only take differences of times: the relative clock serves.
    return (this.rate ??= new RateLimiter(this.settings.rateLimit!, this.activityAt)).admit(size, this.activityAt);
  }

  /** The peer sends faster than its rate limit: fail the connection with 1008. */
  private rateExceeded(): void {
    this.session.failConnection(new ProtocolError(CloseCode.PolicyViolation, 'rate limit exceeded', 'SW_RATE_LIMITED'));
  }

  /** @internal A limit was hit: the owning server counts it and reports it. */
  limitReached(limit: LimitName, detail: string): void {
    this.owner?.limitReached(this.self as Connection<unknown>, limit, detail);
  }

  /**
   * Stops reading from the peer (TCP flow control then slows it down) until `resume()`. Messages
   * already received are still delivered. Once this side's close frame is out, reading goes on,
   * since the peer's close frame must be read.
   */
  pause(): void {
    this.pauseReading(PauseReason.Application);
  }

  /** Reads from the peer again after `pause()`. */
  resume(): void {
    this.resumeReading(PauseReason.Application);
  }

  /** True while reading is paused, for any reason. */
  get isPaused(): boolean {
    return (this.flags & PAUSED) !== 0;
  }

  /** @internal Pauses reading for one more reason; reading resumes once every reason is gone. */
  pauseReading(reason: PauseReason): void {
    // Once our close frame is out, the peer's must be read (see afterCloseSent): these wait.
    if ((reason === PauseReason.Application || reason === PauseReason.PullBuffer) && this.session.closeSent) return;
    if ((this.flags & PAUSED) === 0) this.socket.pause();
    this.flags |= reason;
  }

  /** @internal */
  resumeReading(reason: PauseReason): void {
    if ((this.flags & reason) === 0) return;
    this.flags &= ~reason;
    if ((this.flags & PAUSED) === 0 && (this.flags & Flag.Reading) !== 0 && !this.socket.destroyed) this.socket.resume();
  }

  /** The connection as its subclass, for handler callbacks. */
  protected get self(): Connection<Data> {
    return this as unknown as Connection<Data>;
  }

  /** Called once, when the transport has closed, before `close` is reported. */
  protected abstract beforeClosed(): void;

  /** @internal The socket drained its write buffer. */
  abstract socketDrained(): void;

  /** @internal Queues `action` behind a message still being inflated or compressed; false when none is. */
  abstract deferred(action: () => void): boolean;
}

function closeTimedOut(connection: ConnectionCore<unknown>): void {
  connection.closeTimedOut();
}
