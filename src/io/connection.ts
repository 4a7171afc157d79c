import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { type Socket } from 'node:net';
import { isUtf8 } from 'node:buffer';
import { ProtocolError, SockwaveError } from '../errors.js';
import { type PerMessageDeflate } from '../extensions/permessage-deflate/codec.js';
import { CloseCode, encodeClosePayload } from '../protocol/close-codes.js';
import { Opcode } from '../protocol/opcodes.js';
import { ProtocolSession, ReadyState, type SessionHandler } from '../protocol/session.js';
import { type HeaderMap } from '../handshake/http-head.js';
import { DeferredQueue } from './deferred-queue.js';
import { describeClose } from './close-info.js';
import { bindSocket } from './socket-events.js';
import { toPayload, type SendData } from './payload.js';
import {
  type CloseInfo,
  type ConnectionEvents,
  type ConnectionHandler,
  type ConnectionInit,
  type ConnectionOwner,
  type ConnectionStatus,
  type SendOptions,
  type SendResult,
} from './connection-types.js';
import { WriteBatcher, type WriteCallback } from './write-batcher.js';

export type { CloseInfo, ConnectionEvents, ConnectionHandler, ConnectionInit, ConnectionOwner, ConnectionStatus, SendOptions, SendResult };

/**
 * One WebSocket connection over a `net`/`tls` socket, for both roles: it binds the sans-I/O
 * {@link ProtocolSession} to the socket, batches writes, runs the close handshake's timers, and
 * reports events both to a handler object (fast, no allocation) and as EventEmitter events.
 */


const idPrefix = randomBytes(4).toString('hex');
let idCounter = 0;

const STATUS: readonly ConnectionStatus[] = ['connecting', 'open', 'closing', 'closed'];

export class Connection<Data = unknown> extends EventEmitter<ConnectionEvents> implements SessionHandler {
  /** Unique across processes (a random per-process prefix and a counter). */
  readonly id: string;
  readonly role: 'server' | 'client';
  readonly url: string;
  readonly headers: Readonly<HeaderMap>;
  /** The negotiated subprotocol ('' when none). */
  readonly protocol: string;
  /** The negotiated extensions header ('' when none). */
  readonly extensions: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Whatever the application attached (for servers: what admission computed). */
  data: Data;

  /** @internal */
  readonly session: ProtocolSession;
  private readonly socket: Socket;
  private readonly batcher: WriteBatcher;
  private handler: ConnectionHandler<Data> | undefined;
  private readonly closeTimeout: number;
  private readonly highWaterMark: number;
  private closeTimer: NodeJS.Timeout | undefined;
  private started = false;
  private ended = false;
  private socketError = false;
  private terminated = false;
  private needDrain = false;
  private readonly owner: ConnectionOwner | undefined;
  /** @internal The negotiated permessage-deflate codec. */
  readonly deflate: PerMessageDeflate | undefined;
  /** Sends waiting behind a compression running in the thread pool. */
  private readonly outbox = new DeferredQueue();
  /** Events waiting behind an inflation running in the thread pool. */
  private readonly inbox = new DeferredQueue();
  /** close() was called while sends were still waiting in the outbox. */
  private closeRequested = false;

  constructor(socket: Socket, init: ConnectionInit<Data>) {
    super();
    this.id = `${idPrefix}.${(idCounter++).toString(36)}`;
    this.role = init.role;
    this.url = init.url;
    this.headers = init.headers;
    this.protocol = init.protocol ?? '';
    this.extensions = init.extensions ?? '';
    this.remoteAddress = socket.remoteAddress ?? '';
    this.remotePort = socket.remotePort ?? 0;
    this.data = init.data as Data;
    this.handler = init.handler;
    this.closeTimeout = init.closeTimeout ?? 5000;
    this.highWaterMark = init.highWaterMark ?? 1024 * 1024;
    this.socket = socket;
    this.owner = init.owner;
    this.batcher = new WriteBatcher(socket);
    this.deflate = init.deflate;
    this.session = new ProtocolSession(
      { role: init.role, maxPayload: init.maxPayload, autoPong: init.autoPong ?? true, allowRsv1: init.deflate !== undefined },
      this,
    );
    this.session.readyState = ReadyState.Connecting;
  }

