import { ProtocolError } from '../errors.js';
import { checkProtocolOptions } from './option-checks.js';
import { CloseCode, encodeClosePayload, MAX_CLOSE_REASON_BYTES } from './close-codes.js';
import { FrameParser, type FrameParserHandler } from './frame-parser.js';
import { encodeFrame, frameHeader } from './frame-serializer.js';
import { defaultMaskKeys, type MaskKeySource } from './mask.js';
import { MAX_CONTROL_PAYLOAD, Opcode } from './opcodes.js';

/**
 * The sans-I/O WebSocket connection after the opening handshake: the frame parser, the serializer
 * and the close handshake (RFC 6455 §7) as a state machine. It knows bytes and state, never sockets
 * or timers: received bytes go in through {@link ProtocolSession.receive}, bytes to send come out
 * through {@link SessionHandler.write}, and the I/O layer decides when to close the transport by
 * reading {@link ProtocolSession.closeHandshakeDone} and {@link ProtocolSession.failed}.
 *
 * State table (`readyState`):
 * | from    | event                         | to      | writes                              |
 * |---------|-------------------------------|---------|-------------------------------------|
 * | OPEN    | close(code) by us             | CLOSING | close frame                         |
 * | OPEN    | close frame received          | CLOSING | echo of the code (§5.5.1)           |
 * | OPEN    | protocol violation            | CLOSING | close frame with the violation code |
 * | CLOSING | close frame received          | CLOSING | —  (handshake done)                 |
 * | any     | transport closed              | CLOSED  | —                                   |
 * After a close frame is written nothing else is (§5.5.1); after one is received nothing is read.
 */

/** Server payloads up to this size are copied into their frame; larger ones are sent by reference. */
const COPY_LIMIT = 16 * 1024;

export const ReadyState = { Connecting: 0, Open: 1, Closing: 2, Closed: 3 } as const;
export type ReadyState = (typeof ReadyState)[keyof typeof ReadyState];

export interface SessionHandler {
  onMessage: (data: Buffer, binary: boolean, compressed: boolean) => void;
  /** Whole single-frame text messages, decoded (see FrameParserHandler.onText); without it, onMessage. */
  onText?: ((text: string, byteLength: number) => void) | undefined;
  onFragment?: ((data: Buffer, binary: boolean, fin: boolean, compressed: boolean) => void) | undefined;
  onPing: (payload: Buffer) => void;
  /**
   * Asked before an automatic pong of `size` payload bytes: false leaves this ping unanswered (its
   * peer does not read what it is sent; RFC 6455 §5.5.3 lets a later pong answer earlier pings).
   */
  autoPongAllowed?: ((size: number) => boolean) | undefined;
  onPong: (payload: Buffer) => void;
  /** The peer's close frame; the echo, when one was due, has already been written. */
  onPeerClose: (code: number, reason: string) => void;
  /**
   * The peer broke the protocol; a close frame has been written, with `error.closeCode` unless
   * this side had sent its own before.
   */
  onProtocolError: (error: ProtocolError) => void;
  /**
   * Asked when the peer's close frame or a violation is read: true when earlier work is still
   * waiting in the handler (a message being inflated, or one being compressed, in a thread pool)
   * and it takes `action`, to run after it; asked again then, until it answers false. The close
   * frame's echo, or the violation's close frame, then follows what the application sends in
   * answer to earlier messages. Without it, or on false, it happens at once.
   */
  deferred?: ((action: () => void) => boolean) | undefined;
  /** Bytes to put on the wire, in order. */
  write(bytes: Buffer): void;
}

export interface SessionOptions {
  role: 'server' | 'client';
  /** Largest message accepted, in bytes. */
  maxPayload: number;
  /** Most frames one data message may span. Default: no limit. */
  maxFragments?: number | undefined;
  /** Answer pings with pongs automatically (RFC 6455 §5.5.2). Default true. */
  autoPong?: boolean | undefined;
  /** Key source for client masking; defaults to the CSPRNG-backed pool. */
  maskKeys?: MaskKeySource | undefined;
  /** An extension claims RSV1 on data messages (permessage-deflate). */
  allowRsv1?: boolean | undefined;
  /** The transport writes over a chunk once {@link ProtocolSession.receive} returns: see FrameParserOptions. */
  lentChunks?: boolean | undefined;
}

export class ProtocolSession {
  readyState: ReadyState = ReadyState.Open;
  /**
   * Only read. A frozen object is kept as it is, so that sessions made with the same one (a
   * server's connections) share it; any other is copied. `autoPong` and `allowRsv1` live in
   * {@link bits}, since they can change.
   */
  private readonly options: Readonly<SessionOptions>;
  /** Made when the first bytes arrive: an idle connection carries none. */
  private parser: FrameParser | undefined;
  private readonly handler: SessionHandler;
  /** {@link Bit}s: the close handshake's progress and two settings, in one field (an idle session stays small). */
  private bits: number;
  /** The close frames' codes and reason, and the violation that failed the connection: made when one of them comes. */
  private closing: CloseRecord | undefined;

