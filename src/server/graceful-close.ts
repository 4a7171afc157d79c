import { type Connection } from '../io/connection.js';
import { timerDelay } from '../io/timer-delay.js';

/**
 * A server's graceful close of its connections: closes each with `code` and `reason`, waits up to
 * `timeout` ms for their closing handshakes, then terminates the ones still there. It hears of
 * each close from the server ({@link GracefulClose.closed}, called as the connection leaves the
 * registry), not through the connection's `close` event: an application may remove that listener,
 * or throw in an earlier one, and the server's close must still resolve.
 */
export class GracefulClose {
  private readonly waiting: Set<Connection<unknown>>;
  private allGone: (() => void) | undefined;

  constructor(connections: Iterable<Connection<unknown>>) {
    this.waiting = new Set([...connections].filter((connection) => connection.status !== 'closed'));
  }

  /** A connection of the server closed. */
  closed(connection: Connection<unknown>): void {
    if (this.waiting.delete(connection) && this.waiting.size === 0) this.allGone?.();
  }

  /** Resolves once every connection has closed. */
  async run(code: number, reason: string, timeout: number): Promise<void> {
    const gone = new Promise<void>((resolve) => {
      this.allGone = resolve;
      if (this.waiting.size === 0) resolve();
    });
    for (const connection of [...this.waiting]) connection.close(code, reason);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      gone,
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          for (const connection of [...this.waiting]) connection.terminate();
          resolve();
        }, timerDelay(timeout));
      }),
    ]);
    clearTimeout(timer);
    await gone;
  }
}
