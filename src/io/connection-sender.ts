import { ConnectionClosedError, SockwaveError } from '../errors.js';
import { encodeClosePayload } from '../protocol/close-codes.js';
import { frameHeaderSize } from '../protocol/frame-serializer.js';
import { Opcode } from '../protocol/opcodes.js';
import { ReadyState } from '../protocol/session.js';
import { describeClose } from './close-info.js';
import { ConnectionCore } from './connection-core.js';
import { Flag, PauseReason } from './connection-flags.js';
import { type CloseInfo, type SendCallback, type SendOptions, type SendReport, type SendResult } from './connection-types.js';
import { DeferredQueue } from './deferred-queue.js';
import { frameIntoSlab, SLAB_PAYLOAD_LIMIT, slabFrame } from './frame-slab.js';
import { toPayload, type SendData } from './payload.js';
import { checkType } from '../option-checks.js';
import { checkSendOptions } from './send-checks.js';

/**
 * How messages leave a connection: sending (text, binary, JSON; compression, in the thread pool
 * for large messages; fragmentation), control frames, the close handshake's start, and
 * backpressure with its slow-consumer policy. {@link Connection} adds what an application uses
 * besides: topics and the pull style.
 */
export abstract class ConnectionSender<Data = unknown> extends ConnectionCore<Data> {
  /** Sends waiting behind a compression running in the thread pool (made when the first one starts). */
  private outbox: DeferredQueue | undefined;

  /** Bytes accepted by send() and not yet handed to the operating system. */
  get bufferedAmount(): number {
    return (this.outbox?.bytes ?? 0) + this.unsentBytes;
  }

  /**
   * Sends a message: a string as text, bytes (Buffer, ArrayBuffer, typed array, DataView) as
   * binary, anything else as JSON text. `callback` runs once the bytes were handed to the OS.
   *
   * The message is the bytes as they are when send() returns: wherever they wait or are read
   * later (a compression, a client's masking, a queue), they are copied, so one buffer may be
   * refilled between sends. One exception, for speed: a server writes an uncompressed payload over
   * 16 KiB from the caller's memory, as `socket.write` does; leave such a buffer unchanged until
   * `callback` runs (or send a copy).
   */
  send(data: SendData, options?: SendOptions | SendCallback, callback?: SendCallback): SendResult {
    // (null, as undefined: not given.)
    callback ??= undefined;
    if (typeof options === 'function') {
      callback = options;
      options = undefined;
    } else if (callback === undefined && fastPathOptions(options)) {
      const result = this.sendSmall(data, options?.binary);
      if (result !== undefined) return result;
    }
    checkSendOptions('send', options);
    checkType('send', 'callback', callback, 'function');
    const payload = toPayload(data, options?.binary);
    const fragmentSize = options?.fragmentSize ?? undefined;
    if (!this.isSendable()) {
      this.countDrop();
      if (callback) queueMicrotask(() => callback(this.notOpenError()));
      return 'dropped';
    }
    const opcode = payload.binary ? Opcode.Binary : Opcode.Text;
    const bytes = payload.bytes;
    if (this.overLimit(bytes.length)) {
      if (callback) queueMicrotask(() => callback(new SockwaveError('SW_INVALID_STATE', 'the send buffer is full')));
      return 'dropped';
    }
    this.stats.messagesOut++;
    this.stats.bytesOut += bytes.length;
    if (this.outbox?.active === true) {
      // It waits behind a compression: the caller's bytes are copied, so that the message is what
      // they were when send() returned.
      const kept = payload.borrowed ? Buffer.from(bytes) : bytes;
      this.outbox.push(() => this.sendNow(opcode, kept, fragmentSize, callback, false), bytes.length);
    } else {
      this.sendNow(opcode, bytes, fragmentSize, callback, payload.borrowed);
    }
    return this.afterWrite();
  }

