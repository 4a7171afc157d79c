import { type Socket } from 'node:net';

/**
 * Collects the frames produced during one turn of the event loop and writes them with one system
 * call per socket: everything written while handling one read (or one burst of `send()` calls)
 * leaves in a single `write` (small frames are concatenated) or one `writev` (large ones, by
 * corking), on the next tick.
 */

/** Up to this many pending bytes are copied into one buffer; past it, frames go out by writev. */
const CONCAT_LIMIT = 16 * 1024;

export type WriteCallback = (error?: Error | null) => void;

export class WriteBatcher {
  private readonly socket: Socket;
  private parts: Buffer[] = [];
  private callbacks: WriteCallback[] | null = null;
  private bytes = 0;
  private scheduled = false;

  constructor(socket: Socket) {
    this.socket = socket;
  }

  /** Bytes accepted but not yet handed to the socket. */
  get pendingBytes(): number {
    return this.bytes;
  }

  write(chunk: Buffer, callback?: WriteCallback): void {
    this.parts.push(chunk);
    this.bytes += chunk.length;
    if (callback) (this.callbacks ??= []).push(callback);
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(flushBatch, this);
    }
  }

  /** Hands everything pending to the socket now. */
  flush(): void {
    this.scheduled = false;
    const parts = this.parts;
    if (parts.length === 0) return;
    const callbacks = this.callbacks;
    const bytes = this.bytes;
    this.parts = [];
    this.callbacks = null;
    this.bytes = 0;
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) {
      if (callbacks) {
        const error = new Error('the socket is closed');
        for (const callback of callbacks) callback(error);
      }
      return;
    }
    const done = callbacks === null ? undefined : (error?: Error | null) => {
      for (const callback of callbacks) callback(error);
    };
    if (parts.length === 1) {
      socket.write(parts[0]!, done);
    } else if (bytes <= CONCAT_LIMIT) {
      socket.write(Buffer.concat(parts, bytes), done);
    } else {
      socket.cork();
      const last = parts.length - 1;
      for (let i = 0; i < last; i++) socket.write(parts[i]!);
      socket.write(parts[last]!, done);
      socket.uncork();
    }
  }
}

function flushBatch(batcher: WriteBatcher): void {
  batcher.flush();
}
