import { type Socket } from 'node:net';
import { type LimitGuard } from './limit-guard.js';

/**
 * The sockets a server has taken, before and after they become connections: each is counted under
 * its remote address from arrival to close (`maxConnectionsPerAddress`), and those still in their
 * handshake are kept for `close()` to drop. One close listener function serves every socket, so a
 * socket carries no closure of its own for this bookkeeping, and no property: the address it was
 * counted under is kept here. Once the socket is a connection, the connection's close releases it.
 */
export class SocketTracker {
  private readonly handshaking = new Set<Socket>();
  /** Counted sockets not yet handed over to a connection, and the address each was counted under. */
  private readonly counted = new Map<Socket, string>();
  private readonly onClose: (this: Socket) => void;

  constructor(private readonly guard: LimitGuard) {
    const tracker = this;
    this.onClose = function (this: Socket) {
      tracker.closed(this);
    };
  }

  /** Counts `socket` under its address until it closes; false (nothing counted) when the address already has `max`. */
  count(socket: Socket, max: number): boolean {
    const address = socket.remoteAddress ?? '';
    if (!this.guard.track(address, max)) return false;
    this.counted.set(socket, address);
    socket.on('close', this.onClose);
    return true;
  }

  /** `socket` is reading its upgrade request: `dropHandshakes()` ends it. */
  handshakeStarted(socket: Socket): void {
    this.handshaking.add(socket);
  }

  /** `socket` was refused (it stays counted until it closes). */
  handshakeEnded(socket: Socket): void {
    this.handshaking.delete(socket);
  }

  /**
   * `to` carries on for `from` (a TLS socket, for the TCP socket under it, counted on arrival):
   * counted under the same address, and in its handshake if `from` was. False when `from` is not
   * counted (it closed meanwhile).
   */
  transfer(from: Socket, to: Socket): boolean {
    const address = this.counted.get(from);
    if (address === undefined) return false;
    this.counted.delete(from);
    from.removeListener('close', this.onClose);
    this.counted.set(to, address);
    to.on('close', this.onClose);
    if (this.handshaking.delete(from)) this.handshaking.add(to);
    return true;
  }

  /**
   * `socket` became a connection, which reports `address` as its peer's: from now on its
   * connection's close releases its count under that address, through {@link release}, and the
   * socket carries one close listener (the connection's), not two.
   */
  handOver(socket: Socket, address: string): void {
    this.handshaking.delete(socket);
    const counted = this.counted.get(socket);
    if (counted === undefined) return;
    this.counted.delete(socket);
    socket.removeListener('close', this.onClose);
    // The same string, read from the same socket (re-counted in the unlikely case the socket's
    // address changed meanwhile).
    if (address !== counted) {
      this.guard.release(counted);
      this.guard.track(address, Infinity);
    }
  }

  /** A connection handed over by {@link handOver} closed. */
  release(address: string): void {
    this.guard.release(address);
  }

  /** Destroys every socket still in its handshake (the server is closing). */
  dropHandshakes(): void {
    for (const socket of this.handshaking) socket.destroy();
  }

  private closed(socket: Socket): void {
    this.handshaking.delete(socket);
    const address = this.counted.get(socket);
    if (address === undefined) return;
    this.counted.delete(socket);
    this.guard.release(address);
  }
}
