import { SockwaveError } from '../errors.js';
import { type Socket } from 'node:net';
import { unpinned } from '../protocol/unpinned.js';
import { writeToHandle, type HandleWritable } from './handle-writer.js';
import { LentSocket } from './lent-socket.js';
import { leaseSlab, releaseSlab, type Slab } from './frame-slab.js';

/**
 * Collects the frames produced during one turn of the event loop and writes them with one system
 * call per socket: everything written while handling one read (or one burst of `send()` calls)
 * leaves in a single `write` (small frames are concatenated) or one `writev` (large ones), on the
 * next tick. A plain TCP socket of ours (a LentSocket) is written straight to its handle when
 * nothing waits in its stream and no one waits for the write's completion (see writeToHandle).
 */

/** Up to this many pending bytes are copied into one buffer; past it, frames go out by writev. */
const CONCAT_LIMIT = 16 * 1024;
/**
 * A chunk under this size that views a piece of memory at least twice its size (a frame in a
 * 64 KiB slab, a slice of Node's buffer pool) is copied out before it waits in a socket's queue:
 * a slow reader's backlog then holds its own bytes, not every slab its frames touch.
 */
const PIN_LIMIT = 16 * 1024;

export type WriteCallback = (error?: Error | null) => void;

export class WriteBatcher {
  private readonly socket: Socket;
  /** The socket, when it can be written straight to its handle. */
  private readonly direct: HandleWritable | null;
  /** The pending frames: the first alone (the common case, no array), the rest after it. */
  private first: Buffer | null = null;
  private rest: Buffer[] | null = null;
  private callbacks: WriteCallback[] | null = null;
  /**
   * The pending tail: chunks lying side by side in one piece of memory (frames framed in place in
   * a slab, see frame-slab.ts, or successive broadcasts framed there), kept as the byte range
   * `run[runStart, runEnd)` and made one Buffer only when something else follows or the flush
   * comes. `runWhole` is the chunk itself while the run is a single chunk (no new view needed).
   */
  private run: ArrayBufferLike | null = null;
  private runStart = 0;
  private runEnd = 0;
  private runWhole: Buffer | null = null;
  private bytes = 0;
  /**
   * The slabs whose frames are pending here, leased until the flush (see frame-slab.ts): at most
   * two (frames of one turn that straddle the end of a slab); past that, the older is released as
   * shared, never to be reused.
   */
  private slab: Slab | null = null;
  private slabBefore: Slab | null = null;
  private scheduled = false;
  /** Inside {@link hold}/{@link release}: the flush waits for release(), not for the next tick. */
  private holding = false;

  constructor(socket: Socket) {
    this.socket = socket;
    this.direct = socket instanceof LentSocket ? socket : null;
  }

  /**
   * While the connection handles one read: what is written meanwhile leaves in one write when
   * {@link release} is called at the end of it, with no next-tick callback scheduled.
   */
  hold(): void {
    this.holding = true;
  }

  /** Ends {@link hold}: writes what is pending now. */
  release(): void {
    this.holding = false;
    if (this.first !== null || this.run !== null) this.flush();
  }

  /** Bytes accepted but not yet handed to the socket. */
  get pendingBytes(): number {
    return this.bytes;
  }

  /** Bytes accepted but not yet taken by the operating system: pending here, or waiting in the socket (its stream or its handle). */
  get unsentBytes(): number {
    return this.bytes + this.socket.writableLength + (this.direct?.unsentBytes ?? 0);
  }

  /** Adds `slab.buffer[start, end)` (a frame framed in place, see frame-slab.ts), joining the run it continues. */
  writeSlab(slab: Slab, start: number, end: number): void {
    if (slab !== this.slab) this.lease(slab);
    const memory = slab.buffer;
    this.append(memory.buffer, memory.byteOffset + start, memory.byteOffset + end, null);
    this.bytes += end - start;
    this.schedule();
  }

