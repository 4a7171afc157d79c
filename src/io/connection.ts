import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { type Socket } from 'node:net';
import { type ProtocolError, SockwaveError } from '../errors.js';
import { type HeaderMap } from '../handshake/http-head.js';
import { CloseCode } from '../protocol/close-codes.js';
import { Opcode } from '../protocol/opcodes.js';
import { ProtocolSession, ReadyState, type SessionHandler } from '../protocol/session.js';
import { toPayload, type SendData } from './payload.js';
import { WriteBatcher, type WriteCallback } from './write-batcher.js';

/**
 * One WebSocket connection over a `net`/`tls` socket, for both roles: it binds the sans-I/O
 * {@link ProtocolSession} to the socket, batches writes, runs the close handshake's timers, and
 * reports events both to a handler object (fast, no allocation) and as EventEmitter events.
 */

export type ConnectionStatus = 'connecting' | 'open' | 'closing' | 'closed';

/** How a connection ended. */
export interface CloseInfo {
  /** The peer's close code (1005 if its close frame had none), the code we failed with, or 1006. */
  code: number;
  reason: string;
  /** Both close frames were exchanged and the transport closed without error. */
  wasClean: boolean;
  /** The peer started the close (its close frame, or its TCP close, came first). */
  remote: boolean;
}

export interface ConnectionEvents {
  open: [];
  message: [data: string | Buffer, isBinary: boolean];
  fragment: [data: Buffer, isBinary: boolean, fin: boolean];
  ping: [payload: Buffer];
  pong: [payload: Buffer];
  close: [info: CloseInfo];
  error: [error: SockwaveError];
  drain: [];
}

/** Callbacks for one connection (the handler-object style); all optional. */
export interface ConnectionHandler<Data = unknown> {
  onOpen?(connection: Connection<Data>): void;
  /** Text arrives as a string, binary as a Buffer. */
  onMessage?(connection: Connection<Data>, data: string | Buffer, isBinary: boolean): void;
  /** Each frame of a fragmented message as it arrives (the whole message still comes to onMessage). */
  onFragment?(connection: Connection<Data>, data: Buffer, isBinary: boolean, fin: boolean): void;
  onPing?(connection: Connection<Data>, payload: Buffer): void;
  onPong?(connection: Connection<Data>, payload: Buffer): void;
  onClose?(connection: Connection<Data>, info: CloseInfo): void;
  onError?(connection: Connection<Data>, error: SockwaveError): void;
  /** The send buffer fell back under the high-water mark. */
  onDrain?(connection: Connection<Data>): void;
}

/** What `send()` did with a message. */
export type SendResult =
  /** Accepted; the send buffer is under the high-water mark. */
  | 'sent'
  /** Accepted, but the send buffer is past the high-water mark: wait for `drain`. */
  | 'backpressure'
  /** Not accepted: the connection is closing or closed. Nothing was sent. */
  | 'dropped';

export interface SendOptions {
  /** Send a string as a binary message (its UTF-8 bytes). */
  binary?: boolean;
  /** Split the message into frames of at most this many payload bytes. */
  fragmentSize?: number;
}

export interface ConnectionInit<Data> {
  role: 'server' | 'client';
  /** Largest message accepted, in bytes. */
  maxPayload: number;
  /** Answer pings automatically. Default true. */
  autoPong?: boolean | undefined;
  /** Milliseconds to wait for the peer's close frame, and then for the TCP close. Default 5000. */
  closeTimeout?: number | undefined;
  /** bufferedAmount (bytes) past which send() answers 'backpressure'. Default 1 MiB. */
  highWaterMark?: number | undefined;
  url: string;
  /** Server: the request's headers. Client: the response's headers. */
  headers: HeaderMap;
  protocol?: string | undefined;
  extensions?: string | undefined;
  handler?: ConnectionHandler<Data> | undefined;
  data?: Data;
  /** Told when the connection closes (the server's registry). */
  owner?: ConnectionOwner | undefined;
}

/** @internal Whoever keeps track of connections (a server). */
export interface ConnectionOwner {
  connectionClosed(connection: Connection<unknown>): void;
}

