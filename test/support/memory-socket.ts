/**
 * An in-memory socket pair that stands in for two ends of a TCP connection, for deterministic
 * fault tests: what one end writes the other reads, with a bounded "kernel buffer" (a writer whose
 * peer does not read sees its writes back up), half-close (end) and reset (destroy). Each end has
 * the parts of `net.Socket` that sockwave uses, so a server end can be given to
 * `WebSocketServer.acceptSocket()`.
 */
import { Duplex } from 'node:stream';
import { type Socket } from 'node:net';

/** Bytes an end holds unread before its peer's writes stop completing (a kernel buffer). */
export const BUFFER_BYTES = 64 * 1024;

export class MemorySocket extends Duplex {
  peer!: MemorySocket;
  remoteAddress: string;
  remotePort: number;
  /** Writes waiting for this end to read (the peer's bytes in flight). */
  private readonly waiting: Array<() => void> = [];
  /** When set, bytes written are dropped on the floor (a black hole: the path is gone). */
  blackholed = false;

  constructor(remoteAddress: string, remotePort: number) {
    super({ allowHalfOpen: true, readableHighWaterMark: BUFFER_BYTES, writableHighWaterMark: 16 * 1024 });
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
  }

  // The net.Socket knobs sockwave turns; they mean nothing in memory.
  setNoDelay(): this {
    return this;
  }
  setTimeout(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const peer = this.peer;
    if (this.blackholed || peer.destroyed) return callback();
    // The peer's buffer is full: the write completes only once the peer reads.
    if (!peer.push(Buffer.from(chunk))) peer.waiting.push(() => callback());
    else callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.blackholed && !this.peer.destroyed) this.peer.push(null);
    callback();
  }

  override _read(): void {
    const waiting = this.waiting.splice(0);
    for (const resume of waiting) resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // A reset: the peer learns at once, unless the path is a black hole.
    const peer = this.peer;
    if (!this.blackholed && !peer.destroyed) {
      const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
      queueMicrotask(() => peer.destroy(reset));
    }
    callback(error);
  }
}

/** A connected pair: `client` and `server` ends, each the other's peer. */
export function socketPair(clientAddress = '10.0.0.1', clientPort = 50_000): { client: MemorySocket; server: MemorySocket } {
  const client = new MemorySocket('10.0.0.2', 443);
  const server = new MemorySocket(clientAddress, clientPort);
  client.peer = server;
  server.peer = client;
  return { client, server };
}

/** The server end typed as the `net.Socket` the server API expects. */
export function asSocket(end: MemorySocket): Socket {
  return end as unknown as Socket;
}
