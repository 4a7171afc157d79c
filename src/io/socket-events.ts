import { type OnReadOpts, type Socket } from 'node:net';

/** What a connection does with its socket's events. */
export interface SocketEventsTarget {
  /** @internal */ received(chunk: Buffer): void;
  /** @internal */ socketEnded(): void;
  /** @internal */ socketClosed(): void;
  /** @internal */ socketErrored(error: Error): void;
  /** @internal */ socketDrained(): void;
}

const kTarget = Symbol('sockwave.connection');
const kLends = Symbol('sockwave.lendsReads');
type BoundSocket = Socket & { [kTarget]?: SocketEventsTarget; [kLends]?: true };

/**
 * Routes a socket's events to its connection through listeners shared by every socket (no
 * closures per connection): the socket carries its connection under a symbol.
 */
export function bindSocket(socket: Socket, target: SocketEventsTarget): void {
  const bound = socket as BoundSocket;
  bound[kTarget] = target;
  bound.on('data', onData);
  takeOverEnd(bound);
  bound.on('close', onClose);
  bound.on('error', onError);
  bound.on('drain', onDrain);
}

/**
 * Listens to 'end'. Node gives every socket an 'end' listener that only matters without
 * `allowHalfOpen` (it makes later writes fail); a connection sets `allowHalfOpen` first, so that
 * listener does nothing, and ours replaces it rather than joining it: one listener is a function,
 * two are an array (about 64 bytes per idle connection).
 */
function takeOverEnd(socket: BoundSocket): void {
  const existing = socket.listeners('end');
  if (socket.allowHalfOpen && existing.length === 1 && existing[0]!.name === 'onReadableStreamEnd') {
    socket.removeListener('end', existing[0] as () => void);
  }
  socket.on('end', onEnd);
}

function onData(this: BoundSocket, chunk: Buffer): void {
  this[kTarget]!.received(chunk);
}
function onEnd(this: BoundSocket): void {
  this[kTarget]!.socketEnded();
}
function onClose(this: BoundSocket): void {
  this[kTarget]!.socketClosed();
}
function onError(this: BoundSocket, error: Error): void {
  this[kTarget]!.socketErrored(error);
}
function onDrain(this: BoundSocket): void {
  this[kTarget]!.socketDrained();
}

/** As much as Node reads from a socket at once. */
const SHARED_READ_SIZE = 64 * 1024;
let sharedRead: OnReadOpts | undefined;

/**
 * The `onread` option that makes a client socket read into one buffer shared by every such
 * socket (mark the socket with {@link lendReads}). Node then reads straight into it and calls us,
 * instead of allocating a buffer per read and pushing it through the socket's stream: about half
 * the CPU per 64 KiB read. Sharing is safe because a read's callback runs to its end before the
 * next read into the buffer starts, and what it is given is lent: a connection's parser copies
 * whatever it keeps (`lentChunks`). Server sockets are made by Node, which offers no such option.
 */
export function sharedReadOption(): OnReadOpts {
  return (sharedRead ??= { buffer: Buffer.allocUnsafeSlow(SHARED_READ_SIZE), callback: onSharedRead as OnReadOpts['callback'] });
}

/** Marks a socket made with {@link sharedReadOption}. */
export function lendReads(socket: Socket): void {
  (socket as BoundSocket)[kLends] = true;
}

/** True if what the socket reads is lent (see {@link sharedReadOption}). */
export function lendsReads(socket: Socket): boolean {
  return (socket as BoundSocket)[kLends] === true;
}

/** Node calls it with the socket as `this`; true goes on reading (a connection pauses the socket itself). */
function onSharedRead(this: BoundSocket, length: number, buffer: Uint8Array): boolean {
  const target = this[kTarget];
  const bytes = buffer as Buffer;
  if (target !== undefined) target.received(length === bytes.length ? bytes : bytes.subarray(0, length));
  // Before a connection takes the socket (the handshake), listeners get a copy of their own.
  else this.emit('data', Buffer.from(bytes.subarray(0, length)));
  return true;
}
