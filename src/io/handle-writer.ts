import { type Socket } from 'node:net';
import { getSystemErrorName } from 'node:util';

/**
 * Writes to a plain TCP socket's native handle, as the socket's own stream would at the end of
 * `socket.write()`, but without the stream around it: no write state, no callback, no tick after
 * every write. For a small write that the kernel takes at once (nearly every write of a WebSocket
 * server) the stream's bookkeeping is about a tenth of the CPU the write costs; a broadcast makes
 * one such write per receiver.
 *
 * It writes only when nothing waits to be sent, neither in the socket's stream nor in the handle,
 * so the bytes keep their order: what the stream writes later goes to the same handle, and the
 * handle (libuv) sends its writes in the order they were made. Bytes the kernel could not take at
 * once wait in the handle; they are counted ({@link HandleWritable.unsentBytes}) until the handle
 * reports them written, and a failed write destroys the socket with the error, as the stream
 * would.
 *
 * This relies on Node internals, used as Node's own socket code uses them (the handle's
 * `writeBuffer` and `writev`, its `writeQueueSize`, the stream's `_writableState`, and the request
 * object Node makes for each write); when they are not as expected it declines, and the caller
 * writes through the stream.
 */

/** The native stream handle's write methods, as Node's own socket code calls them. */
interface StreamHandle {
  writeBuffer(request: WriteRequest, data: Buffer): number;
  writev(request: WriteRequest, chunks: Buffer[], allBuffers: boolean): number;
  readonly writeQueueSize: number;
}

/** Node's write request (an internal class): the handle reports the write's end to `oncomplete`. */
interface WriteRequest {
  handle: StreamHandle;
  oncomplete: (this: WriteRequest, status: number) => void;
  async: boolean;
  bytes: number;
  buffer: Buffer | Buffer[] | null;
  /** Ours: the socket and how many of the bytes waited in the handle. */
  socket: HandleWritable;
  waiting: number;
}

type WriteRequestClass = new () => WriteRequest;

/** What this module reads of a socket beyond its public API (Node's own fields, read as Node's socket code reads them). */
interface SocketInternals {
  _handle: StreamHandle | null;
  _writableState: { length: number; corked: number; ending: boolean; destroyed: boolean; writing: boolean; errored: Error | null };
}

/** A socket this module can write for: it counts what waits in its handle. */
export interface HandleWritable extends Socket {
  /** Bytes written to the handle directly that the kernel has not taken yet. */
  unsentBytes: number;
}

/**
 * Node's write request class, learnt from the first write a socket's stream makes (see
 * {@link learnRequestClass}); null once learning failed: every write then goes through the stream.
 */
let RequestClass: WriteRequestClass | null | undefined;

/**
 * Writes `data` (a buffer, or buffers written together in order) to the socket's handle. Returns
 * false, having written nothing, when that is not possible now: the caller then writes it
 * through the stream (`socket.write`).
 */
export function writeToHandle(socket: HandleWritable, data: Buffer | Buffer[]): boolean {
  const internal = socket as unknown as SocketInternals;
  const state = internal._writableState;
  // The stream has bytes of its own in flight or queued (or is corked, ending, failed, closed, or
  // still connecting): these wait behind them, in the stream. So do they when bytes written here
  // still wait in the handle: the stream then holds what follows until the handle is done and
  // writes it all at once, where writes straight to the handle would each be one more write
  // request, and one more system call, while the peer reads slowly.
  if (socket.unsentBytes !== 0 || state.length !== 0 || state.writing || state.corked !== 0 || state.ending || state.errored !== null || state.destroyed || socket.connecting) return false;
  const handle = internal._handle;
  if (handle === null) return false;
  const Request = RequestClass ?? (RequestClass === undefined ? learnRequestClass(socket, handle) : null);
  // (Learning wrote an empty buffer through the stream; it must have left nothing behind.)
  if (Request === null || state.length !== 0) return false;
  const request = new Request();
  request.handle = handle;
  request.oncomplete = onWriteComplete;
  request.async = false;
  request.bytes = 0;
  request.buffer = data;
  request.socket = socket;
  request.waiting = 0;
  const before = handle.writeQueueSize;
  const status = Array.isArray(data) ? handle.writev(request, data, true) : handle.writeBuffer(request, data);
  if (status !== 0) {
    socket.destroy(writeError(status));
    return true;
  }
  // What the kernel did not take waits in the handle.
  // (writeQueueSize is a 32-bit count: the difference taken modulo 2^32.)
  request.waiting = (handle.writeQueueSize - before) >>> 0;
  socket.unsentBytes += request.waiting;
  // A socket timeout counts a write as activity, as the stream's write does.
  if (socket.timeout) (socket as unknown as { _unrefTimer(): void })._unrefTimer();
  return true;
}

/** The handle finished a write that had to wait (or reports its failure). */
function onWriteComplete(this: WriteRequest, status: number): void {
  const socket = this.socket;
  socket.unsentBytes -= this.waiting;
  this.buffer = null;
  if (status < 0 && !socket.destroyed) socket.destroy(writeError(status));
}

function writeError(status: number): NodeJS.ErrnoException {
  const code = errorName(status);
  const error: NodeJS.ErrnoException = new Error(`write ${code}`);
  error.errno = status;
  error.code = code;
  error.syscall = 'write';
  return error;
}

function errorName(status: number): string {
  try {
    return getSystemErrorName(status);
  } catch {
    return `error ${status}`;
  }
}

/**
 * Learns Node's write request class from a write the stream makes: writes one empty buffer
 * through the stream while watching the handle's `writeBuffer`. The stream has nothing in flight
 * (see writeToHandle), so it writes at once, and an empty write sends nothing. Null when the
 * socket or handle is not as expected (then for good), or the handle is being watched already.
 */
function learnRequestClass(socket: Socket, handle: StreamHandle): WriteRequestClass | null {
  // A handle whose writeBuffer someone else wraps (a test's spy): not now, maybe with another socket.
  if (Object.hasOwn(handle, 'writeBuffer')) return null;
  const state = (socket as unknown as Partial<SocketInternals>)._writableState;
  const expected = typeof state === 'object' && state !== null && typeof state.length === 'number' && typeof state.corked === 'number' && typeof state.ending === 'boolean' && typeof state.writing === 'boolean' && state.errored !== undefined;
  if (!expected || typeof handle.writeBuffer !== 'function' || typeof handle.writev !== 'function' || typeof handle.writeQueueSize !== 'number') {
    RequestClass = null;
    return null;
  }
  const writeBuffer = handle.writeBuffer;
  let seen: WriteRequestClass | null = null;
  handle.writeBuffer = function (this: StreamHandle, request: WriteRequest, data: Buffer): number {
    const constructor: unknown = request?.constructor;
    if (typeof constructor === 'function' && constructor !== Object) seen = constructor as WriteRequestClass;
    return writeBuffer.call(this, request, data);
  };
  try {
    socket.write(EMPTY);
  } finally {
    delete (handle as Partial<StreamHandle>).writeBuffer;
  }
  if (seen === null && (state.length !== 0 || state.writing || state.errored !== null || state.destroyed)) {
    // The stream kept the probe (or failed meanwhile) instead of writing it: try another time.
    return null;
  }
  // Never seen although the stream wrote: this Node writes otherwise; every write goes through the stream from now on.
  RequestClass = seen;
  return seen;
}

const EMPTY = Buffer.alloc(0);