  /** Leases `slab` until the flush, beside the one leased already. */
  private lease(slab: Slab): void {
    if (slab === this.slabBefore) return;
    if (this.slabBefore !== null) releaseSlab(this.slabBefore, false);
    this.slabBefore = this.slab;
    this.slab = slab;
    leaseSlab(slab);
  }

  /** Adds `memory[start, end)` to the run when it begins where the run ends; else starts a new run. */
  private append(memory: ArrayBufferLike, start: number, end: number, whole: Buffer | null): void {
    if (this.run === memory && this.runEnd === start) {
      this.runEnd = end;
      this.runWhole = null;
    } else {
      if (this.run !== null) this.endRun();
      this.run = memory;
      this.runStart = start;
      this.runEnd = end;
      this.runWhole = whole;
    }
  }

  /** The run becomes one Buffer, in order with the rest. */
  private endRun(): void {
    const slice = this.runWhole ?? Buffer.from(this.run!, this.runStart, this.runEnd - this.runStart);
    this.run = null;
    this.runWhole = null;
    if (this.first === null) this.first = slice;
    else (this.rest ??= []).push(slice);
  }

  /**
   * Adds a chunk. One that starts where the previous one ended in the same memory (a broadcast
   * framed in the slab right after the previous broadcast) joins it: they leave as one view of
   * that memory, not copied together.
   */
  write(chunk: Buffer, callback?: WriteCallback): void {
    this.append(chunk.buffer, chunk.byteOffset, chunk.byteOffset + chunk.length, chunk);
    this.bytes += chunk.length;
    if (callback) (this.callbacks ??= []).push(callback);
    this.schedule();
  }

  /** Makes sure a flush will come: on the next tick, or at release() while held. */
  private schedule(): void {
    if (this.scheduled || this.holding) return;
    this.scheduled = true;
    scheduleFlush(this);
  }

  /** Hands everything pending to the socket now. */
  flush(): void {
    this.scheduled = false;
    if (this.run !== null) this.endRun();
    const first = this.first;
    if (first === null) return;
    const rest = this.rest;
    const callbacks = this.callbacks;
    const bytes = this.bytes;
    // The leases of these frames: taken off the batcher with them, so that frames written during
    // the write below (none today) take leases of their own.
    const slab = this.slab;
    const slabBefore = this.slabBefore;
    this.first = null;
    this.rest = null;
    this.callbacks = null;
    this.bytes = 0;
    this.slab = null;
    this.slabBefore = null;
    const socket = this.socket;
    // Something is already waiting in the socket's queue: what we write now waits behind it.
    const queued = socket.writableLength !== 0 || (this.direct !== null && this.direct.unsentBytes !== 0);
    if (socket.destroyed || socket.writableEnded) {
      // Dropped: nothing will read the frames.
      releaseLeases(slab, slabBefore, true);
      if (callbacks) {
        const error = new SockwaveError('SW_SOCKET_ERROR', 'the socket was closed before the data was sent');
        for (const callback of callbacks) callback(error);
      }
      return;
    }
    if (callbacks === null && this.direct !== null) {
      // No one waits for this write: straight to the handle, if the stream lets us.
      const data = rest === null ? (queued ? unpinned(first, PIN_LIMIT) : first) : bytes <= CONCAT_LIMIT ? concat(first, rest, bytes, queued) : list(first, rest, queued);
      if (writeToHandle(this.direct, data)) {
        // The slabs are free again if nothing waits in the handle: the kernel took every byte.
        // (unsentBytes grows by what the handle's queue grew by: libuv counts there every byte a
        // pending write still reads from our memory.)
        releaseLeases(slab, slabBefore, this.direct.unsentBytes === 0);
        return;
      }
      if (Array.isArray(data)) writeCorked(socket, data);
      else socket.write(data);
      releaseLeases(slab, slabBefore, false);
      return;
    }
    // (Made only when someone waits for the write: flush() itself allocates nothing for it.)
    const completion = callbacks === null ? undefined : new Completion(socket, callbacks);
    const done = completion?.callback;
    if (rest === null) {
      socket.write(queued ? unpinned(first, PIN_LIMIT) : first, done);
    } else if (bytes <= CONCAT_LIMIT) {
      socket.write(concat(first, rest, bytes, queued), done);
    } else {
      writeCorked(socket, list(first, rest, queued), done);
    }
    // The stream may keep the frames until the write completes: the slabs are not reused.
    releaseLeases(slab, slabBefore, false);
    // Nothing was waiting before, and nothing waits now: the kernel took it all (the callback
    // still comes, on the next tick).
    if (completion !== undefined) completion.written = !queued && socket.writableLength === 0;
  }
}

