import { type SecureContextOptions, type TlsOptions } from 'node:tls';
import { UsageError } from '../errors.js';
import { type PerMessageDeflateOptions } from '../extensions/permessage-deflate/negotiation.js';
import { selectSubprotocol } from '../handshake/subprotocols.js';
import { type UpgradeRequest } from '../handshake/upgrade-request.js';
import { type SlowConsumerPolicy } from '../io/connection-stats.js';
import { type ConnectionInit } from '../io/connection-types.js';
import { resolveSettings, type ConnectionSettings } from '../io/connection-settings.js';
import { type RateLimitOptions } from '../io/rate-limiter.js';
import { checkNumber, checkOneOf, checkStringList, checkType } from '../option-checks.js';
import { type SessionOptions } from '../protocol/session.js';
import { type OnConnection } from './admission.js';
import { type Backplane } from './backplane.js';
import { type PlainHttpHandler } from './plain-http.js';

/** Options of a {@link WebSocketServer}. Sizes are in bytes, times in milliseconds. */
export interface ServerOptions<Data = unknown> {
  /** TCP port; 0 picks a free one. Default 0. */
  port?: number | undefined;
  /** Address to listen on. Default: every interface (`::`, dual stack where available). */
  host?: string | undefined;
  /** Listen backlog. Default: Node's (511). */
  backlog?: number | undefined;
  /** Only these paths accept upgrades (404 for others). Default: any path. */
  path?: string | readonly string[] | undefined;
  /** Largest message accepted, compressed and inflated (1009 past it). Default 100 MiB. */
  maxPayload?: number | undefined;
  /** Most frames one received message may span (1008 past it). Default 1024. */
  maxFragments?: number | undefined;
  /**
   * Per-connection limit on what each client sends (1008 past it): messages (pings included) and
   * payload bytes per second, with bursts of up to `burst` seconds' worth. `false` turns it off.
   * Default 50 000 messages and 256 MiB per second, burst 1 s. A message larger than
   * `bytesPerSecond × burst` passes when the byte bucket is full, which it leaves in debt.
   */
  rateLimit?: RateLimitOptions | false | undefined;
  /**
   * Most connections (and handshakes, TLS handshakes included) at once from one remote address;
   * past it 429 (with `tls`, a socket still in its TLS handshake is dropped unanswered). Default 1000.
   */
  maxConnectionsPerAddress?: number | undefined;
  /**
   * A client must complete its upgrade request within this time, or it is dropped. With `tls`, the
   * time runs from the TCP connection and covers the TLS handshake and the request together.
   * At least 1; `Infinity` for no limit. Default 10 000.
   */
  handshakeTimeout?: number | undefined;
  /** Largest upgrade request head; past it the answer is 431. Default 16 KiB. */
  maxHeaderBytes?: number | undefined;
  /**
   * Subprotocols supported: the first one the client offered that is on this list is chosen (the
   * client's order is the preference, this list's order does not matter). Or a function choosing
   * one of those offered.
   */
  protocols?: readonly string[] | ((offered: readonly string[], request: UpgradeRequest) => string | undefined) | undefined;
  /** Answer pings automatically. Default true. */
  autoPong?: boolean | undefined;
  /** How long to wait for the peer during the close handshake. Default 5000. */
  closeTimeout?: number | undefined;
  /** bufferedAmount past which `send()` answers 'backpressure'. Default 1 MiB. */
  highWaterMark?: number | undefined;
  /**
   * permessage-deflate (RFC 7692): `true` for the defaults, or options. Default off.
   * The server asks for `server_no_context_takeover` unless told otherwise, so that a broadcast is
   * compressed once for every receiver and no compression state outlives a message.
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions | undefined;
  /** Most connections at once; past it upgrades are refused with 503 and Retry-After. Default 10 000. */
  maxConnections?: number | undefined;
  /** Seconds for the Retry-After header of a 503 (maxConnections) or 429 (maxConnectionsPerAddress) refusal. Default 5. */
  retryAfter?: number | undefined;
  /**
   * Origin allow-list: upgrade requests whose Origin header is not listed (or for which the
   * function returns false) are refused with 403. Requests without an Origin header (non-browser
   * clients) are allowed. Default: any origin.
   */
  origins?: readonly string[] | ((origin: string | undefined, request: UpgradeRequest) => boolean) | undefined;
  /**
   * Ping every connection this often (ms); not while the application holds reading from it
   * (`pause()`, a full pull reader): no pong could be read. Default 0 (off).
   */
  pingInterval?: number | undefined;
  /**
   * A ping unanswered this long (ms) terminates the connection (reported as 1006). The wait starts
   * again whenever bytes arrive (the peer lives; its pong may be queued behind them), whenever
   * reading pauses for an inflation (the pong may be queued behind the message), or
   * for a peer that does not read what is sent (slowConsumer 'wait') while it still takes some of
   * it; a peer that takes nothing for this long is taken for dead. Default 10 000.
   */
  pongTimeout?: number | undefined;
  /**
   * Close (1001) connections from which nothing arrived this long (ms). Default 0 (off). Not
   * while this side has paused a connection's reading (`pause()`, a full pull reader: nothing is
   * read then): its time starts again once reading resumes. A pause because the peer does not
   * read (`slowConsumer: 'wait'`) is no such reason. Every frame counts as arriving, pongs
   * included: with `pingInterval` set, a peer that answers the pings is never idle (to close
   * peers that send no messages, watch `message` yourself).
   */
  idleTimeout?: number | undefined;
  /**
   * Hard limit on a connection's buffered bytes; past it `slowConsumer` applies. Default 16 MiB.
   * A message larger than it cannot be sent (with 'wait', one up to twice it): a server that sends
   * back what it receives (an echo, a relay) needs it above `maxPayload`.
   */
  maxBufferedAmount?: number | undefined;
  /**
   * What happens to a connection whose buffer is over `maxBufferedAmount`. Default 'close':
   * the message is dropped and the connection closed (`slowConsumerCloseCode`). 'drop': the
   * message is dropped ('dropped'), the connection stays. 'wait': the message is accepted and
   * reading from that peer stops until its buffer drains; past twice the limit, messages are
   * dropped. Each dropped message is counted and emitted as a `maxBufferedAmount` limit event,
   * and so is each pause of 'wait'.
   */
  slowConsumer?: SlowConsumerPolicy | undefined;
  /** Close code used by the 'close' policy: 1013 (default) or 1008. */
  slowConsumerCloseCode?: 1013 | 1008 | undefined;
  /** TLS (wss://): certificate, key and other `tls.createServer` options. */
  tls?: TlsOptions & SecureContextOptions | undefined;
  /** Called for every upgrade request not taken by a route; returns a handler or a refusal. */
  onConnection?: OnConnection<Data> | undefined;
  /**
   * Shares `publish`, `broadcast` and `sendTo` with the other servers of a cluster (one backplane
   * instance per server). Default: a {@link MemoryBackplane} of its own (a cluster of one).
   * `sockwave/redis` has `RedisBackplane` for processes and machines.
   */
  backplane?: Backplane | undefined;
  /** Answers plain HTTP requests (not upgrades) in standalone mode. Default: 426 Upgrade Required. */
  onHttpRequest?: PlainHttpHandler | undefined;
}

