import { applyMaskWord } from './mask.js';
import { decodeUtf8 } from './utf8.js';

/**
 * Below this many bytes, masking is a byte loop anyway (see applyMaskWord): the loop also notes
 * whether any byte has its high bit set, and text without one is ASCII, which is valid UTF-8 and
 * decodes byte for byte. Short text then needs neither UTF-8 validation nor the U+FFFD search.
 */
const SHORT_TEXT = 32;

const latin1Slice: (this: Uint8Array, start: number, end: number) => string =
  (Buffer.prototype as unknown as { latin1Slice?: (this: Uint8Array, start: number, end: number) => string }).latin1Slice ??
  function (this: Uint8Array, start: number, end: number): string {
    return Buffer.from(this.buffer, this.byteOffset, this.byteLength).toString('latin1', start, end);
  };

/**
 * Unmasks `bytes[start, end)` in place with `key` (a little-endian word, see applyMaskWord) and
 * decodes it as one complete UTF-8 text. Returns null for invalid UTF-8 (RFC 6455 §8.1).
 */
export function unmaskText(bytes: Uint8Array, start: number, end: number, key: number): string | null {
  if (end - start >= SHORT_TEXT) {
    applyMaskWord(bytes, start, end, key, 0);
    return decodeUtf8(bytes, start, end);
  }
  let high = 0;
  for (let i = start; i < end; i++) {
    const byte = bytes[i]! ^ ((key >>> (((i - start) & 3) << 3)) & 0xff);
    bytes[i] = byte;
    high |= byte;
  }
  return (high & 0x80) === 0 ? latin1Slice.call(bytes, start, end) : decodeUtf8(bytes, start, end);
}