  /** 0 CONNECTING, 1 OPEN, 2 CLOSING, 3 CLOSED (the WHATWG numbering). */
  get readyState(): ReadyState {
    return this.session.readyState;
  }

  get status(): ConnectionStatus {
    return STATUS[this.session.readyState]!;
  }

  /** Bytes accepted by send() and not yet handed to the operating system. */
  get bufferedAmount(): number {
    return this.outbox.bytes + this.batcher.pendingBytes + this.socket.writableLength;
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
    if (this.started) return;
    this.started = true;
    const socket = this.socket;
    socket.allowHalfOpen = true;
    socket.setNoDelay(true);
    socket.setTimeout(0);
    bindSocket(socket, this);
    if (socket.destroyed) {
      queueMicrotask(() => this.socketClosed());
      return;
    }
    this.session.readyState = ReadyState.Open;
    this.handler?.onOpen?.(this);
    this.emit('open');
  }

  /** @internal Processes `head` (bytes that came with the handshake), then reads the socket. */
  startReading(head?: Buffer): void {
    if (head !== undefined && head.length !== 0 && !this.socket.destroyed) this.session.receive(head);
    this.socket.resume();
  }

  /**
   * Sends a message: a string as text, bytes (Buffer, ArrayBuffer, typed array, DataView) as
   * binary, anything else as JSON text. `callback` runs once the bytes were handed to the OS.
   */
  send(data: SendData, options?: SendOptions | WriteCallback, callback?: WriteCallback): SendResult {
    if (typeof options === 'function') {
      callback = options;
      options = undefined;
    }
    const payload = toPayload(data, options?.binary ?? false);
    const fragmentSize = options?.fragmentSize;
    if (fragmentSize !== undefined && !(Number.isInteger(fragmentSize) && fragmentSize > 0)) {
      throw new RangeError('fragmentSize must be a positive integer');
    }
    if (!this.isSendable()) {
      if (callback) queueMicrotask(() => callback(new SockwaveError('SW_INVALID_STATE', 'the connection is not open')));
      return 'dropped';
    }
    const opcode = payload.binary ? Opcode.Binary : Opcode.Text;
    const bytes = payload.bytes;
    if (this.outbox.active) {
      this.outbox.push(() => this.sendNow(opcode, bytes, fragmentSize, callback), bytes.length);
    } else {
      this.sendNow(opcode, bytes, fragmentSize, callback);
    }
    return this.afterWrite();
  }

  /** @internal Writes a frame already serialized (fan-out: framed once, written to many). */
  sendEncoded(frame: Buffer): SendResult {
    if (!this.isSendable()) return 'dropped';
    if (this.outbox.active) this.outbox.push(() => void this.session.sendEncoded(frame), frame.length);
    else this.session.sendEncoded(frame);
    return this.afterWrite();
  }

  private isSendable(): boolean {
    return this.session.readyState === ReadyState.Open && !this.session.closeSent && !this.closeRequested;
  }

  /** Compresses when negotiated and worth it (in the thread pool for large messages), then frames. */
  private sendNow(opcode: typeof Opcode.Text | typeof Opcode.Binary, bytes: Buffer, fragmentSize: number | undefined, callback: WriteCallback | undefined): void {
    const codec = this.deflate;
    if (codec === undefined || !codec.shouldCompress(bytes.length)) {
      this.writeMessage(opcode, bytes, false, fragmentSize, callback);
    } else if (codec.isSync(bytes.length)) {
      this.writeMessage(opcode, codec.compressSync(bytes), true, fragmentSize, callback);
    } else {
      this.outbox.begin();
      codec.compress(bytes, (error, compressed) => {
        // Beyond the RFC: a compression failure sends the message uncompressed, which is always allowed.
        if (error || compressed === undefined) this.writeMessage(opcode, bytes, false, fragmentSize, callback);
        else this.writeMessage(opcode, compressed, true, fragmentSize, callback);
        this.outbox.drain();
      });
    }
  }

