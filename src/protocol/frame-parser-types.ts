// What the frame parser reports and what it is told: the contract between it and its caller
// (the protocol session). The parser itself is in frame-parser.ts.
import { type ProtocolError } from '../errors.js';
import { type FrameParser } from './frame-parser.js';

/** What the parser reports, as it parses (see {@link FrameParser} for the rules it applies). */
export interface FrameParserHandler {
  /** A complete data message. `compressed` is set when its first frame had RSV1 (RFC 7692). */
  onMessage: (data: Buffer, binary: boolean, compressed: boolean) => void;
  /**
   * Unless the `text` option is false: an unfragmented, uncompressed text message that arrived whole in one
   * chunk, validated and decoded in one pass, with its size in bytes (no Buffer is made for it).
   * Other text messages still come through `onMessage`.
   */
  onText?: ((text: string, byteLength: number) => void) | undefined;
  /** Each data frame of a fragmented message, as it completes (optional). */
  onFragment?: ((data: Buffer, binary: boolean, fin: boolean, compressed: boolean) => void) | undefined;
  onPing: (payload: Buffer) => void;
  onPong: (payload: Buffer) => void;
  /** A valid close frame. `code` is 1005 (no status) when the frame had no payload. */
  onClose: (code: number, reason: string) => void;
  /** The peer broke the protocol; the connection must be failed with `error.closeCode`. */
  onError: (error: ProtocolError) => void;
}

export interface FrameParserOptions {
  /** `server` requires masked frames, `client` unmasked ones (RFC 6455 §5.1). */
  role: 'server' | 'client';
  /** Largest message accepted, in bytes (the sum of its fragments). */
  maxPayload: number;
  /** Most frames one data message may span. Default: no limit. */
  maxFragments?: number | undefined;
  /** An extension (permessage-deflate) claims RSV1 on the first frame of a data message. */
  allowRsv1?: boolean | undefined;
  /** Report each frame of fragmented messages through `onFragment`. Default: when the handler has one. */
  fragments?: boolean | undefined;
  /** Report whole single-frame text messages as strings through `onText`. Default: when the handler has one. */
  text?: boolean | undefined;
  /**
   * The caller writes over a chunk's memory once {@link FrameParser.push} returns (a read buffer
   * used again): every payload reported or kept is a copy, never a view of the chunk. Default false.
   */
  lentChunks?: boolean | undefined;
}
