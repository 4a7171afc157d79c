import { applyMaskWord } from './mask.js';
import { headerSize } from './frame-header.js';

/**
 * Unmasks in place every whole masked frame of `chunk` from `from` on, where a frame header must
 * start, and returns where it stopped: every payload before that offset is clear. It stops at the
 * first frame that is not whole in the chunk or not masked, and reads each header only for its
 * length and key; whether the frame is allowed is for the parser to say when it reaches it (a
 * frame it rejects ends the parsing, so what was unmasked after it is never read; that is at most
 * the rest of one chunk).
 *
 * The frame parser calls it before it copies the rest of a lent chunk (see FrameParser): the
 * frames are then unmasked where they were read, which for the read buffer of the SIMD module
 * (see simdReadBuffer) needs no copy, instead of one by one in the copy by the word loop.
 */
export function unmaskWholeFrames(chunk: Buffer, from: number): number {
  const end = chunk.length;
  let pos = from;
  while (end - pos >= 2) {
    const b1 = chunk[pos + 1]!;
    const size = headerSize(b1);
    if ((b1 & 0x80) === 0 || end - pos < size) break;
    const len7 = b1 & 0x7f;
    // (A 64-bit length past 4 GiB can never be whole in a chunk.)
    if (len7 === 127 && chunk.readUInt32BE(pos + 2) !== 0) break;
    const length = len7 < 126 ? len7 : len7 === 126 ? chunk.readUInt16BE(pos + 2) : chunk.readUInt32BE(pos + 6);
    const payload = pos + size;
    if (end - payload < length) break;
    applyMaskWord(chunk, payload, payload + length, chunk.readUInt32LE(payload - 4));
    pos = payload + length;
  }
  return pos;
}