  private writeMessage(
    opcode: typeof Opcode.Text | typeof Opcode.Binary,
    bytes: Buffer,
    compressed: boolean,
    fragmentSize: number | undefined,
    callback: WriteCallback | undefined,
  ): void {
    const session = this.session;
    if (fragmentSize !== undefined && bytes.length > fragmentSize) {
      // RFC 7692 §6.1: RSV1 on the first frame only.
      for (let start = 0; start < bytes.length; start += fragmentSize) {
        const end = Math.min(start + fragmentSize, bytes.length);
        session.sendFrame(start === 0 ? opcode : Opcode.Continuation, bytes.subarray(start, end), end === bytes.length, compressed && start === 0);
      }
    } else {
      session.sendFrame(opcode, bytes, true, compressed);
    }
    if (callback) this.batcher.write(EMPTY, callback);
  }

  /** Sends a ping (payload ≤ 125 bytes). */
  ping(payload: SendData = EMPTY): SendResult {
    return this.control(Opcode.Ping, payload);
  }

  /** Sends an unsolicited pong (payload ≤ 125 bytes). */
  pong(payload: SendData = EMPTY): SendResult {
    return this.control(Opcode.Pong, payload);
  }

  /**
   * Starts the close handshake (RFC 6455 §7.1.2). `code` undefined sends a close frame without a
   * status. Throws RangeError for a code that may not be sent or a reason over 123 bytes.
   */
  close(code?: number, reason = ''): void {
    encodeClosePayload(code, reason); // validates now, even if the frame has to wait
    const session = this.session;
    if (session.readyState === ReadyState.Closed || session.closeSent || this.closeRequested) return;
    if (this.outbox.active) {
      // Messages accepted before close() go out first.
      this.closeRequested = true;
      this.outbox.push(() => this.close(code, reason));
      return;
    }
    this.closeRequested = false;
    if (!session.close(code, reason)) return;
    this.afterCloseSent();
  }

  /** Drops the connection at once, without a close handshake. */
  terminate(): void {
    if (this.session.readyState === ReadyState.Closed) return;
    this.terminated = true;
    this.session.readyState = ReadyState.Closing;
    this.socket.destroy();
  }

  private control(opcode: typeof Opcode.Ping | typeof Opcode.Pong, data: SendData): SendResult {
    const payload = toPayload(data, true).bytes;
    if (payload.length > 125) throw new RangeError('a control frame payload is at most 125 bytes');
    if (!this.isSendable()) return 'dropped';
    if (this.outbox.active) this.outbox.push(() => void this.session.sendFrame(opcode, payload, true, false));
    else this.session.sendFrame(opcode, payload, true, false);
    return this.afterWrite();
  }

  private afterWrite(): SendResult {
    if (this.bufferedAmount <= this.highWaterMark) return 'sent';
    if (!this.needDrain) {
      this.needDrain = true;
      // A marker after everything sent so far: once it is written, see whether we are under the mark.
      this.batcher.write(EMPTY, this.drainCheck);
    }
    return 'backpressure';
  }

  /** Called when the bytes sent before the drain marker reached the OS. */
  private readonly drainCheck = (): void => {
    if (!this.needDrain || this.session.readyState === ReadyState.Closed) return;
    if (this.bufferedAmount > this.highWaterMark) {
      // Still above the mark: the socket's own 'drain' or the next marker will tell.
      if (this.socket.writableLength === 0 || !this.socket.writableNeedDrain) this.batcher.write(EMPTY, this.drainCheck);
      return;
    }
    this.needDrain = false;
    this.handler?.onDrain?.(this);
    this.emit('drain');
  };

  // SessionHandler: what the protocol core reports.

  /** @internal */
  write(bytes: Buffer): void {
    this.batcher.write(bytes);
  }

  /** @internal */
  onMessage(data: Buffer, binary: boolean, compressed: boolean): void {
    if (this.inbox.active) {
      this.inbox.push(() => this.onMessage(data, binary, compressed));
      return;
    }
    if (compressed) {
      const codec = this.deflate!;
      if (!codec.isSync(data.length)) {
        this.inflateAsync(codec, data, binary);
        return;
      }
      try {
        data = codec.decompressSync(data);
      } catch (error) {
        this.session.failConnection(error as ProtocolError);
        return;
      }
      // RFC 6455 §8.1 for compressed text: checked once inflated.
      if (!binary && !isUtf8(data)) return this.session.failConnection(invalidText());
    }
    this.deliver(data, binary);
  }