  /**
   * The fast path of send() for a small string or Buffer that goes out as it is (no compression,
   * no fragments, nothing waiting): framed straight into the shared slab. Returns undefined, having
   * done nothing, when the general path must decide.
   */
  private sendSmall(data: SendData, binary: boolean | undefined): SendResult | undefined {
    let opcode: typeof Opcode.Text | typeof Opcode.Binary;
    let maxBytes: number;
    if (typeof data === 'string') {
      opcode = binary === true ? Opcode.Binary : Opcode.Text;
      maxBytes = data.length * 3;
      if (data.length > SLAB_PAYLOAD_LIMIT) return undefined;
    } else if (Buffer.isBuffer(data) && binary !== false) {
      opcode = Opcode.Binary;
      maxBytes = data.length;
      if (maxBytes > SLAB_PAYLOAD_LIMIT) return undefined;
    } else {
      return undefined;
    }
    if (this.outbox?.active === true || !this.isSendable()) return undefined;
    if (this.deflate !== undefined && this.deflate.shouldCompress(maxBytes)) return undefined;
    const buffered = this.bufferedAmount;
    if (buffered + maxBytes + 8 > this.settings.maxBufferedAmount) return undefined;
    frameIntoSlab(opcode, data, this.session.masking);
    const frame = slabFrame;
    const wireSize = frame.end - frame.start;
    this.stats.messagesOut++;
    this.stats.bytesOut += frame.payloadLength;
    this.stats.wireBytesOut += wireSize;
    this.batcher.writeSlab(frame.slab, frame.start, frame.end);
    // The buffered amount is now `buffered + wireSize`: afterWrite() needs reading it only past the mark.
    return buffered + wireSize <= this.settings.highWaterMark ? 'sent' : this.afterWrite();
  }

  /** @internal Writes a frame already serialized (fan-out: framed once, written to many). */
  sendEncoded(frame: Buffer, payloadSize: number): SendResult {
    if (!this.isSendable()) {
      this.countDrop();
      return 'dropped';
    }
    const size = frame.length;
    const buffered = this.bufferedAmount;
    if (buffered + size > this.settings.maxBufferedAmount && this.overLimit(size)) return 'dropped';
    this.stats.messagesOut++;
    this.stats.bytesOut += payloadSize;
    if (this.outbox?.active === true) this.outbox.push(() => void this.session.sendEncoded(frame), size);
    else this.session.sendEncoded(frame);
    // The buffered amount grew by `size` either way: afterWrite() needs reading it only past the mark.
    return buffered + size <= this.settings.highWaterMark ? 'sent' : this.afterWrite();
  }

  /** A message not sent because the connection is not open; after the close, the server counts it too. */
  private countDrop(): void {
    this.stats.dropped++;
    if (this.status === 'closed') this.owner?.droppedAfterClose();
  }

  /**
   * @internal An automatic pong is held to maxBufferedAmount as a message is: a peer that sends
   * pings and reads nothing would otherwise grow this side's buffer without bound.
   */
  autoPongAllowed(size: number): boolean {
    // (A pong's frame: 2 bytes of header, then a payload of at most 125 bytes.)
    return this.bufferedAmount + size + 2 <= this.settings.maxBufferedAmount || !this.overLimit(size + 2, 'pong');
  }

  /** Applies the slow-consumer policy when `size` more bytes would pass maxBufferedAmount. */
  private overLimit(size: number, what: 'message' | 'pong' = 'message'): boolean {
    const buffered = this.bufferedAmount + size;
    const limit = this.settings.maxBufferedAmount;
    if (buffered <= limit) return false;
    if (this.settings.slowConsumer === 'wait' && buffered <= 2 * limit) {
      if ((this.flags & Flag.PausedForSlowness) === 0) {
        // (The state first: a 'limit' listener may send to this connection again.)
        this.flags |= Flag.PausedForSlowness;
        this.pauseReading(PauseReason.SlowConsumer);
        if ((this.flags & Flag.NeedDrain) === 0) {
          this.flags |= Flag.NeedDrain;
          this.batcher.write(EMPTY, this.drainMarker);
        }
        this.limitReached('maxBufferedAmount', `over ${limit} bytes buffered: reading paused`);
      }
      return false;
    }
    // (A pong left unanswered is no message dropped.)
    if (what === 'message') this.stats.dropped++;
    // Reported once: what a 'limit' listener or onError sends to this connection meanwhile is
    // dropped without a report of its own (no recursion), and a throw there still closes.
    if ((this.flags & Flag.ReportingOverflow) !== 0) return true;
    this.flags |= Flag.ReportingOverflow;
    const closing = this.settings.slowConsumer === 'close';
    try {
      this.limitReached('maxBufferedAmount', `over ${limit} bytes buffered: ${what} dropped`);
      if (closing) this.reportError(new SockwaveError('SW_INVALID_STATE', `slow consumer: over ${limit} bytes buffered`));
    } finally {
      this.flags &= ~Flag.ReportingOverflow;
      if (closing) this.close(this.settings.slowConsumerCloseCode, 'slow consumer');
    }
    return true;
  }