  /** `options` is read now and later; a caller that changes its object afterwards changes no session, unless the object was frozen (and then it cannot change). */
  constructor(options: SessionOptions, handler: SessionHandler) {
    checkProtocolOptions('ProtocolSession', options);
    this.options = Object.isFrozen(options) ? options : { ...options };
    this.handler = handler;
    this.bits = (options.autoPong ?? true ? Bit.AutoPong : 0) | (options.allowRsv1 === true ? Bit.AllowRsv1 : 0);
  }

  /** Which end of the connection this session is. */
  get role(): 'server' | 'client' {
    return this.options.role;
  }

  /** Set when the connection was failed because of a protocol violation. */
  get failure(): ProtocolError | undefined {
    return this.closing?.failure;
  }

  /** We sent a close frame. */
  get closeSent(): boolean {
    return (this.bits & Bit.CloseSent) !== 0;
  }

  /** The code of the close frame we sent (undefined: an empty close payload, or none sent). */
  get sentCloseCode(): number | undefined {
    return this.closing?.sentCode;
  }

  /** The peer's close frame arrived. */
  get closeReceived(): boolean {
    return (this.bits & Bit.CloseReceived) !== 0;
  }

  /** The peer's close code: 1005 when its close frame carried none, 1006 until one arrives. */
  get receivedCloseCode(): number {
    return this.closing?.receivedCode ?? CloseCode.Abnormal;
  }

  /** The reason in the peer's close frame ('' when none arrived or it had none). */
  get receivedCloseReason(): string {
    return this.closing?.receivedReason ?? '';
  }

  /** True when the peer's close frame arrived before we sent ours. */
  get closedByPeer(): boolean {
    return (this.bits & Bit.ClosedByPeer) !== 0;
  }

  /** Answer pings with pongs automatically. */
  get autoPong(): boolean {
    return (this.bits & Bit.AutoPong) !== 0;
  }

  set autoPong(on: boolean) {
    this.bits = on ? this.bits | Bit.AutoPong : this.bits & ~Bit.AutoPong;
  }

  private startParser(): FrameParser {
    const handler = this.handler;
    return (this.parser = new FrameParser(
      {
        role: this.options.role,
        maxPayload: this.options.maxPayload,
        ...(this.options.maxFragments === undefined ? {} : { maxFragments: this.options.maxFragments }),
        allowRsv1: (this.bits & Bit.AllowRsv1) !== 0,
        fragments: typeof handler.onFragment === 'function',
        text: typeof handler.onText === 'function',
        lentChunks: this.options.lentChunks === true,
      },
      // (Not `implements`: these methods are internal, left out of the published types.)
      this satisfies FrameParserHandler,
    ));
  }

  // FrameParserHandler: the parser reports to the session, which keeps the close handshake's state.
  /** @internal */
  onMessage(data: Buffer, binary: boolean, compressed: boolean): void {
    try {
      this.handler.onMessage(data, binary, compressed);
    } catch (error) {
      caught(error);
    }
  }
  /** @internal */
  onText(text: string, byteLength: number): void {
    try {
      this.handler.onText!(text, byteLength);
    } catch (error) {
      caught(error);
    }
  }
  /** @internal */
  onFragment(data: Buffer, binary: boolean, fin: boolean, compressed: boolean): void {
    try {
      this.handler.onFragment?.(data, binary, fin, compressed);
    } catch (error) {
      caught(error);
    }
  }
  /** @internal */
  onPing(payload: Buffer): void {
    if (this.autoPong && !this.closeSent && this.handler.autoPongAllowed?.(payload.length) !== false) this.writeFrame(Opcode.Pong, payload, true, false);
    try {
      this.handler.onPing(payload);
    } catch (error) {
      caught(error);
    }
  }
  /** @internal */
  onPong(payload: Buffer): void {
    try {
      this.handler.onPong(payload);
    } catch (error) {
      caught(error);
    }
  }
  /** @internal */
  onClose(code: number, reason: string): void {
    this.whenHandlerReady(() => this.peerClose(code, reason));
  }
  /** @internal */
  onError(error: ProtocolError): void {
    this.whenHandlerReady(() => this.fail(error));
  }

  /**
   * Runs `action` once the handler holds nothing earlier (SessionHandler.deferred), asked again
   * each time it comes round; it does nothing once the session was halted meanwhile.
   */
  private whenHandlerReady(action: () => void): void {
    const run = (): void => {
      if (this.stopped || this.handler.deferred?.(run) === true) return;
      action();
    };
    run();
  }

