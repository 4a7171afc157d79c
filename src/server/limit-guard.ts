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
   * Counts one more socket from `address`; false (counted as a hit, nothing counted) when the
   * address already has `max`. Each counted socket is {@link release}d when it closes.
   */
  track(address: string, max: number): boolean {
    const count = this.count(address);
    if (count >= max) {
      this.hit('maxConnectionsPerAddress', address, `${max} connection${max === 1 ? '' : 's'} from this address`);
      return false;
    }
    this.perAddress.set(address, count + 1);
    return true;
  }

  /** A socket counted by {@link track} closed. */
  release(address: string): void {
    const left = this.count(address) - 1;
    if (left <= 0) this.perAddress.delete(address);
    else this.perAddress.set(address, left);
  }
}
