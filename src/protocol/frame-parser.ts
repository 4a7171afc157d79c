import { ProtocolError } from '../errors.js';
import { checkProtocolOptions } from './option-checks.js';
import { CloseCode, decodeClosePayload } from './close-codes.js';
import { headerSize, MAX_HEADER } from './frame-header.js';
import { applyMaskWord, maskCopy } from './mask.js';
import { isControlOpcode, isKnownOpcode, MAX_CONTROL_PAYLOAD, Opcode } from './opcodes.js';
import { unpinned } from './unpinned.js';
import { decodeUtf8, Utf8Validator } from './utf8.js';
import { unmaskText } from './masked-text.js';
import { unmaskWholeFrames } from './unmask-ahead.js';
import { inSimdReadBuffer } from './mask-simd.js';
import { type FrameParserHandler, type FrameParserOptions } from './frame-parser-types.js';
import { compressedLimit } from './compressed-limit.js';

export type { FrameParserHandler, FrameParserOptions } from './frame-parser-types.js';

const enum State {
  Header,
  Payload,
  /** A close frame was parsed: RFC 6455 §5.5.1, nothing after it is processed. */
  Closed,
  Failed,
}

/**
 * A masked frame up to this size that spans chunks is unmasked straight into one buffer of its
 * length, allocated when its first piece arrives (the copy a reassembly needs, fused with the
 * unmasking); so is any frame that spans lent chunks (see `lentChunks`), which must be copied
 * anyway. Larger frames keep their pieces and join them at the end, so a header alone never
 * makes the parser allocate more than this.
 */
const ASSEMBLE_LIMIT = 64 * 1024;
/**
 * Pieces of a larger frame under this size are copied into blocks of up to 64 KiB instead of
 * being kept one by one: a frame trickled in tiny reads then costs its bytes, not a Buffer object
 * per read (which is many times the byte it holds).
 */
const SMALL_PIECE = 4 * 1024;
const BLOCK_SIZE = 64 * 1024;
/** A fragment under this size kept for its message is copied out of a much larger read (see unpinned.ts). */
const PIN_LIMIT = 16 * 1024;
const EMPTY = Buffer.alloc(0);

/**
 * Incremental RFC 6455 frame parser. Feed it chunks of any size with {@link FrameParser.push}; it
 * reports whole messages, fragments and control frames to a {@link FrameParserHandler}.
 *
 * Rules (RFC 6455 unless noted); every violation is reported once through `onError` with the close
 * code to fail the connection with, after which the parser ignores all input:
 * - §5.2 RSV1–3 must be 0 unless an extension claims them (RFC 7692 §6: RSV1, first frame only) → 1002
 * - §5.2 reserved opcodes 0x3–0x7, 0xB–0xF → 1002
 * - §5.5 control frames: payload ≤ 125 bytes and FIN set → 1002
 * - §5.4 a continuation with no message started, or a new data frame inside a fragmented message → 1002
 * - §5.2 a 64-bit length with its most significant bit set → 1002
 * - §5.1 a server receives only masked frames, a client only unmasked ones → 1002
 * - Beyond the RFC: a message longer than `maxPayload` → 1009, decided from the frame header,
 *   before any of its payload is buffered (compressed: past deflate's worst case for `maxPayload`).
 * - Beyond the RFC: a message in more than `maxFragments` frames → 1008, decided from the header.
 * - §8.1 text must be UTF-8: checked as each byte arrives (fail fast), across fragments → 1007
 *   (compressed messages are checked by the extension after inflating them)
 * - §5.5.1/§7.4 a close payload of 1 byte or an invalid code → 1002; a reason that is not UTF-8 → 1007
 *
 * Payloads are unmasked in place in the chunks that were pushed, and a frame that arrives whole in
 * one chunk is delivered as a view of that chunk, without copying. A masked frame of up to 64 KiB
 * that spans chunks is unmasked into one buffer of its own as its pieces arrive. With `lentChunks`
 * (the caller reuses its read buffer), nothing reported or kept is a view of a chunk: the first
 * payload of a chunk that must be kept copies the rest of the chunk, once, and it and the later
 * payloads of that chunk are views of the copy; any frame of up to 64 KiB that spans chunks is
 * copied into one buffer of its own. (Whole text messages decoded from the chunk need no copy.)
 * A lent chunk is unmasked before it is copied (see unmaskWholeFrames and simdReadBuffer).
 */