const kConnection = Symbol('sockwave.connection');
type OwnedSocket = Socket & { [kConnection]?: Connection<unknown> };

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
  private readonly socket: OwnedSocket;
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
    this.socket = socket as OwnedSocket;
    this.owner = init.owner;
    this.batcher = new WriteBatcher(socket);
    this.session = new ProtocolSession({ role: init.role, maxPayload: init.maxPayload, autoPong: init.autoPong ?? true }, this);
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
    return this.batcher.pendingBytes + this.socket.writableLength;
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
    socket[kConnection] = this as Connection<unknown>;
    socket.allowHalfOpen = true;
    socket.setNoDelay(true);
    socket.setTimeout(0);
    socket.on('data', onSocketData);
    socket.on('end', onSocketEnd);
    socket.on('close', onSocketClose);
    socket.on('error', onSocketError);
    socket.on('drain', onSocketDrain);
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
    const session = this.session;
    if (session.closeSent || session.readyState !== ReadyState.Open) {
      if (callback) queueMicrotask(() => callback(new SockwaveError('SW_INVALID_STATE', 'the connection is not open')));
      return 'dropped';
    }
    const opcode = payload.binary ? Opcode.Binary : Opcode.Text;
    const bytes = payload.bytes;
    const fragmentSize = options?.fragmentSize;
    if (fragmentSize !== undefined && !(Number.isInteger(fragmentSize) && fragmentSize > 0)) {
      throw new RangeError('fragmentSize must be a positive integer');
    }
    if (fragmentSize !== undefined && bytes.length > fragmentSize) {
      for (let start = 0; start < bytes.length; start += fragmentSize) {
        const end = Math.min(start + fragmentSize, bytes.length);
        session.sendFrame(start === 0 ? opcode : Opcode.Continuation, bytes.subarray(start, end), end === bytes.length, false);
      }
    } else {
      session.sendFrame(opcode, bytes, true, false);
    }
    if (callback) this.batcher.write(EMPTY, callback);
    return this.afterWrite();
  }

  /** @internal Writes a frame already serialized (fan-out: framed once, written to many). */
  sendEncoded(frame: Buffer): SendResult {
    if (this.session.readyState !== ReadyState.Open || !this.session.sendEncoded(frame)) return 'dropped';
    return this.afterWrite();
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
    const session = this.session;
    if (session.readyState === ReadyState.Closed) return;
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
    if (this.session.readyState !== ReadyState.Open || !this.session.sendFrame(opcode, payload, true, false)) return 'dropped';
    return this.afterWrite();
  }

  private afterWrite(): SendResult {
    if (this.bufferedAmount <= this.highWaterMark) return 'sent';
    this.needDrain = true;
    return 'backpressure';
  }

  // SessionHandler: what the protocol core reports.

  /** @internal */
  write(bytes: Buffer): void {
    this.batcher.write(bytes);
  }

  /** @internal */
  onMessage(data: Buffer, binary: boolean): void {
    const message = binary ? data : data.toString('utf8');
    this.handler?.onMessage?.(this, message, binary);
    this.emit('message', message, binary);
  }

  /** @internal */
  onFragment(data: Buffer, binary: boolean, fin: boolean): void {
    this.handler?.onFragment?.(this, data, binary, fin);
    this.emit('fragment', data, binary, fin);
  }

  /** @internal */
  onPing(payload: Buffer): void {
    this.handler?.onPing?.(this, payload);
    this.emit('ping', payload);
  }

  /** @internal */
  onPong(payload: Buffer): void {
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
    if (!this.needDrain || this.bufferedAmount > this.highWaterMark) return;
    this.needDrain = false;
    this.handler?.onDrain?.(this);
    this.emit('drain');
  }

  /** @internal */
  socketClosed(): void {
    const session = this.session;
    if (session.readyState === ReadyState.Closed) return;
    session.receiveEof();
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
    this.closeTimer = undefined;
    let code: number = CloseCode.Abnormal;
    let reason = '';
    if (session.closeReceived) {
      code = session.receivedCloseCode;
      reason = session.receivedCloseReason;
    } else if (session.failure !== undefined) {
      code = session.failure.closeCode;
      reason = session.failure.message;
    }
    const info: CloseInfo = {
      code,
      reason,
      wasClean: session.closeHandshakeDone && !this.socketError && !this.terminated,
      remote: session.closeReceived ? session.closedByPeer : !this.terminated && !session.closeSent,
    };
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

// Shared listeners (no per-connection closures): the socket carries its connection.
function onSocketData(this: OwnedSocket, chunk: Buffer): void {
  this[kConnection]!.session.receive(chunk);
}
function onSocketEnd(this: OwnedSocket): void {
  this[kConnection]!.socketEnded();
}
function onSocketClose(this: OwnedSocket): void {
  this[kConnection]!.socketClosed();
}
function onSocketError(this: OwnedSocket, error: Error): void {
  this[kConnection]!.socketErrored(error);
}
function onSocketDrain(this: OwnedSocket): void {
  this[kConnection]!.socketDrained();
}
function closeTimedOut(connection: Connection<unknown>): void {
  connection.closeTimedOut();
}
