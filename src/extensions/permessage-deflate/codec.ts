import { constants as bufferConstants } from 'node:buffer';
import { constants, deflateRaw, deflateRawSync, inflateRaw, inflateRawSync, type ZlibOptions } from 'node:zlib';
import { ProtocolError } from '../../errors.js';
import { CloseCode } from '../../protocol/close-codes.js';
import { JobLimiter } from './limiter.js';
import { SlidingWindow } from './sliding-window.js';
import { inflateSmall } from './small-inflate.js';
import { type DeflateParams, type PerMessageDeflateOptions } from './negotiation.js';

/**
 * The permessage-deflate codec for one connection (RFC 7692 §7.2).
 *
 * Every message is compressed or inflated by a one-shot zlib call: no zlib context lives between
 * messages, so an idle connection holds none. Context takeover is kept with zlib's preset
 * dictionary instead: the last 2^windowBits bytes of plaintext that went through the same
 * direction are the LZ77 window the peer also holds (RFC 7692 §7.2.3.3). Those bytes are the only
 * state a connection keeps, and only in a direction where takeover was negotiated.
 *
 * Payloads up to `syncLimit` bytes are processed synchronously (cheaper than a thread-pool round
 * trip); larger ones run in the thread pool through a process-wide {@link JobLimiter}.
 */

/** RFC 7692 §7.2.1: the sync-flush marker removed from, and restored to, each message. */
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/** An empty message compresses to a single empty stored block. */
const EMPTY_BLOCK = Buffer.from([0x00]);

export const DEFAULT_THRESHOLD = 1024;
const DEFAULT_LEVEL = 1;
const DEFAULT_MEM_LEVEL = 8;
const DEFAULT_SYNC_LIMIT = 256 * 1024;

let sharedLimiter: JobLimiter | undefined;
function limiter(concurrency: number | undefined): JobLimiter {
  sharedLimiter ??= new JobLimiter(concurrency ?? 10);
  return sharedLimiter;
}

export type CodecCallback = (error: Error | null, result?: Buffer) => void;

export class PerMessageDeflate {
  readonly params: DeflateParams;
  /** Messages smaller than this are sent uncompressed. */
  readonly threshold: number;
  /** False when we may not compress at all (an 8-bit window, which zlib cannot produce). */
  readonly canCompress: boolean;
  /** Whether our outgoing direction resets its context for every message. */
  readonly outboundNoContextTakeover: boolean;
  /**
   * Connections whose codecs share this key produce the same bytes for the same message when
   * their outgoing context is reset per message: fan-out compresses once per key.
   */
  readonly compressionKey: string;
  private readonly inboundNoContextTakeover: boolean;
  private readonly outboundBits: number;
  private readonly inboundBits: number;
  private readonly level: number;
  private readonly memLevel: number;
  private readonly maxPayload: number;
  private readonly syncLimit: number;
  private readonly concurrency: number | undefined;
  /** Plaintext windows for context takeover (undefined: not kept). */
  private readonly outboundWindow: SlidingWindow | undefined;
  private readonly inboundWindow: SlidingWindow | undefined;

  constructor(params: DeflateParams, role: 'server' | 'client', options: PerMessageDeflateOptions, maxPayload: number) {
    this.params = params;
    const server = role === 'server';
    this.outboundNoContextTakeover = server ? params.serverNoContextTakeover : params.clientNoContextTakeover;
    this.inboundNoContextTakeover = server ? params.clientNoContextTakeover : params.serverNoContextTakeover;
    this.outboundBits = server ? params.serverMaxWindowBits : params.clientMaxWindowBits;
    // Inflating with a larger window than the peer's is always safe; zlib peers asked for 8 use 9.
    this.inboundBits = Math.max(9, server ? params.clientMaxWindowBits : params.serverMaxWindowBits);
    // zlib turns a raw 8-bit window into 9, which a peer that asked for 8 may not accept: in that
    // case we send every message uncompressed, which RFC 7692 always allows.
    this.canCompress = this.outboundBits > 8;
    this.threshold = options.threshold ?? DEFAULT_THRESHOLD;
    this.level = options.level ?? DEFAULT_LEVEL;
    this.memLevel = options.memLevel ?? DEFAULT_MEM_LEVEL;
    this.maxPayload = maxPayload;
    this.syncLimit = DEFAULT_SYNC_LIMIT;
    this.concurrency = options.concurrency;
    this.compressionKey = `${this.outboundBits}/${this.level}/${this.memLevel}`;
    if (!this.outboundNoContextTakeover) this.outboundWindow = new SlidingWindow(this.outboundBits);
    if (!this.inboundNoContextTakeover) this.inboundWindow = new SlidingWindow(this.inboundBits);
  }

  /** Whether `length` bytes would be compressed by {@link compress}. */
  shouldCompress(length: number): boolean {
    return this.canCompress && length >= this.threshold;
  }

  /** Whether compressing `length` bytes runs synchronously. */
  isSync(length: number): boolean {
    return length <= this.syncLimit;
  }

  /** Compresses one message synchronously; returns the payload to send with RSV1. */
  compressSync(data: Buffer): Buffer {
    const out = deflateRawSync(data, this.deflateOptions());
    return this.afterCompress(data, out);
  }