export class FrameParser {
  private readonly handler: FrameParserHandler;
  private readonly expectMask: boolean;
  private readonly maxPayload: number;
  private readonly maxFragments: number;
  private allowRsv1: boolean;
  private readonly wantFragments: boolean;
  private readonly wantText: boolean;
  private readonly lentChunks: boolean;

  private state = State.Header;
  /** Bytes of a header split across chunks (allocated the first time one is). */
  private head: Buffer | null = null;
  private headLength = 0;

  // The frame being read.
  private fin = false;
  private opcode = 0;
  private masked = false;
  /** The masking key as a little-endian 32-bit word (see applyMaskWord). */
  private maskKey = 0;
  private maskPhase = 0;
  private remaining = 0;
  /** Every payload of the chunk being parsed that ends by this offset was unmasked ahead (unmaskWholeFrames). */
  private clearTo = 0;
  /** The frame's payload so far: none, one piece, or several (idle connections hold no array). */
  private framePiece: Buffer | null = null;
  private framePieces: Buffer[] | null = null;
  /** A masked frame being unmasked into one buffer of its length (see ASSEMBLE_LIMIT), and how much is filled. */
  private frameBuffer: Buffer | null = null;
  private frameFilled = 0;
  /** Small pieces of a larger frame, copied together (see SMALL_PIECE), and how much is filled. */
  private block: Buffer | null = null;
  private blockFilled = 0;

  // The data message being assembled (opcode 0: none).
  private messageOpcode = 0;
  private messageCompressed = false;
  private messageLength = 0;
  private messageFrames = 0;
  private messagePieces: Buffer[] | null = null;
  private utf8Validator: Utf8Validator | null = null;

  constructor(options: FrameParserOptions, handler: FrameParserHandler) {
    checkProtocolOptions('FrameParser', options);
    this.handler = handler;
    this.expectMask = options.role === 'server';
    this.maxPayload = options.maxPayload;
    this.maxFragments = options.maxFragments ?? Infinity;
    this.allowRsv1 = options.allowRsv1 ?? false;
    this.wantFragments = (options.fragments ?? true) && typeof handler.onFragment === 'function';
    this.wantText = (options.text ?? true) && typeof handler.onText === 'function';
    this.lentChunks = options.lentChunks ?? false;
  }

  /** Lets an extension negotiated after construction claim RSV1. */
  setAllowRsv1(allow: boolean): void {
    this.allowRsv1 = allow;
  }

  /** True once the parser failed or read a close frame: further input is ignored. */
  get stopped(): boolean {
    return this.state === State.Failed || this.state === State.Closed;
  }

  /** Stops parsing for good (the connection was failed from outside). */
  stop(): void {
    this.state = State.Failed;
    this.dropPieces();
  }

  /** Feeds received bytes. The chunk may be modified (unmasked) in place, and retained unless `lentChunks` is set. */
  push(chunk: Buffer): void {
    let end = chunk.length;
    let pos = 0;
    let lent = this.lentChunks; // the chunk is lent (see lentChunks) and not copied yet
    this.clearTo = 0;
    while (pos < end) {
      const state = this.state;
      if (state === State.Payload) {
        const take = Math.min(this.remaining, end - pos);
        const owned = this.payload(chunk, pos, pos + take, lent);
        if (owned !== undefined) {
          // Parsing goes on in the copy of the rest of the chunk.
          lent = false;
          chunk = owned;
          end = owned.length;
          pos = 0;
        }
        pos += take;
      } else if (state === State.Header) {
        pos = this.headLength === 0 ? this.headerFromChunk(chunk, pos) : this.headerFromParts(chunk, pos);
      } else {
        return;
      }
    }
  }

