import { type Socket } from 'node:net';
import { kTarget, LentSocket } from './lent-socket.js';

/** What a connection does with its socket's events. */
export interface SocketEventsTarget {
  /** @internal `socket` is the one the bytes came from (a target may serve more than one). */ received(chunk: Buffer, socket: Socket): void;
  /** @internal */ socketEnded(): void;
  /** @internal */ socketClosed(): void;
  /** @internal */ socketErrored(error: Error): void;
  /** @internal */ socketDrained(): void;
}

type BoundSocket = Socket & { [kTarget]?: SocketEventsTarget };

/** True if what the socket reads is lent (see LentSocket): its connection's parser must copy what it keeps. */
export function lendsReads(socket: Socket): boolean {
  return socket instanceof LentSocket;
}

/**
 * Routes a socket's events to its connection through listeners shared by every socket (no
 * closures per connection): the socket carries its connection under a symbol.
 */
export function bindSocket(socket: Socket, target: SocketEventsTarget): void {
  const bound = socket as BoundSocket;
  // (A lent socket's reads come to its target straight from the shared buffer, not as 'data'.)
  bound[kTarget] = target;
  if (!(socket instanceof LentSocket)) bound.on('data', onData);
  takeOverEnd(bound);
  bound.on('close', onClose);
  bound.on('error', onError);
  bound.on('drain', onDrain);
}

/**
 * The socket's 'end' went by before `bindSocket` (a late handleUpgrade(), or the FIN of a lent
 * socket, which a paused LentSocket reports at once): tells its connection as 'end' would have,
 * after any bytes the socket still holds.
 */
export function endedBeforeBinding(socket: Socket): void {
  onEnd.call(socket as BoundSocket);
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
  this[kTarget]!.received(chunk, this);
}
function onEnd(this: BoundSocket): void {
  if (this instanceof LentSocket && this.holdEnd()) return;
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