  /** The masking key source (client role), or null (server role: frames are not masked). */
  get masking(): MaskKeySource | null {
    return this.options.role === 'client' ? (this.options.maskKeys ?? defaultMaskKeys) : null;
  }

  /** True once both close frames were exchanged: the transport may be closed. */
  get closeHandshakeDone(): boolean {
    return this.closeSent && this.closeReceived;
  }

  /** True when the connection was failed (protocol violation): the transport should be closed now. */
  get failed(): boolean {
    return this.closing?.failure !== undefined;
  }

  /** True once nothing more received is processed: the connection failed, or was {@link halt}ed. */
  get stopped(): boolean {
    return (this.bits & Bit.Stopped) !== 0;
  }

  /**
   * Processes nothing more of what is received, the rest of a chunk being parsed included: the
   * transport is being dropped without a close handshake.
   */
  halt(): void {
    this.bits |= Bit.Stopped;
    this.parser?.stop();
  }

  /** Lets a negotiated extension claim RSV1. */
  setAllowRsv1(allow: boolean): void {
    this.bits = allow ? this.bits | Bit.AllowRsv1 : this.bits & ~Bit.AllowRsv1;
    this.parser?.setAllowRsv1(allow);
  }

  /**
   * Feeds bytes received from the transport. What the handler throws for a message, ping or pong
   * does not cut the chunk short (its later frames, a frame's first bytes at its end, would be
   * lost and the parser left out of step): the whole chunk is parsed and delivered, then the
   * error is thrown (several in one chunk: an AggregateError).
   */
  receive(chunk: Buffer): void {
    // A failed or halted connection reads nothing more (its parser, if it has one, is stopped too).
    if (this.stopped) return;
    const parser = this.parser ?? this.startParser();
    if (parser.stopped) return;
    const outer = thrown;
    thrown = undefined;
    try {
      parser.push(chunk);
    } catch (error) {
      // (From onPeerClose or onProtocolError, which end the chunk: thrown with the others.)
      caught(error);
    }
    const errors = thrown as unknown[] | undefined;
    thrown = outer;
    if (errors !== undefined) throw errors.length === 1 ? errors[0] : new AggregateError(errors, `${errors.length} handlers threw while one read was processed`);
  }

  /** The transport closed. */
  receiveEof(): void {
    this.readyState = ReadyState.Closed;
  }

  /**
   * Writes one frame. Returns false (writing nothing) once a close frame was sent.
   * Client frames are masked into a copy; server payloads over 16 KiB are written without a copy.
   *
   * Throws RangeError, writing nothing, for a frame RFC 6455 forbids: an undefined opcode; a close
   * frame (use {@link ProtocolSession.close}, which keeps the close handshake's state); a ping or
   * pong that is fragmented, carries RSV1 or over 125 bytes (§5.5); a new data message while a
   * fragmented one is unfinished, or a continuation with none started (§5.4); RSV1 on a
   * continuation, or on any frame when no extension claims it (§5.2, RFC 7692 §6).
   */
  sendFrame(opcode: Opcode, payload: Buffer, fin: boolean, rsv1: boolean): boolean {
    if (!(payload instanceof Uint8Array)) throw new TypeError('a frame payload is bytes (a Buffer): encode text first');
    if (this.closeSent) return false;
    this.checkOutgoing(opcode, payload.length, fin, rsv1);
    this.writeFrame(opcode, payload, fin, rsv1);
    return true;
  }

  private checkOutgoing(opcode: Opcode, length: number, fin: boolean, rsv1: boolean): void {
    if (opcode === Opcode.Ping || opcode === Opcode.Pong) {
      if (length > MAX_CONTROL_PAYLOAD) throw new RangeError(`a control frame payload is at most ${MAX_CONTROL_PAYLOAD} bytes, not ${length}`);
      if (!fin || rsv1) throw new RangeError('a control frame may not be fragmented or carry RSV1');
      return;
    }
    if (opcode === Opcode.Close) throw new RangeError('send a close frame with close(), which keeps the close handshake state');
    const continuation = opcode === Opcode.Continuation;
    if (!continuation && opcode !== Opcode.Text && opcode !== Opcode.Binary) throw new RangeError(`opcode ${String(opcode)} is not defined by RFC 6455`);
    const midMessage = (this.bits & Bit.SendingFragments) !== 0;
    if (continuation !== midMessage) {
      throw new RangeError(continuation ? 'a continuation frame needs an unfinished message' : 'the previous message is unfinished: send its continuation frames first');
    }
    if (rsv1 && (continuation || (this.bits & Bit.AllowRsv1) === 0)) {
      throw new RangeError(continuation ? 'RSV1 belongs on the first frame of a message only' : 'RSV1 needs an extension that claims it');
    }
    this.bits = fin ? this.bits & ~Bit.SendingFragments : this.bits | Bit.SendingFragments;
  }