  private inflateAsync(codec: PerMessageDeflate, data: Buffer, binary: boolean): void {
    this.inbox.begin();
    this.socket.pause();
    codec.decompress(data, (error, inflated) => {
      if (error || inflated === undefined) this.session.failConnection(error as ProtocolError);
      else if (!binary && !isUtf8(inflated)) this.session.failConnection(invalidText());
      else this.deliver(inflated, binary);
      this.inbox.drain();
      if (!this.inbox.active && !this.socket.destroyed) this.socket.resume();
    });
  }

  private deliver(data: Buffer, binary: boolean): void {
    const message = binary ? data : data.toString('utf8');
    this.handler?.onMessage?.(this, message, binary);
    this.emit('message', message, binary);
  }

  /** @internal Fragments of uncompressed messages only: compressed bytes mean nothing to the caller. */
  onFragment(data: Buffer, binary: boolean, fin: boolean, compressed: boolean): void {
    if (compressed) return;
    if (this.inbox.active) return this.inbox.push(() => this.onFragment(data, binary, fin, compressed));
    this.handler?.onFragment?.(this, data, binary, fin);
    this.emit('fragment', data, binary, fin);
  }

  /** @internal */
  onPing(payload: Buffer): void {
    if (this.inbox.active) return this.inbox.push(() => this.onPing(payload));
    this.handler?.onPing?.(this, payload);
    this.emit('ping', payload);
  }

  /** @internal */
  onPong(payload: Buffer): void {
    if (this.inbox.active) return this.inbox.push(() => this.onPong(payload));
    this.handler?.onPong?.(this, payload);
    this.emit('pong', payload);
  }

  /** @internal */
  onPeerClose(): void {
    this.afterCloseSent();
  }

  /** @internal */
  onProtocolError(error: ProtocolError): void {
    this.reportError(error);
    // RFC 6455 §7.1.7: after the close frame, close the transport.
    this.endSocket();
  }

  private afterCloseSent(): void {
    const session = this.session;
    if (session.closeHandshakeDone) {
      // RFC 6455 §7.1.1: the server closes TCP first; the client waits for it (with a timeout).
      if (this.role === 'server') this.endSocket();
      else this.armCloseTimer();
    } else {
      this.armCloseTimer();
    }
  }

  private armCloseTimer(): void {
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
    this.closeTimer = setTimeout(closeTimedOut, this.closeTimeout, this);
    this.closeTimer.unref?.();
  }

  /** Flushes what is pending, sends FIN, and destroys the socket if the peer does not close in time. */
  private endSocket(): void {
    if (this.ended) return;
    this.ended = true;
    this.batcher.flush();
    this.socket.end();
    this.armCloseTimer();
  }

  private reportError(error: SockwaveError): void {
    this.handler?.onError?.(this, error);
    // An 'error' event with no listener would throw: report it only to those who listen.
    if (this.listenerCount('error') !== 0) this.emit('error', error);
  }

  /** @internal */
  socketEnded(): void {
    // The peer sent FIN. Reply with ours after anything still pending (a close echo, say).
    if (!this.ended) {
      this.ended = true;
      this.batcher.flush();
      this.socket.end();
    }
  }

  /** @internal */
  socketErrored(error: Error): void {
    this.socketError = true;
    this.reportError(new SockwaveError('SW_SOCKET_ERROR', error.message, { cause: error }));
  }

  /** @internal */
  socketDrained(): void {
    this.drainCheck();
  }

  /** @internal */
  socketClosed(): void {
    const session = this.session;
    if (session.readyState === ReadyState.Closed) return;
    if (this.inbox.active) return this.inbox.push(() => this.socketClosed());
    session.receiveEof();
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
    this.closeTimer = undefined;
    const info = describeClose(session, this.terminated, this.socketError);
    this.owner?.connectionClosed(this as Connection<unknown>);
    this.handler?.onClose?.(this, info);
    this.emit('close', info);
  }

  /** @internal */
  closeTimedOut(): void {
    this.closeTimer = undefined;
    this.socket.destroy();
  }
}

const EMPTY = Buffer.alloc(0);

function invalidText(): ProtocolError {
  return new ProtocolError(CloseCode.InvalidPayload, 'invalid UTF-8 in a compressed text message', 'SW_INVALID_UTF8');
}

function closeTimedOut(connection: Connection<unknown>): void {
  connection.closeTimedOut();
}