  /** Reads a header that starts at `pos` in `chunk`; keeps a partial one for later. */
  private headerFromChunk(chunk: Buffer, pos: number): number {
    const available = chunk.length - pos;
    if (available >= 2) {
      const size = headerSize(chunk[pos + 1]!);
      if (available >= size) {
        this.header(chunk, pos);
        // A payload unmasked ahead is read as clear.
        if (this.masked && pos + size + this.remaining <= this.clearTo) this.masked = false;
        return pos + size;
      }
    }
    chunk.copy((this.head ??= Buffer.alloc(MAX_HEADER)), 0, pos);
    this.headLength = available;
    return chunk.length;
  }

  /** Completes a header split across chunks. */
  private headerFromParts(chunk: Buffer, pos: number): number {
    const head = this.head!;
    const had = this.headLength;
    const copied = chunk.copy(head, had, pos, pos + (MAX_HEADER - had));
    const have = had + copied;
    if (have >= 2) {
      const size = headerSize(head[1]!);
      if (have >= size) {
        this.headLength = 0;
        this.header(head, 0);
        return pos + (size - had);
      }
    }
    this.headLength = have;
    return pos + copied;
  }

  private header(b: Buffer, at: number): void {
    const b0 = b[at]!;
    const b1 = b[at + 1]!;
    const fin = (b0 & 0x80) !== 0;
    const rsv1 = (b0 & 0x40) !== 0;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    let length = b1 & 0x7f;
    let p = at + 2;

    if ((b0 & 0x30) !== 0) return this.fail(CloseCode.ProtocolError, 'RSV2 and RSV3 must be clear');
    if (!isKnownOpcode(opcode)) return this.fail(CloseCode.ProtocolError, `reserved opcode 0x${opcode.toString(16)}`);
    if (masked !== this.expectMask) {
      return this.fail(
        CloseCode.ProtocolError,
        this.expectMask ? 'a client frame must be masked' : 'a server frame must not be masked',
      );
    }
    if (isControlOpcode(opcode)) {
      // RFC 6455 §5.5: control frames are ≤ 125 bytes and are never fragmented.
      if (!fin) return this.fail(CloseCode.ProtocolError, 'fragmented control frame');
      if (length > MAX_CONTROL_PAYLOAD) return this.fail(CloseCode.ProtocolError, 'control frame payload over 125 bytes');
      // RFC 7692 §6: RSV1 marks compressed data messages only.
      if (rsv1) return this.fail(CloseCode.ProtocolError, 'RSV1 set on a control frame');
    } else {
      if (length === 126) {
        length = b.readUInt16BE(p);
        p += 2;
      } else if (length === 127) {
        const high = b.readUInt32BE(p);
        // RFC 6455 §5.2: the most significant bit of a 64-bit length must be 0.
        if (high & 0x80000000) return this.fail(CloseCode.ProtocolError, '64-bit length with its top bit set');
        length = high * 0x100000000 + b.readUInt32BE(p + 4);
        p += 8;
      }
      if (opcode === Opcode.Continuation) {
        if (this.messageOpcode === 0) return this.fail(CloseCode.ProtocolError, 'continuation frame with no message started');
        // RFC 7692 §6.1: RSV1 is set on the first frame of a message only.
        if (rsv1) return this.fail(CloseCode.ProtocolError, 'RSV1 set on a continuation frame');
        // messageFrames counts the frames of this message so far.
        if (this.messageFrames >= this.maxFragments) {
          return this.fail(CloseCode.PolicyViolation, `message in more than ${this.maxFragments} frames`, 'SW_TOO_MANY_FRAGMENTS');
        }
      } else {
        if (this.messageOpcode !== 0) return this.fail(CloseCode.ProtocolError, 'new data frame inside a fragmented message');
        if (rsv1 && !this.allowRsv1) return this.fail(CloseCode.ProtocolError, 'RSV1 set with no extension negotiated');
        this.messageOpcode = opcode;
        this.messageCompressed = rsv1;
        this.messageLength = 0;
        this.messageFrames = 0;
      }
      // Checked from the header, before any of the payload is buffered (see compressedLimit).
      if (this.messageLength + length > (this.messageCompressed ? compressedLimit(this.maxPayload) : this.maxPayload)) {
        return this.fail(CloseCode.MessageTooBig, `message exceeds maxPayload (${this.maxPayload} bytes)`, 'SW_MESSAGE_TOO_BIG');
      }
      this.messageLength += length;
    }
    if (masked) {
      this.maskKey = b.readUInt32LE(p);
      this.maskPhase = 0;
    }
    this.fin = fin;
    this.opcode = opcode;
    this.masked = masked;
    this.remaining = length;
    if (length === 0) this.frameDone();
    else this.state = State.Payload;
  }