  private writeFrame(opcode: Opcode, payload: Buffer, fin: boolean, rsv1: boolean): void {
    if (this.options.role === 'client') {
      this.handler.write(encodeFrame(opcode, payload, { fin, rsv1, mask: this.options.maskKeys ?? defaultMaskKeys }));
    } else if (payload.length <= COPY_LIMIT) {
      // Small payloads are copied into the frame: one buffer, and the caller may reuse theirs at once.
      this.handler.write(encodeFrame(opcode, payload, { fin, rsv1 }));
    } else {
      // Large payloads are written as they are, without a copy: the caller must not modify them
      // until the send completes.
      this.handler.write(frameHeader(opcode, payload.length, { fin, rsv1 }));
      this.handler.write(payload);
    }
  }

  /** Writes a frame already serialized (for fan-out: framed once, written to many). */
  sendEncoded(frame: Buffer): boolean {
    if (this.closeSent) return false;
    this.handler.write(frame);
    return true;
  }

  /**
   * Starts (or completes) the close handshake. `code` undefined sends an empty close payload.
   * Throws RangeError for a code that may not be sent or a reason over 123 bytes.
   * Returns false if a close frame was already sent.
   */
  close(code?: number, reason = ''): boolean {
    const payload = encodeClosePayload(code, reason);
    if (this.closeSent) return false;
    this.writeFrame(Opcode.Close, payload, true, false);
    this.bits |= Bit.CloseSent;
    (this.closing ??= new CloseRecord()).sentCode = code;
    if (this.readyState === ReadyState.Open) this.readyState = ReadyState.Closing;
    return true;
  }

  private peerClose(code: number, reason: string): void {
    this.bits |= Bit.CloseReceived;
    const record = (this.closing ??= new CloseRecord());
    record.receivedCode = code;
    record.receivedReason = reason;
    if (!this.closeSent) {
      this.bits |= Bit.ClosedByPeer;
      // RFC 6455 §5.5.1: answer with a close frame, echoing the status code received.
      this.close(code === CloseCode.NoStatus ? undefined : code);
    }
    this.handler.onPeerClose(code, reason);
  }

  /**
   * Fails the connection for a violation found outside the parser (an extension's, say):
   * stops reading, writes the close frame, reports the error. Throws, changing nothing, for an
   * error that is not a ProtocolError (TypeError) or whose closeCode may not be sent (RangeError).
   */
  failConnection(error: ProtocolError): void {
    if (this.failed) return;
    // Checked before anything changes: the error's close code is what the close frame carries.
    if (!(error instanceof ProtocolError)) throw new TypeError('failConnection takes a ProtocolError, whose closeCode the close frame carries');
    encodeClosePayload(error.closeCode, '');
    this.parser?.stop();
    this.fail(error);
  }

  private fail(error: ProtocolError): void {
    (this.closing ??= new CloseRecord()).failure = error;
    this.bits |= Bit.Stopped;
    // RFC 6455 §7.1.7: send a close frame with the code, unless one was sent already.
    if (!this.closeSent) this.close(error.closeCode, truncateReason(error.message));
    this.handler.onProtocolError(error);
  }
}

/** What handlers threw during the innermost {@link ProtocolSession.receive} now running (undefined: nothing). */
let thrown: unknown[] | undefined;

function caught(error: unknown): void {
  (thrown ??= []).push(error);
}

const enum Bit {
  CloseSent = 1,
  CloseReceived = 2,
  ClosedByPeer = 4,
  AutoPong = 8,
  AllowRsv1 = 16,
  /** Failed or halted: nothing more received is processed. */
  Stopped = 32,
  /** A data message's first frames were sent without FIN: only continuations (and control frames) may follow. */
  SendingFragments = 64,
}

/** The close frames' details and the connection's failure, kept once the close handshake starts. */
class CloseRecord {
  sentCode: number | undefined = undefined;
  receivedCode: number = CloseCode.Abnormal;
  receivedReason = '';
  failure: ProtocolError | undefined = undefined;
}

/** Cuts a reason to at most 123 UTF-8 bytes, on a character boundary. */
function truncateReason(reason: string): string {
  if (Buffer.byteLength(reason) <= MAX_CLOSE_REASON_BYTES) return reason;
  let cut = reason.slice(0, MAX_CLOSE_REASON_BYTES);
  while (Buffer.byteLength(cut) > MAX_CLOSE_REASON_BYTES) cut = cut.slice(0, -1);
  // Not inside a surrogate pair: a lone high surrogate would go out as U+FFFD.
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}
