import { type ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { watchAbort } from '../io/abort-watch.js';
import { tlsFailureInWords } from '../io/tls-failure.js';
import { HandshakeError, SockwaveError } from '../errors.js';
import { validateUpgradeResponse, buildUpgradeRequest } from '../handshake/client-handshake.js';
import { BODY_PREVIEW_WAIT, bodyPreview } from '../handshake/body-preview.js';
import { findResponseHeadEnd, linesIfRepeated, parseResponseHead } from '../handshake/http-head.js';
import { generateKey } from '../handshake/keys.js';
import { checkSubprotocolNames } from '../handshake/subprotocols.js';
import { Connection, type ConnectionHandler, type DataRequired } from '../io/connection.js';
import { type Socket } from 'node:net';
import { dial } from '../io/dial.js';
import { timerDelay } from '../io/timer-delay.js';
import { checkClientOptions } from './option-checks.js';
import { resolveProxy } from '../io/proxy.js';
import { clientDeflate } from '../extensions/permessage-deflate/handshake.js';
import { type PerMessageDeflateOptions } from '../extensions/permessage-deflate/negotiation.js';
import { parseWebSocketUrl, type ParsedWebSocketUrl } from './url.js';

/** Options of {@link connect}. Sizes are in bytes, times in milliseconds. */
export interface ClientOptions<Data = unknown> {
  /** Subprotocols to offer, in order of preference. The server may accept none of them (RFC 6455 §4.2.2): the connection then opens with `protocol` empty; check it if a subprotocol is required (the standard `WebSocket` fails instead, as browsers do). */
  protocols?: readonly string[] | undefined;
  /** Extra request headers; an array sends the header once per value (repeated keys), except Cookie: its values (under any case of its name) go in one line, joined with "; " (RFC 6265 §5.4). */
  headers?: Readonly<Record<string, string | readonly string[]>> | undefined;
  origin?: string | undefined;
  /** Largest message accepted. Default 100 MiB. */
  maxPayload?: number | undefined;
  /**
   * The whole opening handshake (TCP, TLS, HTTP, and every redirect followed) must finish within
   * this many ms. `Infinity` or 0: no limit. Default 10 000.
   */
  connectTimeout?: number | undefined;
  /** Answer pings automatically. Default true. */
  autoPong?: boolean | undefined;
  /** How long to wait for the server during the close handshake. Default 5000. */
  closeTimeout?: number | undefined;
  highWaterMark?: number | undefined;
  /** TLS options for wss:// (ca, cert, key, servername, rejectUnauthorized, ciphers...). */
  tls?: TlsConnectionOptions | undefined;
  /** TLS options for the connection to an https:// proxy (its ca, say); `tls` is for the server's. */
  proxyTls?: TlsConnectionOptions | undefined;
  /**
   * permessage-deflate (RFC 7692): offered by default; `false` to turn off, or options. By default
   * the client offers `client_no_context_takeover`, so its own compression keeps no state.
   */
  perMessageDeflate?: boolean | PerMessageDeflateOptions | undefined;
  /** Handler object, attached before any event can fire. */
  handler?: ConnectionHandler<Data> | undefined;
  /** Becomes `connection.data`. Required when `Data` does not admit `undefined` ({@link ClientOptionsArgument}). */
  data?: Data | undefined;
  /** Aborts the handshake: the promise rejects with code SW_ABORTED. */
  signal?: AbortSignal | undefined;
  /**
   * An HTTP(S) proxy to tunnel through with CONNECT (`http://user:pass@host:port`; `host:port`
   * alone means `http://`; another scheme throws a TypeError). Default: the HTTPS_PROXY (wss://)
   * or HTTP_PROXY (ws://) environment variable unless NO_PROXY names the host; `false` never uses
   * a proxy. A proxy that refuses the tunnel rejects with a {@link HandshakeError} of code
   * `SW_PROXY_REFUSED` carrying its status, headers and the start of its body; its redirects are not followed, and a
   * reconnecting client gives up on its 407 as on a server's 401.
   */
  proxy?: string | URL | false | undefined;
  /** Connect to this Unix domain socket instead of the URL's host and port (the URL still gives Host and path). */
  socketPath?: string | undefined;
  /** Follow up to this many HTTP redirects (301, 302, 303, 307, 308) during the handshake. Default 0. */
  maxRedirects?: number | undefined;
}

/**
 * The options argument of {@link connect} and `tryConnect()`: optional, unless `Data` does not
 * admit `undefined`; the options must then carry `data`, so that `connection.data` is never
 * undefined. `connect<{ token: string }>(url)` is thus a compile error, and
 * `connect(url, { data: { token } })` infers `Data` from the data.
 */
export type ClientOptionsArgument<Data> = undefined extends Data ? [options?: ClientOptions<Data>] : [options: ClientOptions<Data> & DataRequired<Data>];

const RESPONSE_HEAD_LIMIT = 64 * 1024;
const BODY_PREVIEW = 1024;

/**
 * Opens a client connection: resolves once the handshake succeeded (the connection is open),
 * rejects with {@link HandshakeError} (a non-101 status with its headers and the start of the body,
 * or an invalid answer) or {@link SockwaveError} (network, TLS, timeout, abort). Invalid arguments
 * throw at once: SyntaxError (URL, subprotocols), TypeError (headers, path, proxy, an option of the
 * wrong type), RangeError (deflate options, an option out of range). A user and password in the URL are sent as Basic credentials (unless
 * `headers` has an Authorization), and are left out of error messages and `Connection.url`.
 *
 * @example
 * const conn = await connect('ws://127.0.0.1:8080/echo');
 * conn.on('message', (data) => console.log(data));
 * conn.send('hello');
 */
export function connect<Data = unknown>(url: string | URL, ...[options = {}]: ClientOptionsArgument<Data>): Promise<Connection<Data>> {
  checkClientOptions('connect', options);
  const limit = options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT;
  return follow(url, options, limit > 0 && limit < Infinity ? performance.now() + limit : Infinity);
}

const DEFAULT_CONNECT_TIMEOUT = 10_000;

/** One attempt, then the redirects it leads to, all before `deadline` (performance.now()). */
function follow<Data>(url: string | URL, options: ClientOptions<Data>, deadline: number): Promise<Connection<Data>> {
  const first = attempt(url, options, deadline);
  const redirects = options.maxRedirects ?? 0;
  if (redirects <= 0) return first;
  return first.catch((error: unknown) => {
    // (A proxy's redirect answers CONNECT, not the WebSocket URL: it is not followed.)
    const location = error instanceof HandshakeError && error.code !== 'SW_PROXY_REFUSED' && REDIRECTS.has(error.status) ? error.headers['location'] : undefined;
    if (location === undefined) throw error;
    const from = parseWebSocketUrl(url);
    const to = redirectTarget(location, from);
    // A Location that names no WebSocket URL: the redirect cannot be followed; its answer stands.
    if (to === undefined) throw error;
    return follow(to.href, { ...options, headers: redirectHeaders(from, to, options.headers), maxRedirects: redirects - 1 }, deadline);
  });
}

/** Where a redirect leads: `location` resolved against the URL it answered, without a fragment (RFC 9110 §10.2.2). */
function redirectTarget(location: string, from: ParsedWebSocketUrl): ParsedWebSocketUrl | undefined {
  try {
    const url = new URL(location, from.href.replace(/^ws/, 'http'));
    url.hash = '';
    return parseWebSocketUrl(url);
  } catch {
    return undefined;
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * @internal The headers a redirected handshake sends: credentials (Authorization, Cookie) follow
 * only to the same host and never from wss: down to ws:, where they would cross in plain text.
 */
export function redirectHeaders(from: ParsedWebSocketUrl, to: ParsedWebSocketUrl, headers: ClientOptions['headers']): ClientOptions['headers'] {
  return to.hostHeader === from.hostHeader && (to.secure || !from.secure) ? headers : withoutCredentials(headers);
}

/** The user and password of the URL, as an Authorization header, unless the headers carry one. */
function withBasicAuth(headers: ClientOptions['headers'], basicAuth: string | undefined): ClientOptions['headers'] {
  if (basicAuth === undefined || (headers && Object.keys(headers).some((name) => name.toLowerCase() === 'authorization'))) return headers;
  return { ...headers, Authorization: basicAuth };
}

function withoutCredentials(headers: ClientOptions['headers']): ClientOptions['headers'] {
  if (!headers) return headers;
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !['authorization', 'cookie'].includes(name.toLowerCase())));
}

/** One handshake attempt (no redirects), to finish before `deadline` (performance.now(); Infinity: none). */
function attempt<Data>(url: string | URL, options: ClientOptions<Data>, deadline: number): Promise<Connection<Data>> {
  const target = parseWebSocketUrl(url);
  const protocols = options.protocols ?? [];
  checkSubprotocolNames(protocols);
  const key = generateKey();
  const maxPayload = options.maxPayload ?? 100 * 1024 * 1024;
  const deflate = clientDeflate(options.perMessageDeflate, maxPayload);
  const request = buildUpgradeRequest({
    extensions: deflate.offer,
    host: target.hostHeader,
    path: target.resource,
    key,
    protocols,
    origin: options.origin,
    headers: withBasicAuth(options.headers, target.basicAuth),
  });
  // (An invalid proxy option or variable is an invalid argument: it throws now.)
  const proxy = options.socketPath === undefined ? resolveProxy(target.hostname, target.port, target.secure, options.proxy) : undefined;
  if (options.signal?.aborted) return Promise.reject(abortError(options.signal));

  return new Promise<Connection<Data>>((resolve, reject) => {
    const dialing = new AbortController();
    let socket: Socket | undefined;
    let buffered: Buffer = Buffer.alloc(0);
    let settled = false;
    let bodyTimer: NodeJS.Timeout | undefined;
    let bodyWaitOver = false;
    const timedOut = (): void => fail(new SockwaveError('SW_HANDSHAKE_TIMEOUT', `timed out connecting to ${target.shown}`));
    const timer = deadline === Infinity ? undefined : setTimeout(timedOut, timerDelay(Math.max(0, deadline - performance.now())));
    const signal = options.signal ?? undefined;
    const unwatch = signal === undefined ? undefined : watchAbort(signal, () => fail(abortError(signal)));

    const cleanup = (): void => {
      settled = true;
      clearTimeout(timer);
      clearTimeout(bodyTimer);
      unwatch?.();
      socket?.removeListener('data', onData);
      socket?.removeListener('error', onError);
      socket?.removeListener('close', onClose);
    };
    const fail = (error: Error): void => {
      if (settled) return;
      cleanup();
      dialing.abort();
      socket?.on('error', () => {});
      socket?.destroy();
      reject(error);
    };
    const onError = (error: NodeJS.ErrnoException): void => {
      fail(new SockwaveError('SW_SOCKET_ERROR', `${describeSocketError(error)} (${target.shown})`, { cause: error }));
    };
    const onClose = (): void => {
      if (buffered.length > 0) tryResponse(true);
      fail(new SockwaveError('SW_SOCKET_ERROR', `the server closed the connection during the handshake (${target.shown})`));
    };
    const onData = (chunk: Buffer): void => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      tryResponse(false);
    };
    const tryResponse = (ended: boolean): void => {
      if (settled) return;
      const end = findResponseHeadEnd(buffered);
      if (end === -1 || end > RESPONSE_HEAD_LIMIT) {
        if (end > RESPONSE_HEAD_LIMIT || buffered.length > RESPONSE_HEAD_LIMIT) fail(withUrl(new HandshakeError(0, 'the server response head is too large'), target.shown));
        return;
      }
      let response;
      try {
        response = parseResponseHead(buffered.subarray(0, end));
      } catch (error) {
        fail(withUrl(error as SockwaveError, target.shown));
        return;
      }
      // An interim answer (100 Continue, 103 Early Hints...) comes before the final one (RFC 9110
      // §15.2): skipped.
      if (response.status >= 100 && response.status < 200 && response.status !== 101) {
        buffered = buffered.subarray(end);
        return tryResponse(ended);
      }
      const rest = buffered.subarray(end);
      let result;
      let codec;
      try {
        if (response.status !== 101) {
          // Report the start of the body with the status; wait for it briefly, not for the socket's end.
          const preview = bodyPreview(response.headers, rest, ended || bodyWaitOver, BODY_PREVIEW);
          if (preview === undefined) {
            bodyTimer ??= setTimeout(() => {
              bodyWaitOver = true;
              tryResponse(false);
            }, BODY_PREVIEW_WAIT);
            return;
          }
          validateUpgradeResponse(response, key, protocols, preview);
        }
        result = validateUpgradeResponse(response, key, protocols, '', true);
        codec = deflate.accept(result.extensions);
      } catch (error) {
        fail(error instanceof SockwaveError ? withUrl(error, target.shown) : (error as Error));
        return;
      }
      cleanup();
      socket!.pause();
      const connection = new Connection<Data>(socket!, {
        role: 'client',
        maxPayload,
        deflate: codec,
        autoPong: options.autoPong,
        closeTimeout: options.closeTimeout,
        highWaterMark: options.highWaterMark,
        url: target.shown,
        headers: response.headers,
        rawHeaders: linesIfRepeated(response.headers, response.rawHeaders),
        protocol: result.protocol,
        extensions: result.extensions,
        handler: options.handler,
        data: options.data as Data,
      });
      try {
        connection.open();
      } catch (error) {
        // The handler's onOpen threw: connect() rejects with what it threw, and the connection,
        // which nobody holds, is closed with 1011, as a server closes one whose onOpen threw (its
        // close handshake runs on, bounded by closeTimeout; the handler hears of it).
        connection.close(1011, 'internal error');
        connection.startReading();
        reject(error as Error);
        return;
      }
      // The bytes after the answer go back to the (paused) socket, ahead of anything it reads
      // next: a FIN read meanwhile then waits behind them, as it waits behind unread data.
      if (rest.length !== 0) socket!.unshift(rest);
      resolve(connection);
      // Let the caller attach listeners (after its await) before the first message is read.
      setImmediate(() => connection.startReading());
    };
    dial({ host: target.hostname, port: target.port, secure: target.secure, tls: options.tls, proxy, proxyTls: options.proxyTls, socketPath: options.socketPath }, dialing.signal).then(
      (ready) => {
        if (settled) {
          ready.destroy();
          return;
        }
        socket = ready;
        ready.on('data', onData);
        ready.on('error', onError);
        ready.on('close', onClose);
        ready.resume();
        ready.write(request);
      },
      (error: NodeJS.ErrnoException) => {
        fail(error instanceof SockwaveError ? withUrl(error, target.shown) : new SockwaveError('SW_SOCKET_ERROR', `${describeSocketError(error)} (${target.shown})`, { cause: error }));
      },
    );
  });
}

