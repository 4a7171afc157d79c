/**
 * The plaintext window of a context-takeover direction: the last 2^bits bytes that went through
 * it, used as the next message's preset dictionary. Kept in a buffer of twice the window, so an
 * append costs the message's length, not the window's (the window moves to the front only when
 * the buffer is full). Allocated on the first append.
 */
export class SlidingWindow {
  private buffer: Buffer | null = null;
  private start = 0;
  private end = 0;
  private readonly size: number;

  constructor(bits: number) {
    this.size = 1 << bits;
  }

  /** The window's bytes (a view, valid until the next append), or undefined while empty. */
  get bytes(): Buffer | undefined {
    return this.end === this.start ? undefined : this.buffer!.subarray(this.start, this.end);
  }

  append(data: Uint8Array): void {
    const size = this.size;
    if (data.length >= size) {
      this.buffer ??= Buffer.allocUnsafe(2 * size);
      this.buffer.set(data.subarray(data.length - size));
      this.start = 0;
      this.end = size;
      return;
    }
    if (data.length === 0) return;
    const buffer = (this.buffer ??= Buffer.allocUnsafe(2 * size));
    if (this.end + data.length > buffer.length) {
      // Full: keep the bytes that stay in the window, at the front.
      const keep = Math.min(this.end - this.start, size - data.length);
      buffer.copy(buffer, 0, this.end - keep, this.end);
      this.start = 0;
      this.end = keep;
    }
    buffer.set(data, this.end);
    this.end += data.length;
    if (this.end - this.start > size) this.start = this.end - size;
  }
}
