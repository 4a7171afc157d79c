import { type Redis } from 'ioredis';
import { BackplaneError } from '../errors.js';
import { timerDelay } from '../io/timer-delay.js';

/**
 * Notices a Redis that stopped answering without closing the connection (a host frozen or cut off
 * without a reset): TCP alone would wait for ever. Every `timeout` ms it sends a PING on a ready
 * connection; when `timeout` ms pass without its answer, the connection is dropped and ioredis
 * reconnects, so that the backplane's usual outage path runs ('disconnected', buffering, replay).
 *
 * A PING waits behind what went before it on the connection (a blocking read, a large command
 * being sent, a large reply being received), which on a slow link takes longer than `timeout`
 * while Redis is fine. So a PING not answered in time is waited on for another `timeout` ms,
 * again and again, while the connection shows that Redis is there:
 * - bytes came in on it, or bytes waiting to go out were taken (its own traffic moved); or
 * - it has data ahead of its PING not answered yet, and Redis answers on the `peer` connection
 *   (a proxy between may take a large command at once and pass it on slowly: then this
 *   connection is silent until the whole of it reached Redis). This wait is bounded: `timeout`
 *   plus 1 s per {@link MIN_RATE} bytes ahead of the PING.
 * `timeout` must exceed a blocking command's block.
 */
export class HealthCheck {
  private interval: NodeJS.Timeout | undefined;
  private deadline: NodeJS.Timeout | undefined;
  /** How many PINGs were sent: the number of the last one. */
  private pings = 0;
  /** The connection's stream, and how many bytes had been written on it before its last PING that was answered. */
  private answered: { stream: unknown; written: number } | undefined;

  constructor(
    private readonly client: Redis,
    private readonly timeout: number,
    /** Called with the reason, just before the connection is dropped. */
    private readonly unresponsive: (error: BackplaneError) => void,
    /** Another connection to the same Redis, whose traffic shows that Redis answers. */
    private readonly peer?: Redis,
  ) {}

  start(): void {
    this.interval ??= setInterval(() => this.check(), timerDelay(this.timeout));
    this.interval.unref();
  }

  stop(): void {
    clearInterval(this.interval);
    clearTimeout(this.deadline);
    this.interval = this.deadline = undefined;
  }

  private check(): void {
    if (this.deadline !== undefined || this.client.status !== 'ready') return;
    const ping = ++this.pings;
    const sent = Date.now();
    let seen = traffic(this.client);
    let peerSeen = traffic(this.peer);
    // Bytes written on this connection and not answered yet, at most (what went before the last
    // PING answered was answered).
    const answered = this.answered !== undefined && this.answered.stream === seen.stream ? this.answered.written : 0;
    const ahead = Math.max(0, seen.written + seen.pending - answered);
    const expire = (): void => {
      this.deadline = undefined;
      if (this.client.status !== 'ready') return;
      const now = traffic(this.client);
      // (A connection made again meanwhile: the PING went with the old one, and this one is new.)
      if (now.stream !== seen.stream) return;
      const peerNow = traffic(this.peer);
      const busy =
        moved(seen, now) ||
        (ahead > 0 && this.peer?.status === 'ready' && peerNow.stream === peerSeen.stream && peerNow.read > peerSeen.read && Date.now() - sent < this.timeout + (ahead / MIN_RATE) * 1000);
      seen = now;
      peerSeen = peerNow;
      if (busy) {
        // Busy, not gone: the PING is still queued behind data on its way.
        arm();
        return;
      }
      this.unresponsive(new BackplaneError(`Redis did not answer a PING within ${this.timeout} ms`));
      // (true: ioredis reconnects, as after any other loss.)
      this.client.disconnect(true);
    };
    const arm = (): void => {
      this.deadline = setTimeout(expire, timerDelay(this.timeout));
      this.deadline.unref();
    };
    arm();
    const written = seen.written + seen.pending;
    const stream = seen.stream;
    const done = (): void => {
      // A late answer to an earlier PING (its wait ended: the connection was dropped) is not this one's.
      if (this.pings !== ping || this.deadline === undefined) return;
      clearTimeout(this.deadline);
      this.deadline = undefined;
      this.answered = { stream, written };
    };
    // (A failed PING is an outage ioredis reports itself.)
    this.client.ping().then(done, done);
  }
}

/**
 * The slowest link assumed when a connection is silent while Redis answers on another one: it may
 * take 1 s per this many bytes ahead of its PING (256 KiB/s, about 2 Mbit/s).
 */
export const MIN_RATE = 256 * 1024;

/**
 * What a connection's socket has moved so far: the bytes it received, the bytes of its writes that
 * completed, and what is left of the write under way (Node sends one write at a time; its
 * handle's `writeQueueSize`, where there is one, says how much of it the kernel has not taken yet).
 */
interface Traffic {
  stream: unknown;
  read: number;
  written: number;
  queued: number;
  /** Bytes waiting to go out (the write under way included). */
  pending: number;
}

interface SocketLike {
  bytesRead?: number;
  bytesWritten?: number;
  writableLength?: number;
  _handle?: { writeQueueSize?: number } | null;
}

function traffic(client: Redis | undefined): Traffic {
  const stream = (client as unknown as { stream?: SocketLike } | undefined)?.stream;
  const count = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);
  const pending = count(stream?.writableLength);
  return {
    stream,
    read: count(stream?.bytesRead),
    // bytesWritten counts what was handed to the socket, writableLength what of that has not
    // gone out yet: the difference grows as writes complete.
    written: count(stream?.bytesWritten) - pending,
    queued: count(stream?._handle?.writeQueueSize),
    pending,
  };
}

/**
 * Whether the peer showed life between two looks: bytes came in, or bytes that were waiting to go
 * out then were taken since (a write completed, or the one under way shrank). A write that
 * completed when nothing was waiting does not count: the kernel's buffer takes it whether the
 * peer is there or not.
 */
function moved(before: Traffic, after: Traffic): boolean {
  if (after.read > before.read) return true;
  if (before.pending === 0) return false;
  return after.written > before.written || after.queued < before.queued;
}
