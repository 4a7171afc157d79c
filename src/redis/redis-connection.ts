import { Redis, type RedisOptions } from 'ioredis';
import { timerDelay } from '../io/timer-delay.js';

/**
 * A Redis connection as the backplane wants it: it reconnects forever (with a delay up to
 * `maxDelay`), and commands fail at once while it is down instead of piling up in the client's
 * own unbounded queue (the backplane buffers, with a bound).
 */
export function openConnection(url: string, maxDelay: number, extra: RedisOptions = {}): Redis {
  return new Redis(url, {
    ...extra,
    // RESP2: replies (XREAD's especially) keep one well-known shape.
    protocol: 2,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt) => Math.min(50 * attempt, maxDelay),
    reconnectOnError: () => false,
  });
}

/** Resolves true once `client` is ready, false if `stopped()` turns true first. */
export async function waitReady(client: Redis, stopped: () => boolean): Promise<boolean> {
  while (!stopped()) {
    if (client.status === 'ready') return true;
    if (client.status === 'end') return false;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, 100);
      client.once('ready', done);
      function done(): void {
        clearTimeout(timer);
        client.removeListener('ready', done);
        resolve();
      }
    });
  }
  return false;
}

/** The Redis server's run id: it changes when the server restarts (and lost what it held in memory). */
export async function serverRunId(client: Redis): Promise<string> {
  const info = await client.info('server');
  const match = /run_id:([0-9a-f]+)/.exec(info);
  return match ? match[1]! : '';
}

/**
 * `promise`, or undefined once `ms` ms have passed without it settling (a rejection counts as
 * settled). For shutdown steps that must not wait on a Redis that stopped answering.
 */
export async function withinTime<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(resolve, timerDelay(ms), undefined);
  });
  try {
    return await Promise.race([promise.catch(() => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}
