import { Socket, type OnReadOpts, type SocketConstructorOpts } from 'node:net';
import { type SocketEventsTarget } from './socket-events.js';
import { type HandleWritable } from './handle-writer.js';
import { simdReadBuffer } from '../protocol/mask-simd.js';

/** As much as Node reads from a socket at once. */
const SHARED_READ_SIZE = 64 * 1024;
/** What a paused socket keeps reading before it stops, as a socket's stream buffers (Node's default high-water mark). */
const HOLD_LIMIT = 16 * 1024;
/** The shared buffer and the callback Node reads into it with: one object for every lent socket. */
let sharedOnRead: OnReadOpts | undefined;

/**
 * Where a socket carries the connection its events go to (see bindSocket): a lent socket reads it
 * from there too, rather than keeping a field of its own. Before a connection takes a lent socket,
 * the server's request-head reader may sit there: it gets the bytes as read, valid only during the
 * call (it copies what it keeps), instead of the copy 'data' listeners get, and the socket carries
 * no listener (an event name a socket once listened to stays among its events, in shape mode).
 */
export const kTarget = Symbol('sockwave.connection');
type TargetSlot = { [kTarget]?: SocketEventsTarget };

/** The native handle of an accepted TCP connection: opaque, only handed from Node's listener to a socket. */
export type AcceptedHandle = object;

/**
 * A socket that reads into one buffer shared by every such socket (Node's `onread`
 * option): Node reads straight into it and calls {@link LentSocket.lentRead}, instead of
 * allocating a buffer per read and pushing it through the socket's stream, about half the CPU
 * per 64 KiB read. Sharing is safe because a read's callback runs to its end before the next read
 * into the buffer starts, and what it is given is lent: a connection's parser copies whatever it
 * keeps (`lentChunks`). Node makes a server's sockets itself and offers no such option for them:
 * see acceptLentSockets for how the standalone server's plain TCP sockets become LentSockets.
 *
 * Its writes may skip the stream too (see writeToHandle, which the connection's WriteBatcher uses).
 *
 * Pausing keeps what a stream keeps: a paused stream goes on reading into its buffer up to its
 * high-water mark, so the peer's FIN or reset is still seen; Node's `onread` socket would stop
 * reading at once. Here `pause()` holds copies of what arrives, up to {@link HOLD_LIMIT}, and
 * `resume()` delivers them first, on a later tick as a stream does; the peer's FIN waits behind
 * them, as a stream's 'end' waits for its buffered data.
 */
export class LentSocket extends Socket implements HandleWritable {
  /** What is held while paused; none for a socket never paused (one field, not five, per socket). */
  private hold: Hold | null = null;
  /** @internal Bytes written straight to the handle (see writeToHandle) that wait in it. */
  unsentBytes = 0;

  /**
   * A socket to connect, or, given `accepted` (the handle of a TCP connection a listener accepted,
   * see acceptLentSockets), the server's side of that connection, half-open allowed, reading at
   * once.
   */
  constructor(accepted?: AcceptedHandle) {
    // (`net.connect()` hands its `onread` option to the socket's constructor, as here, and so does
    // Node's listener with `handle`; the types list neither option here.)
    // The SIMD module's read buffer where there is one: frames read into it are unmasked where
    // they lie, without a copy (see simdMaskInPlace).
    const onread = (sharedOnRead ??= { buffer: simdReadBuffer() ?? Buffer.allocUnsafeSlow(SHARED_READ_SIZE), callback: onSharedRead as OnReadOpts['callback'] });
    super((accepted === undefined ? { onread } : { onread, handle: accepted, allowHalfOpen: true }) as unknown as SocketConstructorOpts);
  }

  /** @internal The connection the socket's reads go to, once bound (see bindSocket, which sets it). */
  get target(): SocketEventsTarget | undefined {
    return (this as TargetSlot)[kTarget];
  }
  set target(target: SocketEventsTarget | undefined) {
    (this as TargetSlot)[kTarget] = target;
  }

