import { isUtf8 } from 'node:buffer';

/**
 * Incremental, fail-fast UTF-8 validator (RFC 3629, as RFC 6455 §8.1 requires).
 *
 * Text arrives in pieces (TCP chunks, fragments); a code point may be split anywhere. Each piece is
 * validated as soon as it arrives with Node's native `isUtf8` (simdutf), except for an incomplete
 * sequence of at most 3 bytes at its end, which is checked as a *prefix* (so `F4 90` or `ED A0`
 * fail at once, before the rest arrives) and carried over to the next piece.
 */
export class Utf8Validator {
  /** The carried, incomplete sequence (≤ 3 bytes) and its expected total length. */
  private carry: Buffer | null = null;
  private carryLength = 0;
  private carryNeed = 0;

  /** True while an incomplete code point waits for more bytes. */
  get pending(): boolean {
    return this.carryLength !== 0;
  }

  reset(): void {
    this.carryLength = 0;
    this.carryNeed = 0;
  }

  /** Validates `bytes[start, end)`. Returns false as soon as the stream can no longer be valid. */
  push(bytes: Uint8Array, start = 0, end = bytes.length): boolean {
    if (this.carryLength !== 0) {
      // Complete the carried code point byte by byte (at most 3 bytes: bounded work).
      const carry = this.carry!;
      while (this.carryLength < this.carryNeed && start < end) {
        carry[this.carryLength++] = bytes[start++]!;
      }
      if (!isValidPrefix(carry, 0, this.carryLength)) return false;
      if (this.carryLength < this.carryNeed) return true;
      this.carryLength = 0;
      this.carryNeed = 0;
    }
    if (start >= end) return true;
    // Find an incomplete sequence at the end: its lead byte is among the last 3 bytes.
    let lead = end - 1;
    const stop = Math.max(start, end - 3);
    while (lead > stop && (bytes[lead]! & 0xc0) === 0x80) lead--;
    const need = sequenceLength(bytes[lead]!);
    let completeEnd = end;
    if (need > end - lead) completeEnd = lead;
    if (completeEnd > start) {
      const whole = start === 0 && completeEnd === bytes.length ? bytes : bytes.subarray(start, completeEnd);
      if (!isUtf8(whole)) return false;
    }
    if (completeEnd === end) return true;
    if (!isValidPrefix(bytes, lead, end)) return false;
    this.carryNeed = need;
    const carry = (this.carry ??= Buffer.alloc(4));
    for (let i = lead; i < end; i++) carry[this.carryLength++] = bytes[i]!;
    return true;
  }

  /** Ends the current text: false if an incomplete code point remains. Resets the validator. */
  finish(): boolean {
    const ok = this.carryLength === 0;
    this.reset();
    return ok;
  }
}

type Utf8Slice = (this: Uint8Array, start: number, end: number) => string;
/**
 * Node's own decoder, reached without `toString`'s argument handling (`buf.toString('utf8', a, b)`
 * looks the encoding up on every call). Falls back to `toString` where the method is missing.
 */
const utf8Slice: Utf8Slice =
  (Buffer.prototype as unknown as { utf8Slice?: Utf8Slice }).utf8Slice ??
  function (this: Uint8Array, start: number, end: number): string {
    return Buffer.from(this.buffer, this.byteOffset, this.byteLength).toString('utf8', start, end);
  };

/**
 * Decodes `bytes[start, end)` as one complete UTF-8 text, validating it in the same pass: the
 * decoder (WHATWG) turns every invalid sequence into U+FFFD, so text without U+FFFD was valid and
 * only text containing one is checked again. Returns null for invalid UTF-8 (RFC 6455 §8.1).
 */
export function decodeUtf8(bytes: Uint8Array, start: number, end: number): string | null {
  const text = utf8Slice.call(bytes, start, end);
  if (text.indexOf('\uFFFD') !== -1 && !isUtf8(bytes.subarray(start, end))) return null;
  return text;
}

type Utf8Write = (this: Uint8Array, text: string, offset: number, length: number) => number;
const utf8Write: Utf8Write =
  (Buffer.prototype as unknown as { utf8Write?: Utf8Write }).utf8Write ??
  function (this: Uint8Array, text: string, offset: number, length: number): number {
    return Buffer.from(this.buffer, this.byteOffset, this.byteLength).write(text, offset, length, 'utf8');
  };

/**
 * Encodes `text` as UTF-8 into `target` from `offset`, writing whole characters only, and returns
 * the bytes written (like `buf.write(text, offset, 'utf8')`, without its argument handling).
 */
export function encodeUtf8Into(target: Uint8Array, text: string, offset: number): number {
  return utf8Write.call(target, text, offset, target.length - offset);
}

/** Validates one complete piece of text. */
export function isValidUtf8(bytes: Uint8Array): boolean {
  return isUtf8(bytes);
}

/** Length of the sequence a lead byte starts (2–4), or 0 for ASCII, continuation or invalid bytes. */
function sequenceLength(lead: number): number {
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

/**
 * Whether `bytes[start, end)` (1–3 bytes, starting at a lead byte) can still become a valid code
 * point. RFC 3629 §4: the second byte's range depends on the lead byte, which excludes overlong
 * forms (E0 80, F0 80), surrogates (ED A0–BF) and code points past U+10FFFF (F4 90, F5+).
 */
function isValidPrefix(bytes: Uint8Array, start: number, end: number): boolean {
  const lead = bytes[start]!;
  if (sequenceLength(lead) === 0) return false;
  if (end - start < 2) return true;
  const second = bytes[start + 1]!;
  let lo = 0x80;
  let hi = 0xbf;
  if (lead === 0xe0) lo = 0xa0;
  else if (lead === 0xed) hi = 0x9f;
  else if (lead === 0xf0) lo = 0x90;
  else if (lead === 0xf4) hi = 0x8f;
  if (second < lo || second > hi) return false;
  for (let i = start + 2; i < end; i++) if ((bytes[i]! & 0xc0) !== 0x80) return false;
  return true;
}