  /**
   * Takes the frame's payload in `chunk[start, end)`. If `chunk` is lent and the payload must be
   * kept, copies the chunk from `start` on and returns the copy.
   */
  private payload(chunk: Buffer, start: number, end: number, lent: boolean): Buffer | undefined {
    const n = end - start;
    let owned: Buffer | undefined;
    // The common case: a whole single-frame text message here, validated and decoded in one pass.
    if (n === this.remaining && this.opcode === Opcode.Text && this.fin && this.wantText && !this.messageCompressed && this.framePiece === null && this.frameBuffer === null) {
      this.remaining = 0;
      this.state = State.Header;
      this.messageOpcode = 0;
      const text = this.masked ? unmaskText(chunk, start, end, this.maskKey) : decodeUtf8(chunk, start, end);
      if (text === null) {
        this.fail(CloseCode.InvalidPayload, 'invalid UTF-8 in a text message', 'SW_INVALID_UTF8');
        return undefined;
      }
      this.handler.onText!(text, n);
      return undefined;
    }
    let piece: Buffer;
    let assembled = this.frameBuffer;
    if ((this.masked || this.lentChunks) && assembled === null && this.framePiece === null && this.remaining > n && this.remaining <= ASSEMBLE_LIMIT) {
      assembled = this.frameBuffer = Buffer.allocUnsafe(this.remaining);
      this.frameFilled = 0;
    }
    // Unmasked where it lies, unless copied into the frame's buffer (the copy and the unmasking in
    // one pass) from anywhere but the SIMD module's read buffer, where unmasking needs no copy.
    const inPlace = this.masked && (assembled === null || inSimdReadBuffer(chunk));
    if (inPlace) this.maskPhase = applyMaskWord(chunk, start, end, this.maskKey, this.maskPhase);
    if (assembled !== null) {
      const at = this.frameFilled;
      if (this.masked && !inPlace) this.maskPhase = maskCopy(chunk, start, end, assembled, at, this.maskKey, this.maskPhase);
      else chunk.copy(assembled, at, start, end);
      this.frameFilled = at + n;
      piece = assembled.subarray(at, at + n);
    } else {
      if (lent) {
        // Kept as a view, so not of a lent chunk: the rest of the chunk is copied once, and this
        // piece and every later one of the chunk are views of the copy, as of a chunk not lent
        // (one copy and one allocation per chunk, not one per message), the whole frames after
        // this one unmasked first, where they lie.
        const clear = n === this.remaining && this.expectMask ? unmaskWholeFrames(chunk, end) : end;
        owned = Buffer.allocUnsafe(chunk.length - start);
        chunk.copy(owned, 0, start);
        this.clearTo = clear - start;
        chunk = owned;
        end -= start;
        start = 0;
      }
      piece = start === 0 && end === chunk.length ? chunk : chunk.subarray(start, end);
    }
    this.remaining -= n;
    const opcode = this.opcode;
    // Fail fast on invalid UTF-8 in uncompressed text (RFC 6455 §8.1).
    if (
      (opcode === Opcode.Text || (opcode === Opcode.Continuation && this.messageOpcode === Opcode.Text)) &&
      !this.messageCompressed &&
      !(this.utf8Validator ??= new Utf8Validator()).push(piece)
    ) {
      this.fail(CloseCode.InvalidPayload, 'invalid UTF-8 in a text message', 'SW_INVALID_UTF8');
      return undefined;
    }
    if (assembled === null) this.keepPiece(piece);
    if (this.remaining === 0) {
      this.state = State.Header;
      this.frameDone();
    }
    return owned;
  }