/** The callbacks of one flush, called when its write completes. */
class Completion {
  /** Whether write() handed every byte to the operating system before returning. */
  written = false;
  readonly callback: WriteCallback;

  constructor(socket: Socket, callbacks: readonly WriteCallback[]) {
    this.callback = (error) => {
      // Node reports a write that the socket's destruction cut short as a success (its callback
      // gets null: stream_base_commons onWriteComplete). Unless write() finished it at once, a
      // callback that finds the socket destroyed reports bytes that never left: an error.
      const failure = error ? socketError(error) : !this.written && socket.destroyed ? new SockwaveError('SW_SOCKET_ERROR', 'the socket was closed before the data was sent') : null;
      for (const callback of callbacks) callback(failure);
    };
  }
}

/** Ends the leases of a flush: the kernel took the frames during write() (`written`), or they wait somewhere. */
function releaseLeases(slab: Slab | null, slabBefore: Slab | null, written: boolean): void {
  if (slab !== null) releaseSlab(slab, written);
  if (slabBefore !== null) releaseSlab(slabBefore, written);
}

/** `first` then `rest` in one array (each of its own memory when it will wait in a queue). */
function list(first: Buffer, rest: readonly Buffer[], queued: boolean): Buffer[] {
  const chunks = [queued ? unpinned(first, PIN_LIMIT) : first];
  for (let i = 0; i < rest.length; i++) chunks.push(queued ? unpinned(rest[i]!, PIN_LIMIT) : rest[i]!);
  return chunks;
}

/** Writes the chunks through the stream as one writev (corked), `done` after the last. */
function writeCorked(socket: Socket, chunks: readonly Buffer[], done?: WriteCallback): void {
  socket.cork();
  const last = chunks.length - 1;
  for (let i = 0; i < last; i++) socket.write(chunks[i]!);
  socket.write(chunks[last]!, done);
  socket.uncork();
}

/** `first` then `rest`, copied into one new buffer of `bytes` bytes (of its own memory when it will wait in a queue). */
function concat(first: Buffer, rest: readonly Buffer[], bytes: number, queued: boolean): Buffer {
  const out = queued ? Buffer.allocUnsafeSlow(bytes) : Buffer.allocUnsafe(bytes);
  let at = first.copy(out, 0);
  for (let i = 0; i < rest.length; i++) at += rest[i]!.copy(out, at);
  return out;
}

/**
 * Batchers waiting for the next tick, flushed by one callback for all: a broadcast to 1,000
 * connections schedules one next-tick callback, not 1,000.
 */
let due: WriteBatcher[] = [];
let spare: WriteBatcher[] = [];

function scheduleFlush(batcher: WriteBatcher): void {
  if (due.push(batcher) === 1) process.nextTick(flushDue);
}

function flushDue(): void {
  // Flushing may schedule more (a write callback that sends): the loop takes them too.
  while (due.length !== 0) {
    const list = due;
    due = spare;
    let i = 0;
    try {
      for (; i < list.length; i++) list[i]!.flush();
    } finally {
      // A callback threw (it propagates as before): the batchers after it still get flushed.
      for (let k = i + 1; k < list.length; k++) scheduleFlush(list[k]!);
      list.length = 0;
      spare = list;
    }
  }
}

/** A write's failure as sockwave reports socket errors (Node's error as its cause). */
function socketError(error: Error): SockwaveError {
  return error instanceof SockwaveError ? error : new SockwaveError('SW_SOCKET_ERROR', `the data was not sent: ${error.message}`, { cause: error });
}
