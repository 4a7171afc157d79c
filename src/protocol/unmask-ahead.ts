import { applyMaskWord } from './mask.js';

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
    if ((b1 & 0x80) === 0) break;
    let length = b1 & 0x7f;
    let p = pos + 2;
    if (length === 126) {
      if (end - p < 2) break;
      length = chunk.readUInt16BE(p);
      p += 2;
    } else if (length === 127) {
      // A length past 4 GiB can never be whole in a chunk.
      if (end - p < 8 || chunk.readUInt32BE(p) !== 0) break;
      length = chunk.readUInt32BE(p + 4);
      p += 8;
    }
    if (end - p - 4 < length) break;
    applyMaskWord(chunk, p + 4, p + 4 + length, chunk.readUInt32LE(p));
    pos = p + 4 + length;
  }
  return pos;
}