  /** Stops delivering reads; holds them (and reads on) up to {@link HOLD_LIMIT}. */
  override pause(): this {
    (this.hold ??= newHold()).paused = true;
    return this;
  }

  /** True while paused (what arrives is held), as a paused stream answers. */
  override isPaused(): boolean {
    return this.hold !== null && this.hold.paused;
  }

  /** Delivers what was held, on a later tick, then reads on. */
  override resume(): this {
    const hold = this.hold;
    if (hold !== null) {
      hold.paused = false;
      if (hold.chunks !== null || hold.endHeld) process.nextTick(deliverHeld, this);
      else this.hold = null;
    }
    // (Restarts reading if the held bytes had stopped it.)
    return super.resume();
  }

  /**
   * Puts bytes back in front of what is held, as a stream's `unshift()` does: the bytes that came
   * with the handshake's answer, which must reach the connection before a FIN read after them.
   * `chunk` must be the caller's own (not lent).
   */
  override unshift(chunk: Buffer): void {
    if (chunk.length === 0) return;
    const hold = (this.hold ??= newHold());
    (hold.chunks ??= []).unshift(chunk);
    hold.bytes += chunk.length;
  }

  /** @internal The peer's FIN arrived: true if it waits behind held bytes (reported when they are delivered). */
  holdEnd(): boolean {
    const hold = this.hold;
    if (hold === null || hold.chunks === null) return false;
    hold.endHeld = true;
    return true;
  }

  /** @internal Bytes read into the shared buffer: valid only during this call. False stops reading. */
  lentRead(chunk: Buffer): boolean {
    const hold = this.hold;
    if (hold !== null && (hold.paused || hold.chunks !== null)) {
      (hold.chunks ??= []).push(Buffer.from(chunk));
      hold.bytes += chunk.length;
      return hold.bytes < HOLD_LIMIT;
    }
    this.deliver(chunk, true);
    return true;
  }

  /**
   * @internal Delivers held bytes in order until paused again; then the held FIN, if any. If a
   * listener throws, what is still held goes on the next tick (as the next read would), not never.
   */
  deliverHeld(): void {
    const hold = this.hold;
    if (hold === null) return;
    try {
      while (!hold.paused && hold.chunks !== null && !this.destroyed) {
        const chunk = hold.chunks.shift()!;
        hold.bytes -= chunk.length;
        if (hold.chunks.length === 0) hold.chunks = null;
        this.deliver(chunk, false);
      }
      if (hold.chunks === null && hold.endHeld && !this.destroyed) {
        hold.endHeld = false;
        this.target?.socketEnded();
      }
    } finally {
      if (!hold.paused && !this.destroyed && (hold.chunks !== null || hold.endHeld)) process.nextTick(deliverHeld, this);
      // Nothing held and not paused: the socket carries no hold again (unless a listener made a new one meanwhile).
      else if (!hold.paused && hold.chunks === null && !hold.endHeld && this.hold === hold) this.hold = null;
    }
  }

  private deliver(chunk: Buffer, lent: boolean): void {
    const target = (this as TargetSlot)[kTarget];
    if (target !== undefined) target.received(chunk, this);
    // No connection or head reader: 'data' listeners get bytes of their own.
    else this.emit('data', lent ? Buffer.from(chunk) : chunk);
  }
}

/** What a paused socket holds, and whether it is paused. */
interface Hold {
  paused: boolean;
  /** Copies of what was read while paused, oldest first. */
  chunks: Buffer[] | null;
  bytes: number;
  /** The peer's FIN arrived while bytes were held: reported after them. */
  endHeld: boolean;
}

function newHold(): Hold {
  return { paused: false, chunks: null, bytes: 0, endHeld: false };
}

/** Node calls it with the socket as `this`, `buffer` being the shared one. */
function onSharedRead(this: LentSocket, length: number, buffer: Uint8Array): boolean {
  const bytes = buffer as Buffer;
  return this.lentRead(length === bytes.length ? bytes : bytes.subarray(0, length));
}

function deliverHeld(socket: LentSocket): void {
  socket.deliverHeld();
}