/** The error with the URL it concerns: in its message, and as `url` for a HandshakeError (which keeps its class, status, headers and body). */
function withUrl(error: SockwaveError, href: string): SockwaveError {
  if (error.code === 'SW_ABORTED' || (error.message.includes(href) && !(error instanceof HandshakeError && error.url === undefined))) return error;
  const message = error.message.includes(href) ? error.message : `${error.message} (${href})`;
  if (error instanceof HandshakeError) return new HandshakeError(error.status, message, error.headers, error.body, error.code, { cause: error, url: href, rawHeaders: error.rawHeaders });
  return new SockwaveError(error.code, message, { cause: error });
}

function abortError(signal: AbortSignal): SockwaveError {
  return new SockwaveError('SW_ABORTED', 'the connection attempt was aborted', { cause: signal.reason });
}

/** A one-line description of a network error a person understands. */
export function describeSocketError(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'ECONNRESET':
      return 'connection reset by the server';
    case 'ETIMEDOUT':
      return 'connection timed out';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    default: {
      const inWords = tlsFailureInWords(error.code, 'server');
      if (inWords !== undefined) return `TLS error: ${inWords}`;
      // (OpenSSL's messages end with a line break.)
      if (error.code?.startsWith('ERR_TLS') || /certificate|SSL|TLS/i.test(error.message)) return `TLS error: ${error.message.trim()}`;
      return error.message.trim();
    }
  }
}