  /** Why a message is not sent: the connection closed (how), or is closing. */
  private notOpenError(): SockwaveError {
    const info = this.closeInfo;
    if (info !== undefined) return new ConnectionClosedError(info.code, info.reason, info.wasClean, info.remote);
    if ((this.flags & Flag.Ended) !== 0 && !this.session.closeSent) return new SockwaveError('SW_INVALID_STATE', 'the peer ended the TCP connection without a close frame: nothing more is sent');
    return new SockwaveError('SW_INVALID_STATE', 'the connection is closing: nothing more is sent');
  }

  private isSendable(): boolean {
    // (Flag.Ended: the peer's FIN came, so the socket is ending; a write now would be lost.)
    return this.session.readyState === ReadyState.Open && !this.session.closeSent && (this.flags & (Flag.CloseRequested | Flag.Ended)) === 0;
  }

  /**
   * Compresses when negotiated and worth it (in the thread pool for large messages), then frames.
   * `borrowed`: `bytes` is the caller's memory, copied before the thread pool reads it later.
   */
  private sendNow(opcode: typeof Opcode.Text | typeof Opcode.Binary, bytes: Buffer, fragmentSize: number | undefined, callback: SendCallback | undefined, borrowed: boolean): void {
    const codec = this.deflate;
    if (codec === undefined || !codec.shouldCompress(bytes.length)) {
      this.writeMessage(opcode, bytes, false, fragmentSize, callback, bytes.length);
    } else if (codec.isSync(bytes.length)) {
      this.writeMessage(opcode, codec.compressSync(bytes), true, fragmentSize, callback, bytes.length);
    } else {
      const input = borrowed ? Buffer.from(bytes) : bytes;
      const outbox = (this.outbox ??= new DeferredQueue());
      outbox.begin();
      // While it is being compressed, the message counts in bufferedAmount (backpressure, limits).
      outbox.bytes += input.length;
      codec.compress(input, (error, compressed) => {
        outbox.bytes -= input.length;
        // Beyond the RFC: a compression failure sends the message uncompressed, which is always allowed.
        if (error || compressed === undefined) this.writeMessage(opcode, input, false, fragmentSize, callback, input.length, true);
        else this.writeMessage(opcode, compressed, true, fragmentSize, callback, input.length);
        this.outbox!.drain();
        if ((this.flags & Flag.NeedDrain) !== 0 && this.outbox?.active !== true) this.drainCheck();
      });
    }
  }

  private writeMessage(
    opcode: typeof Opcode.Text | typeof Opcode.Binary,
    bytes: Buffer,
    compressed: boolean,
    fragmentSize: number | undefined,
    callback: SendCallback | undefined,
    payloadSize: number,
    compressionError = false,
  ): void {
    const session = this.session;
    const masked = this.role === 'client';
    let wireSize = 0;
    // (False when a close frame went out first, while the message was being compressed: not sent.)
    let written = true;
    if (fragmentSize !== undefined && bytes.length > fragmentSize) {
      // RFC 7692 §6.1: RSV1 on the first frame only.
      for (let start = 0; start < bytes.length; start += fragmentSize) {
        const end = Math.min(start + fragmentSize, bytes.length);
        written = session.sendFrame(start === 0 ? opcode : Opcode.Continuation, bytes.subarray(start, end), end === bytes.length, compressed && start === 0);
        wireSize += frameHeaderSize(end - start, masked) + end - start;
      }
    } else {
      written = session.sendFrame(opcode, bytes, true, compressed);
      wireSize = frameHeaderSize(bytes.length, masked) + bytes.length;
    }
    if (callback && !written) {
      queueMicrotask(() => callback(this.notOpenError()));
    } else if (callback) {
      const report: SendReport = { payloadSize, wireSize, compressed, compressionError };
      this.batcher.write(EMPTY, (error) => callback(error, error ? undefined : report));
    }
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
    if (session.readyState === ReadyState.Closed || session.closeSent || (this.flags & Flag.CloseRequested) !== 0) return;
    if (this.outbox?.active === true) {
      // Messages accepted before close() go out first; nothing sent after close() is accepted.
      this.flags |= Flag.CloseRequested;
      this.outbox.push(() => this.closeNow(code, reason));
      return;
    }
    this.closeNow(code, reason);
  }

