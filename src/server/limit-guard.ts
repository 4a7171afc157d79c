import { type Socket } from 'node:net';
import { LimitCounters, type LimitEvent, type LimitName } from '../io/limits.js';

/**
 * A server's bookkeeping for its limits: counts every hit, reports it through `report` (the
 * server's `limit` event), and counts the sockets open or handshaking per remote address for
 * `maxConnectionsPerAddress` (from arrival to close, so slow handshakes count too).
 */
export class LimitGuard {
  readonly counters = new LimitCounters();
  private readonly perAddress = new Map<string, number>();

  constructor(private readonly report: (event: LimitEvent) => void) {}

  /** Counts a limit hit and reports it. */
  hit(limit: LimitName, remoteAddress: string, detail: string, connectionId?: string): void {
    this.counters.hit(limit);
    this.report({ limit, remoteAddress, connectionId, detail });
  }

  /** Sockets open or handshaking from `address`. */
  count(address: string): number {
    return this.perAddress.get(address) ?? 0;
  }

  /**
   * Counts `socket` under its address until it closes; false (counted as a hit, socket not
   * tracked) when the address already has `max`.
   */
  track(socket: Socket, max: number): boolean {
    const address = socket.remoteAddress ?? '';
    const count = this.count(address);
    if (count >= max) {
      this.hit('maxConnectionsPerAddress', address, `${max} connections from this address`);
      return false;
    }
    this.perAddress.set(address, count + 1);
    socket.once('close', () => {
      const left = this.count(address) - 1;
      if (left <= 0) this.perAddress.delete(address);
      else this.perAddress.set(address, left);
    });
    return true;
  }
}