  /**
   * A piece of the frame: a large one, or the first, is kept as it is; a later small one is copied
   * into the current block. A small first piece of a frame still to come that views much more
   * memory (a byte at the end of a read, a slice of Node's buffer pool: 64 KiB from Node 26) is
   * kept as a copy, so that the frame's bytes do not hold that memory while the rest arrives.
   */
  private keepPiece(piece: Buffer): void {
    if (this.framePiece === null) return void (this.framePiece = this.remaining !== 0 ? unpinned(piece, SMALL_PIECE) : piece);
    const n = piece.length;
    if (n >= SMALL_PIECE) {
      if (this.block !== null) this.flushBlock();
      (this.framePieces ??= [this.framePiece]).push(piece);
      return;
    }
    let block = this.block;
    if (block !== null && this.blockFilled + n > block.length) {
      this.flushBlock();
      block = null;
    }
    if (block === null) {
      // Sized for the rest of the frame, up to 64 KiB (`remaining` no longer counts this piece).
      block = this.block = Buffer.allocUnsafeSlow(Math.min(BLOCK_SIZE, n + this.remaining));
      this.blockFilled = 0;
    }
    piece.copy(block, this.blockFilled);
    this.blockFilled += n;
  }

  private flushBlock(): void {
    (this.framePieces ??= [this.framePiece!]).push(this.block!.subarray(0, this.blockFilled));
    this.block = null;
  }

  private frameDone(): void {
    if (this.block !== null) this.flushBlock();
    const pieces = this.framePieces;
    const data = this.frameBuffer ?? (pieces !== null ? Buffer.concat(pieces) : (this.framePiece ?? EMPTY));
    this.frameBuffer = null;
    this.framePiece = null;
    this.framePieces = null;
    switch (this.opcode) {
      case Opcode.Ping:
        this.handler.onPing(data);
        return;
      case Opcode.Pong:
        this.handler.onPong(data);
        return;
      case Opcode.Close:
        this.closeFrame(data);
        return;
      default:
        this.dataFrame(data);
    }
  }

  private dataFrame(data: Buffer): void {
    const fin = this.fin;
    const binary = this.messageOpcode === Opcode.Binary;
    const compressed = this.messageCompressed;
    const text = !binary && !compressed;
    if (fin && this.messageFrames === 0) {
      // The common case: an unfragmented message.
      if (text && this.utf8Validator?.finish() === false) return this.fail(CloseCode.InvalidPayload, 'text message ends inside a UTF-8 sequence', 'SW_INVALID_UTF8');
      this.messageOpcode = 0;
      this.handler.onMessage(data, binary, compressed);
      return;
    }
    this.messageFrames++;
    if (fin && text && this.utf8Validator?.finish() === false) {
      return this.fail(CloseCode.InvalidPayload, 'text message ends inside a UTF-8 sequence', 'SW_INVALID_UTF8');
    }
    if (this.wantFragments) this.handler.onFragment!(data, binary, fin, compressed);
    if (this.state !== State.Header) return; // the fragment handler may have stopped the parser
    if (data.length !== 0) (this.messagePieces ??= []).push(unpinned(data, PIN_LIMIT));
    if (!fin) return;
    const pieces = this.messagePieces;
    const message = pieces === null ? EMPTY : pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, this.messageLength);
    this.messagePieces = null;
    this.messageOpcode = 0;
    this.handler.onMessage(message, binary, compressed);
  }

  private closeFrame(data: Buffer): void {
    const close = decodeClosePayload(data);
    if (close instanceof ProtocolError) return this.failWith(close);
    this.state = State.Closed;
    this.handler.onClose(close.code, close.reason);
  }

  private dropPieces(): void {
    this.block = null;
    this.frameBuffer = null;
    this.framePiece = null;
    this.framePieces = null;
    this.messagePieces = null;
  }

  private fail(closeCode: number, message: string, code: 'SW_PROTOCOL_ERROR' | 'SW_INVALID_UTF8' | 'SW_MESSAGE_TOO_BIG' | 'SW_TOO_MANY_FRAGMENTS' = 'SW_PROTOCOL_ERROR'): void {
    this.failWith(new ProtocolError(closeCode, message, code));
  }

  private failWith(error: ProtocolError): void {
    this.stop();
    this.handler.onError(error);
  }
}
