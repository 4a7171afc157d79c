import { isUtf8 } from 'node:buffer';

/** What {@link StdinLines} passes on. */
export interface LineSink {
  /** One line, without its line end. `utf8`: false when its bytes were not valid UTF-8 (each bad sequence became U+FFFD). */
  line(text: string, utf8: boolean): void;
  /** The input ended (after its last line, also one without a line end). */
  end(): void;
  /** The next line is longer than the limit: reading stopped (nothing more is passed on). */
  overlong?(): void;
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * The lines of piped input (not a terminal). A line ends at LF, or CR LF; a CR anywhere else is
 * part of the line, unlike in `readline`, which ends a line at a lone CR too and so split one
 * message in two. Lines are cut from the bytes, then decoded, so that a line that is not valid
 * UTF-8 can be told apart. Lines already in a chunk are passed on even after pause(); none after
 * close(). A line longer than `maxLineBytes` stops the reading (memory stays bounded: input that
 * never ends a line, such as /dev/zero, would otherwise be held whole).
 */
export class StdinLines {
  /** The bytes of a line not ended yet. */
  private partial: Buffer[] = [];
  private partialBytes = 0;
  private closed = false;
  private readonly onData = (chunk: Buffer): void => this.split(chunk);
  private readonly onEnd = (): void => this.finish();

  constructor(
    private readonly input: NodeJS.ReadableStream,
    private readonly sink: LineSink,
    private readonly maxLineBytes = Infinity,
  ) {
    input.on('data', this.onData);
    input.once('end', this.onEnd);
  }

  pause(): void {
    if (!this.closed) this.input.pause();
  }

  resume(): void {
    if (!this.closed) this.input.resume();
  }

  /** Stops for good: nothing more is passed on, and the input is no longer read. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.partial = [];
    this.partialBytes = 0;
    this.input.removeListener('data', this.onData);
    this.input.removeListener('end', this.onEnd);
    this.input.pause();
  }

  private split(chunk: Buffer): void {
    let start = 0;
    for (let lf = chunk.indexOf(LF); lf !== -1 && !this.closed; lf = chunk.indexOf(LF, start)) {
      const piece = chunk.subarray(start, lf);
      start = lf + 1;
      const bytes = this.partial.length === 0 ? piece : Buffer.concat([...this.partial, piece]);
      this.partial = [];
      this.partialBytes = 0;
      const line = bytes.length !== 0 && bytes[bytes.length - 1] === CR ? bytes.subarray(0, -1) : bytes;
      if (line.length > this.maxLineBytes) return this.overlong();
      this.emit(line);
    }
    if (this.closed || start === chunk.length) return;
    this.partialBytes += chunk.length - start;
    // (A CR LF's CR may be among the bytes held: one byte over is not yet too long.)
    if (this.partialBytes > this.maxLineBytes + 1) return this.overlong();
    // (Copied: the stream may reuse the chunk's memory.)
    this.partial.push(Buffer.from(chunk.subarray(start)));
  }

  private overlong(): void {
    this.close();
    this.sink.overlong?.();
  }

  private finish(): void {
    if (this.closed) return;
    const rest = this.partial.length === 0 ? undefined : Buffer.concat(this.partial);
    this.partial = [];
    this.partialBytes = 0;
    if (rest !== undefined && rest.length > this.maxLineBytes) return this.overlong();
    if (rest !== undefined) this.emit(rest);
    if (this.closed) return;
    this.closed = true;
    this.input.removeListener('data', this.onData);
    this.sink.end();
  }

  private emit(bytes: Buffer): void {
    this.sink.line(bytes.toString('utf8'), isUtf8(bytes));
  }
}