  private closeNow(code: number | undefined, reason: string): void {
    if (this.session.readyState === ReadyState.Closed || !this.session.close(code, reason)) return;
    this.afterCloseSent();
  }

  private control(opcode: typeof Opcode.Ping | typeof Opcode.Pong, data: SendData): SendResult {
    const payload = toPayload(data, true).bytes;
    if (payload.length > 125) throw new RangeError('a control frame payload is at most 125 bytes');
    if (!this.isSendable()) return 'dropped';
    if (this.outbox?.active === true) {
      const kept = Buffer.from(payload);
      this.outbox.push(() => void this.session.sendFrame(opcode, kept, true, false));
    }
    else this.session.sendFrame(opcode, payload, true, false);
    return this.afterWrite();
  }

  private afterWrite(): SendResult {
    if (this.bufferedAmount <= this.settings.highWaterMark) return 'sent';
    if ((this.flags & Flag.NeedDrain) === 0) {
      this.flags |= Flag.NeedDrain;
      // A marker after everything sent so far: once it is written, see whether we are under the mark.
      this.batcher.write(EMPTY, this.drainMarker);
    }
    return 'backpressure';
  }

  /** The drain marker's callback, made the first time backpressure needs one. */
  private drainMarkerCallback: (() => void) | undefined;

  private get drainMarker(): () => void {
    return (this.drainMarkerCallback ??= () => this.drainCheck());
  }

  /** Called when the bytes sent before the drain marker reached the OS. */
  private drainCheck(): void {
    if ((this.flags & Flag.NeedDrain) === 0 || this.session.readyState === ReadyState.Closed) return;
    if (this.bufferedAmount > this.settings.highWaterMark) {
      // Still above the mark. Whatever holds the bytes will call again: a compression running in
      // the thread pool when it completes, the socket's own 'drain', or a marker after the bytes
      // now waiting in the batcher or the socket.
      if (this.outbox?.active === true || this.socket.writableNeedDrain) return;
      this.batcher.write(EMPTY, this.drainMarker);
      return;
    }
    this.flags &= ~Flag.NeedDrain;
    if ((this.flags & Flag.PausedForSlowness) !== 0) {
      this.flags &= ~Flag.PausedForSlowness;
      this.resumeReading(PauseReason.SlowConsumer);
    }
    this.handler?.onDrain?.(this.self);
    this.emit('drain');
  }

  // SessionHandler: what the protocol core reports.

  /** @internal */
  socketDrained(): void {
    this.drainCheck();
  }

  /**
   * @internal The peer's close frame or a violation waits behind a message still being inflated,
   * then behind one still being compressed (SessionHandler.deferred): the close frame follows them.
   */
  deferred(action: () => void): boolean {
    const queue = this.inbox?.active === true ? this.inbox : this.outbox?.active === true ? this.outbox : undefined;
    queue?.push(action);
    return queue !== undefined;
  }

  /** @internal How the connection ended, once it has (what its `close` event reported). */
  get closeInfo(): CloseInfo | undefined {
    if (this.status !== 'closed') return undefined;
    return describeClose(this.session, (this.flags & Flag.Terminated) !== 0, (this.flags & Flag.SocketError) !== 0);
  }
}

/** No options, or options send()'s fast path takes as they are: no fragmentSize, a boolean binary if any (null: none). */
function fastPathOptions(options: SendOptions | undefined): boolean {
  return options == null || (typeof options === 'object' && options !== null && options.fragmentSize == null && typeof (options.binary ?? false) === 'boolean');
}

const EMPTY = Buffer.alloc(0);