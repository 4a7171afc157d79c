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
 * object of each write); when they are not as expected it declines, and the caller writes through
 * the stream. Node has two ways of calling the handle, and which one this Node uses is learnt
 * from the first write a socket's stream makes (see {@link learnWriteStyle}):
 * - up to Node 25, the caller makes a request of Node's class and passes it; the handle returns a
 *   status, and the request hears of the write's end if bytes had to wait;
 * - from Node 26, the caller passes null; the handle returns a status when the write is done (the
 *   kernel took it all, or it failed), or else the request it made for the bytes that wait.
 *   (Node's stream then also reads a failure the handle may report alongside a request, from a
 *   table of Node's internal bindings that this module does not reach into. For a TCP socket that
 *   is uv_write() failing on a handle closed or shut down for writing, which the checks below rule
 *   out before writing, or libuv failing to allocate its list for a writev of more than four
 *   buffers: out of memory, where such a write would be lost unreported.)
 */

/**
 * The native stream handle's write methods, as Node's own socket code calls them: with a request
 * it made (up to Node 25: a status comes back), or with null (from Node 26: a status, or the
 * request the handle made when bytes wait).
 */
interface StreamHandle {
  writeBuffer(request: WriteRequest | null, data: Buffer): number | WriteRequest;
  writev(request: WriteRequest | null, chunks: Buffer[], allBuffers: boolean): number | WriteRequest;
  readonly writeQueueSize: number;
}

/** Node's write request (an internal class): the handle reports the write's end to `oncomplete`. */
interface WriteRequest {
  handle: StreamHandle;
  oncomplete: (this: WriteRequest, status: number) => void;
  async: boolean;
  buffer: Buffer | Buffer[] | null;
  /** From Node 26: the status of a write that ended before the handle returned its request (else null). */
  writeStatus?: number | null;
  /** Ours: the socket and how many of the bytes waited in the handle. */
  socket: HandleWritable;
  waiting: number;
}

type WriteRequestClass = new () => WriteRequest;

/** How this Node's handles take a write: with a request of this class (up to Node 25), or with none (`'native'`, from Node 26). */
type WriteStyle = WriteRequestClass | 'native';

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
 * How this Node's handles take a write, learnt from the first write a socket's stream makes (see
 * {@link learnWriteStyle}); null once learning failed: every write then goes through the stream.
 */
let style: WriteStyle | null | undefined;

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
  if (!idle(socket, state)) return false;
  const handle = internal._handle;
  if (handle === null) return false;
  let how = style;
  if (how === undefined) {
    how = learnWriteStyle(socket, handle);
    // Learning wrote an empty buffer through the stream: it must have left the stream as it was
    // (not failed, say, with the peer gone).
    if (!idle(socket, state) || internal._handle !== handle) return false;
  }
  if (how === null) return false;
  const before = handle.writeQueueSize;
  let request: WriteRequest | null = null;
  let result: number | WriteRequest;
  if (how === 'native') {
    result = Array.isArray(data) ? handle.writev(null, data, true) : handle.writeBuffer(null, data);
    if (typeof result === 'object' && result !== null) request = prepare(result, handle, socket, data);
  } else {
    request = prepare(new how(), handle, socket, data);
    request.async = false;
    result = Array.isArray(data) ? handle.writev(request, data, true) : handle.writeBuffer(request, data);
  }
  // A status other than 0, or neither a status nor (from Node 26) a request: the write failed.
  if (typeof result === 'number' ? result !== 0 : request === null) {
    socket.destroy(typeof result === 'number' ? writeError(result) : unexpected(result));
    return true;
  }
  if (request !== null) {
    // What the kernel did not take waits in the handle.
    // (writeQueueSize is a 32-bit count: the difference taken modulo 2^32.)
    request.waiting = (handle.writeQueueSize - before) >>> 0;
    socket.unsentBytes += request.waiting;
    // From Node 26, a write that ended before the handle returned its request left its status there.
    const status = how === 'native' ? request.writeStatus : null;
    if (typeof status === 'number') {
      request.writeStatus = null;
      request.oncomplete(status);
    }
  }
  // A socket timeout counts a write as activity, as the stream's write does.
  if (socket.timeout) (socket as unknown as { _unrefTimer(): void })._unrefTimer();
  return true;
}

/** Fills in a write request: whom to tell when the write ends, and the memory to keep until then. */
function prepare(request: WriteRequest, handle: StreamHandle, socket: HandleWritable, data: Buffer | Buffer[]): WriteRequest {
  request.handle = handle;
  request.oncomplete = onWriteComplete;
  // (Kept until the write ends: the handle reads from this memory meanwhile.)
  request.buffer = data;
  request.socket = socket;
  request.waiting = 0;
  return request;
}

/** The handle finished a write that had to wait (or reports its failure). */
function onWriteComplete(this: WriteRequest, status: number): void {
  const socket = this.socket;
  socket.unsentBytes -= this.waiting;
  this.buffer = null;
  if (status < 0 && !socket.destroyed) socket.destroy(writeError(status));
}

/** Whether the stream has nothing of its own in flight or queued, and is open for writing. */
function idle(socket: HandleWritable, state: SocketInternals['_writableState']): boolean {
  return socket.unsentBytes === 0 && state.length === 0 && !state.writing && state.corked === 0 && !state.ending && state.errored === null && !state.destroyed && !socket.connecting;
}

function unexpected(result: unknown): Error {
  const error: NodeJS.ErrnoException = new Error(`write: the socket's handle answered ${typeof result} instead of a status`);
  error.syscall = 'write';
  return error;
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
 * Learns how this Node calls a handle's `writeBuffer` from a write the stream makes: writes one
 * empty buffer through the stream while watching it. The stream has nothing in flight (see
 * writeToHandle), so it writes at once, and an empty write sends nothing. Node's write request
 * class when the stream passes a request, `'native'` when it passes null (and a status comes
 * back). Null when the socket or handle is not as expected (then for good), or the handle is
 * being watched already.
 */
function learnWriteStyle(socket: Socket, handle: StreamHandle): WriteStyle | null {
  // A handle whose writeBuffer someone else wraps (a test's spy): not now, maybe with another socket.
  if (Object.hasOwn(handle, 'writeBuffer')) return null;
  const state = (socket as unknown as Partial<SocketInternals>)._writableState;
  const expected = typeof state === 'object' && state !== null && typeof state.length === 'number' && typeof state.corked === 'number' && typeof state.ending === 'boolean' && typeof state.writing === 'boolean' && state.errored !== undefined;
  if (!expected || typeof handle.writeBuffer !== 'function' || typeof handle.writev !== 'function' || typeof handle.writeQueueSize !== 'number') {
    style = null;
    return null;
  }
  const writeBuffer = handle.writeBuffer;
  let seen: WriteStyle | null = null;
  handle.writeBuffer = function (this: StreamHandle, request: WriteRequest | null, data: Buffer): number | WriteRequest {
    const result = writeBuffer.call(this, request, data);
    const constructor: unknown = request?.constructor;
    if (request === null) {
      // The handle makes the request when it needs one: a status or a request comes back.
      if (typeof result === 'number' || (typeof result === 'object' && result !== null)) seen = 'native';
    } else if (typeof constructor === 'function' && constructor !== Object && typeof result === 'number') {
      seen = constructor as WriteRequestClass;
    }
    return result;
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
  style = seen;
  return seen;
}

const EMPTY = Buffer.alloc(0);
