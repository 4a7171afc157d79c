import { type Connection } from '../io/connection.js';
import { timerDelay } from '../io/timer-delay.js';

/**
 * Closes every connection with `code` and `reason`, waits up to `timeout` ms for their closing
 * handshakes, then terminates the ones still there. Resolves once every one of them has closed.
 */
export async function closeGracefully(connections: readonly Connection<unknown>[], code: number, reason: string, timeout: number): Promise<void> {
  const gone = connections.map((connection) => new Promise<void>((resolve) => {
    if (connection.status === 'closed') return resolve();
    connection.once('close', () => resolve());
  }));
  for (const connection of connections) connection.close(code, reason);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(gone),
    new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        for (const connection of connections) connection.terminate();
        resolve();
      }, timerDelay(timeout));
    }),
  ]);
  clearTimeout(timer);
  await Promise.all(gone);
}