export const DEFAULT_MAX_PAYLOAD = 100 * 1024 * 1024;
export const DEFAULT_HANDSHAKE_TIMEOUT = 10_000;
export const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;
export const DEFAULT_MAX_FRAGMENTS = 1024;
export const DEFAULT_MAX_CONNECTIONS = 10_000;
export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 1000;
export const DEFAULT_RATE_LIMIT: Readonly<RateLimitOptions> = { messagesPerSecond: 50_000, bytesPerSecond: 256 * 1024 * 1024, burst: 1 };

const OWNER = 'WebSocketServer';
const TIME = { infinite: true } as const;
const COUNT = { integer: true, infinite: true } as const;

/**
 * Checks the options a server is made (or listens) with, where the types do not reach (see
 * option-checks.ts): a TypeError or RangeError naming the option.
 */
export function checkServerOptions<Data>(options: Partial<ServerOptions<Data>>): void {
  checkNumber(OWNER, 'port', options.port, { integer: true, max: 65535 });
  checkType(OWNER, 'host', options.host, 'string');
  checkNumber(OWNER, 'backlog', options.backlog, { integer: true });
  if (typeof options.path !== 'string') checkStringList(OWNER, 'path', options.path);
  checkNumber(OWNER, 'maxPayload', options.maxPayload, { infinite: true });
  checkNumber(OWNER, 'maxFragments', options.maxFragments, { ...COUNT, min: 1 });
  if (options.rateLimit !== false) {
    checkType(OWNER, 'rateLimit', options.rateLimit, 'object');
    for (const field of ['messagesPerSecond', 'bytesPerSecond', 'burst'] as const) checkNumber(OWNER, `rateLimit.${field}`, options.rateLimit?.[field], { infinite: true });
    // (Buckets that hold nothing would fail every connection at its first message.)
    if (options.rateLimit?.burst === 0) throw new RangeError(`${OWNER}: rateLimit.burst must be above 0 (seconds of traffic a burst may hold), not 0`);
  }
  checkNumber(OWNER, 'maxConnectionsPerAddress', options.maxConnectionsPerAddress, COUNT);
  // (0 would drop every client: Infinity is how to have no limit.)
  checkNumber(OWNER, 'handshakeTimeout', options.handshakeTimeout, { ...TIME, min: 1 });
  checkNumber(OWNER, 'maxHeaderBytes', options.maxHeaderBytes, { integer: true, min: 1 });
  checkStringList(OWNER, 'protocols', options.protocols, true);
  checkType(OWNER, 'autoPong', options.autoPong, 'boolean');
  checkNumber(OWNER, 'closeTimeout', options.closeTimeout, TIME);
  checkNumber(OWNER, 'highWaterMark', options.highWaterMark, { infinite: true });
  checkNumber(OWNER, 'maxConnections', options.maxConnections, COUNT);
  checkNumber(OWNER, 'retryAfter', options.retryAfter, { integer: true });
  checkStringList(OWNER, 'origins', options.origins, true);
  checkNumber(OWNER, 'pingInterval', options.pingInterval, TIME);
  checkNumber(OWNER, 'pongTimeout', options.pongTimeout, TIME);
  checkNumber(OWNER, 'idleTimeout', options.idleTimeout, TIME);
  checkNumber(OWNER, 'maxBufferedAmount', options.maxBufferedAmount, { infinite: true });
  checkOneOf(OWNER, 'slowConsumer', options.slowConsumer, ['drop', 'close', 'wait']);
  checkOneOf(OWNER, 'slowConsumerCloseCode', options.slowConsumerCloseCode, [1013, 1008]);
  checkType(OWNER, 'tls', options.tls, 'object');
  checkType(OWNER, 'onConnection', options.onConnection, 'function');
  checkType(OWNER, 'onHttpRequest', options.onHttpRequest, 'function');
  checkType(OWNER, 'backplane', options.backplane, 'object');
}

