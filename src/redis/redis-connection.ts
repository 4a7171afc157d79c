import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { BackplaneError } from '../errors.js';
import { timerDelay } from '../io/timer-delay.js';

/**
 * A Redis connection as the backplane wants it: it reconnects forever (with a delay up to
 * `maxDelay`), and commands fail at once while it is down instead of piling up in the client's
 * own unbounded queue (the backplane buffers, with a bound).
 *
 * ioredis's own timeouts on commands and on the socket (`commandTimeout`, `blockingTimeout`,
 * `socketTimeout`) are switched off: the backplane's health check judges whether Redis answers,
 * by the traffic on the connection. A command that times out on a connection still open leaves
 * no trace in the connection's state (it is still ready, no event follows) while its outcome is
 * unknown (an XADD may be stored or not); and on a slow link a command or reply that is merely
 * long in transfer would time out, again and again.
 *
 * ioredis's ready check is off: it asks INFO, so a Redis that refuses INFO or has it renamed
 * (as some hosted services do) would never be ready. {@link serverRunId}, which the backplane
 * asks once connected before it publishes or reads, waits for a Redis still loading its data set
 * instead.
 *
 * `disconnectTimeout` is 0 unless `extra` sets it: the backplane disconnects a connection only
 * when done with it (close(), or one found unresponsive), so it has no use for ioredis's wait for
 * the end of the TCP connection. That wait is a timer which holds the process: 2 s after close()
 * when Redis was unreachable, since the socket of the last failed attempt never closes again.
 *
 * Two ways a connection could sit still are ended (see {@link watchHandshake}): a handshake that
 * is never answered, and a SELECT that Redis refuses.
 */
export function openConnection(url: string, maxDelay: number, extra: RedisOptions = {}, handshakeTimeout = 0): Redis {
  const client = new Redis(url, {
    disconnectTimeout: 0,
    ...extra,
    commandTimeout: undefined,
    blockingTimeout: undefined,
    socketTimeout: undefined,
    enableReadyCheck: false,
    // RESP2: replies (XREAD's especially) keep one well-known shape.
    protocol: 2,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt) => Math.min(50 * attempt, maxDelay),
    reconnectOnError: () => false,
  });
  watchHandshake(client, handshakeTimeout);
  return client;
}

/**
 * Drops (and so tries again) a connection whose first commands (AUTH, SELECT, CLIENT SETINFO)
 * are not all answered within `timeout` ms (0: no limit): ioredis times out only the TCP
 * connect, and a Redis that accepts connections and answers nothing (frozen, or a proxy whose
 * backend is gone) would hold it for ever, never ready and never tried again. Also drops one
 * whose SELECT Redis refused (a DB out of range): ioredis reports it and carries on in DB 0,
 * where another application's data may live. Both are reported as the connection's errors.
 */
function watchHandshake(client: Redis, timeout: number): void {
  let timer: NodeJS.Timeout | undefined;
  const stop = (): void => {
    clearTimeout(timer);
    timer = undefined;
  };
  client.on('error', (error: unknown) => {
    if ((error as { command?: { name?: unknown } }).command?.name !== 'select' || !isReplyError(error)) return;
    stop();
    client.disconnect(true);
  });
  if (timeout === 0) return;
  client.on('connect', () => {
    stop();
    timer = setTimeout(() => {
      timer = undefined;
      if (client.status !== 'connect') return;
      client.emit('error', new BackplaneError(`Redis accepted the connection but did not answer its first commands within ${timeout} ms`));
      client.disconnect(true);
    }, timerDelay(timeout));
    // (The socket keeps the process alive while it is open; this timer need not.)
    timer.unref();
  });
  client.on('ready', stop);
  client.on('close', stop);
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

/**
 * The Redis server's run id: it changes when the server restarts (and lost what it held in
 * memory). A Redis that refuses INFO (an ACL without it, the command renamed, as some hosted
 * services do) is given one instead when `markerKey` is set: a random value stored under that key
 * (without expiry) by the first client to ask, the same for every client after, and gone with
 * everything else when Redis loses its data. Anything else that fails rejects, and so does a
 * Redis still loading its data set (it would refuse the commands that follow with LOADING): the
 * caller asks again. (ioredis's own ready check, which waited for that, is off: it needs INFO.)
 */
export async function serverRunId(client: Redis, markerKey?: string): Promise<string> {
  let info: string;
  try {
    // ('default' has the server section, with the run id, and the persistence one, with loading.)
    info = await client.info('default');
  } catch (error) {
    if (markerKey === undefined || !refusesInfo(error)) throw error;
    return markerRunId(client, markerKey, error);
  }
  if (/^loading:1\b/m.test(info)) throw new BackplaneError('Redis is loading its data set');
  const match = /run_id:([0-9a-f]+)/.exec(info);
  return match ? match[1]! : '';
}

async function markerRunId(client: Redis, key: string, infoError: unknown): Promise<string> {
  try {
    await client.set(key, randomBytes(8).toString('hex'), 'NX');
    const value = await client.get(key);
    if (value !== null) return `marker:${value}`;
  } catch (error) {
    if (!isReplyError(error)) throw error;
    throw new BackplaneError(`Redis refused INFO (${message(infoError)}), and storing the key ${key} that stands in for it (${message(error)})`, { cause: error });
  }
  // (Deleted or evicted between the two: the next attempt writes it again.)
  throw new BackplaneError(`the key ${key} (standing in for INFO, which Redis refused) vanished as it was written`);
}

/**
 * Whether Redis refused INFO itself: an ACL without it (NOPERM), or the command renamed away
 * (unknown). Other refusals (NOAUTH: credentials needed; BUSY…) are not about INFO: a key would
 * not stand in for it.
 */
function refusesInfo(error: unknown): boolean {
  return isReplyError(error) && /^(NOPERM\b|ERR unknown command\b)/.test(error instanceof Error ? error.message : '');
}

/**
 * Whether Redis answered, and refused: an error reply (or an error caused by one), as opposed to a
 * connection that failed or closes.
 */
export function isReplyError(error: unknown): boolean {
  for (let cause = error, depth = 0; cause !== undefined && cause !== null && depth < 3; cause = (cause as { cause?: unknown }).cause, depth++) {
    if ((cause as { name?: unknown }).name === 'ReplyError') return true;
  }
  return false;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
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