  /** Compresses one message in the thread pool (through the process-wide limiter). */
  compress(data: Buffer, callback: CodecCallback): void {
    const options = this.deflateOptions();
    limiter(this.concurrency).run(
      (done) => {
        deflateRaw(data, options, (error, out) => {
          done();
          if (error) callback(error);
          else callback(null, this.afterCompress(data, out));
        });
      },
      // zlib threw instead of starting (an option it rejects): reported like a failed compression.
      (error) => process.nextTick(callback, asError(error)),
    );
  }

  /**
   * Inflates one message synchronously. Returns null when it inflates to more than
   * {@link SYNC_INFLATE_LIMIT} bytes (and maxPayload allows more): a small input may inflate a
   * thousandfold, and that much work belongs in the thread pool ({@link decompress}), not on the
   * event loop. Throws ProtocolError 1009 (too big), 1007 (corrupt) or 1011 (a failure of ours).
   */
  decompressSync(data: Buffer): Buffer | null {
    // Small messages: decoded in TypeScript, with no zlib object to set up (see small-inflate.ts);
    // null means zlib decides.
    if (data.length <= SMALL_INFLATE_LIMIT) {
      const small = inflateSmall(data, this.inboundWindow?.bytes, this.maxPayload);
      if (small !== null) return this.afterInflate(small);
    }
    const bounded = this.maxPayload > SYNC_INFLATE_LIMIT;
    let out: Buffer;
    try {
      out = inflateRawSync(Buffer.concat([data, TAIL]), this.inflateOptions(bounded ? SYNC_INFLATE_LIMIT : this.maxPayload));
    } catch (error) {
      if (bounded && (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return null;
      throw inflateError(error, this.maxPayload);
    }
    return this.afterInflate(out);
  }

  /** Inflates one message in the thread pool; the callback gets a ProtocolError on failure. */
  decompress(data: Buffer, callback: CodecCallback): void {
    const options = this.inflateOptions();
    const input = Buffer.concat([data, TAIL]);
    limiter(this.concurrency).run(
      (done) => {
        inflateRaw(input, options, (error, out) => {
          done();
          if (error) return callback(inflateError(error, this.maxPayload));
          let inflated;
          try {
            inflated = this.afterInflate(out);
          } catch (tooBigError) {
            return callback(tooBigError as ProtocolError);
          }
          callback(null, inflated);
        });
      },
      (error) => process.nextTick(callback, inflateError(error, this.maxPayload)),
    );
  }

  private deflateOptions(): ZlibOptions {
    return {
      windowBits: this.outboundBits,
      level: this.level,
      memLevel: this.memLevel,
      finishFlush: constants.Z_SYNC_FLUSH,
      ...(this.outboundWindow?.bytes ? { dictionary: this.outboundWindow.bytes } : {}),
    };
  }

  /** zlib's inflate options; the output stops past `limit` bytes (ERR_BUFFER_TOO_LARGE). */
  private inflateOptions(limit = this.maxPayload): ZlibOptions {
    return {
      windowBits: 15,
      finishFlush: constants.Z_SYNC_FLUSH,
      // zlib takes no limit over the largest Buffer (4 GiB on 64-bit Node 20): a larger maxPayload
      // (or Infinity) is that limit, which no inflated message can pass anyway.
      maxOutputLength: Math.max(1, Math.min(limit, bufferConstants.MAX_LENGTH)),
      ...(this.inboundWindow?.bytes ? { dictionary: this.inboundWindow.bytes } : {}),
    };
  }

  private afterCompress(data: Buffer, out: Buffer): Buffer {
    this.outboundWindow?.append(data);
    // RFC 7692 §7.2.1: remove the trailing 00 00 ff ff.
    const end = out.length >= 4 && out.readUInt32BE(out.length - 4) === 0x0000ffff ? out.length - 4 : out.length;
    return end === 0 ? EMPTY_BLOCK : out.subarray(0, end);
  }

  private afterInflate(out: Buffer): Buffer {
    if (out.length > this.maxPayload) throw tooBig(this.maxPayload);
    this.inboundWindow?.append(out);
    return out;
  }
}

/**
 * The most a message inflated on the event loop may grow to (1 MiB, a millisecond or two of
 * zlib): past it, the inflation starts again in the thread pool.
 */
const SYNC_INFLATE_LIMIT = 1024 * 1024;

/** Compressed messages up to this size are inflated by inflateSmall (where it beats a zlib call). */
const SMALL_INFLATE_LIMIT = 128;

function tooBig(maxPayload: number): ProtocolError {
  const limit = maxPayload > bufferConstants.MAX_LENGTH ? `the largest Buffer (${bufferConstants.MAX_LENGTH} bytes)` : `maxPayload (${maxPayload} bytes)`;
  return new ProtocolError(CloseCode.MessageTooBig, `inflated message exceeds ${limit}`, 'SW_MESSAGE_TOO_BIG');
}

/**
 * What a failed inflation means: output over the limit (1009), data zlib could not decode (1007,
 * zlib's errors carry a numeric errno), or anything else — an error of ours, not the peer's (1011).
 */
function inflateError(error: unknown, maxPayload: number): ProtocolError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ERR_BUFFER_TOO_LARGE') return tooBig(maxPayload);
  if (typeof (error as NodeJS.ErrnoException | undefined)?.errno === 'number') {
    return new ProtocolError(CloseCode.InvalidPayload, 'decompressionError: invalid deflate data', 'SW_DECOMPRESSION_ERROR', { cause: error });
  }
  return new ProtocolError(CloseCode.InternalError, 'decompressionError: inflation failed', 'SW_DECOMPRESSION_ERROR', { cause: error });
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