/**
 * What a server gives each of its connections: the limits the frame parser applies, and the
 * settings of the close handshake, backpressure and the slow-consumer policy, resolved once and
 * shared by all of them.
 */
export function connectionSettings<Data>(
  options: ServerOptions<Data>,
): Pick<ConnectionInit<unknown>, 'maxPayload' | 'maxFragments' | 'autoPong'> & { settings: ConnectionSettings; session: SessionOptions; lentSession: SessionOptions } {
  const maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
  const maxFragments = options.maxFragments ?? DEFAULT_MAX_FRAGMENTS;
  // Frozen: every connection's protocol session keeps this one object instead of a copy.
  const session: SessionOptions = Object.freeze({ role: 'server', maxPayload, maxFragments, autoPong: options.autoPong ?? true });
  return {
    maxPayload,
    maxFragments,
    autoPong: options.autoPong,
    session,
    // The same, for sockets whose reads are lent (see LentSocket): the parser copies what it keeps.
    lentSession: Object.freeze({ ...session, lentChunks: true }),
    settings: resolveSettings({
      role: 'server',
      rateLimit: options.rateLimit ?? DEFAULT_RATE_LIMIT,
      closeTimeout: options.closeTimeout,
      highWaterMark: options.highWaterMark,
      maxBufferedAmount: options.maxBufferedAmount,
      slowConsumer: options.slowConsumer,
      slowConsumerCloseCode: options.slowConsumerCloseCode,
    }),
  };
}

/**
 * The subprotocol of a new connection: admission's choice, else the `protocols` option's (a list
 * in the server's order of preference, or a function). RFC 6455 §4.2.2: only one the client
 * offered — which also keeps CR/LF out of the 101 — else UsageError (SW_INVALID_ARGUMENT).
 */
export function chooseSubprotocol(chosen: string | undefined, request: UpgradeRequest, supported: ServerOptions<unknown>['protocols']): string | undefined {
  let protocol = chosen;
  if (protocol === undefined && request.protocols.length > 0) {
    protocol = typeof supported === 'function' ? supported(request.protocols, request) : supported ? selectSubprotocol(request.protocols, supported) : undefined;
  }
  if (protocol !== undefined && !request.protocols.includes(protocol)) {
    throw new UsageError('SW_INVALID_ARGUMENT', `the server chose subprotocol ${JSON.stringify(protocol)}, which the client did not offer`);
  }
  return protocol;
}
