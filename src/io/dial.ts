import { connect as netConnect, type NetConnectOpts, type Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type ConnectionOptions as TlsConnectionOptions, type PeerCertificate } from 'node:tls';
import { SockwaveError } from '../errors.js';
import { BODY_PREVIEW_WAIT } from '../handshake/body-preview.js';
import { connectRequest } from './proxy.js';
import { ProxyAnswer } from './proxy-answer.js';
import { tlsFailureInWords } from './tls-failure.js';
import { LentSocket } from './lent-socket.js';
import { definedOnly } from '../defined-only.js';

/** Where and how to open the transport for a client connection. */
export interface DialTarget {
  host: string;
  port: number;
  secure: boolean;
  /** TLS options (ca, cert, key, servername, rejectUnauthorized, ciphers...). */
  tls?: TlsConnectionOptions | undefined;
  /** Go through this HTTP(S) proxy with CONNECT. */
  proxy?: URL | undefined;
  /** TLS options for the connection to an https:// proxy. */
  proxyTls?: TlsConnectionOptions | undefined;
  /** Connect to this Unix domain socket instead of host:port. */
  socketPath?: string | undefined;
}

/**
 * Opens the transport: TCP or a Unix socket, through an HTTP(S) proxy tunnel when asked, then TLS
 * for wss://. Resolves with a socket ready for the upgrade request. Rejects with the socket's own
 * error (ECONNREFUSED, ECONNRESET, a TLS error: the caller describes it), with a SockwaveError
 * SW_SOCKET_ERROR when the proxy cannot be reached, TLS with it fails or it answers what is not
 * HTTP, with a HandshakeError SW_PROXY_REFUSED when it refuses the tunnel, or SW_ABORTED. Aborting
 * `signal` destroys whatever was opened.
 */
export async function dial(target: DialTarget, signal: AbortSignal): Promise<Socket> {
  let socket: Socket;
  if (target.socketPath !== undefined) {
    socket = await ready(plainSocket({ path: target.socketPath }, !target.secure), 'connect', signal);
  } else if (target.proxy) {
    socket = await tunnel(target, target.proxy, signal);
  } else if (target.secure) {
    return ready(tlsConnect(tlsOptions(target)), 'secureConnect', signal);
  } else {
    return ready(plainSocket({ host: target.host, port: target.port }, true), 'connect', signal);
  }
  if (!target.secure) return socket;
  return ready(tlsConnect({ ...tlsOptions(target), socket }), 'secureConnect', signal);
}

/**
 * A TCP or Unix socket. One a connection reads from directly (no TLS over it) reads into the shared
 * buffer (see LentSocket). Node documents `onread` for `net` sockets only, so TLS sockets, and the
 * sockets under them, read through their stream as usual.
 */
function plainSocket(options: NetConnectOpts, direct: boolean): Socket {
  return direct ? new LentSocket().connect(options) : netConnect(options);
}

function tlsOptions(target: DialTarget): TlsConnectionOptions {
  return secureTo(target.host, target.port, target.tls);
}

/**
 * TLS to host:port with `options`: SNI by name, never for an address (RFC 6066 §3: a `servername`
 * that is an address is checked against the certificate, not sent), and TLS 1.2 at least. A host
 * written with a trailing dot (`example.com.`) is sent without it, as RFC 6066 §3 asks; a
 * `servername` given is sent as it is.
 */
function secureTo(host: string, port: number, options: TlsConnectionOptions | undefined): TlsConnectionOptions {
  const asked = options?.servername;
  const byAddress = asked !== undefined && isIpAddress(asked);
  const servername = byAddress ? undefined : (asked ?? (isIpAddress(host) ? undefined : host.replace(/\.$/, '')));
  return {
    // (Node's tls.connect() refuses some options present as undefined: minDHSize, checkServerIdentity.)
    ...(options && definedOnly(options)),
    ...(byAddress && options?.checkServerIdentity === undefined ? { checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(asked, cert) } : {}),
    host,
    port,
    servername,
    // Beyond the RFC: never negotiate a TLS version older than 1.2.
    minVersion: options?.minVersion ?? 'TLSv1.2',
    ALPNProtocols: ['http/1.1'],
  };
}

/** Waits for a socket's ready event; destroys it on error or abort. */
function ready<T extends Socket>(socket: T, event: 'connect' | 'secureConnect', signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const done = (error?: Error): void => {
      socket.removeListener(event, onReady);
      socket.removeListener('error', onError);
      signal.removeEventListener('abort', onAbort);
      if (!error) return resolve(socket);
      socket.on('error', () => {});
      socket.destroy();
      reject(error);
    };
    const onReady = (): void => done();
    const onError = (error: Error): void => done(error);
    const onAbort = (): void => done(new SockwaveError('SW_ABORTED', 'aborted'));
    if (signal.aborted) return onAbort();
    socket.once(event, onReady);
    socket.once('error', onError);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Opens a CONNECT tunnel to the target through an HTTP(S) proxy. */
async function tunnel(target: DialTarget, proxy: URL, signal: AbortSignal): Promise<Socket> {
  const { host, port } = target;
  const socket = await reachProxy(proxy, target.proxyTls, signal);
  return new Promise<Socket>((resolve, reject) => {
    const answer = new ProxyAnswer();
    let bodyTimer: NodeJS.Timeout | undefined;
    const finish = (error?: Error): void => {
      clearTimeout(bodyTimer);
      socket.removeListener('data', onData);
      socket.removeListener('error', onError);
      socket.removeListener('close', onClose);
      signal.removeEventListener('abort', onAbort);
      if (!error) return resolve(socket);
      socket.on('error', () => {});
      socket.destroy();
      reject(error);
    };
    const onData = (chunk: Buffer): void => {
      const outcome = answer.push(chunk);
      if (outcome === undefined) {
        // A refusal's body is waited for briefly, not until the proxy closes.
        if (answer.refusing) bodyTimer ??= setTimeout(() => finish(answer.end()), BODY_PREVIEW_WAIT);
        return;
      }
      if (!outcome.opened) return finish(outcome.error);
      socket.pause();
      // Bytes after the proxy's answer belong to the tunnel.
      if (outcome.rest.length > 0) socket.unshift(outcome.rest);
      finish();
    };
    // Once a refusal has come, the proxy closing or failing only ends its body.
    const onError = (error: Error): void => finish(answer.refusing ? answer.end() : error);
    const onClose = (): void => finish(answer.end());
    const onAbort = (): void => finish(new SockwaveError('SW_ABORTED', 'aborted'));
    socket.on('data', onData);
    socket.once('error', onError);
    socket.once('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.write(connectRequest(proxy, host, port));
  });
}

/**
 * The connection to the proxy itself: TCP, then TLS for an https:// proxy. A failure names the
 * proxy (never its credentials), as one that could not be reached, or, once TCP is up, as a TLS
 * error with it (its certificate, most often): the target is not at fault either way.
 */
async function reachProxy(proxy: URL, proxyTls: TlsConnectionOptions | undefined, signal: AbortSignal): Promise<Socket> {
  const secure = proxy.protocol === 'https:';
  const port = Number(proxy.port || (secure ? 443 : 80));
  const host = proxy.hostname.startsWith('[') ? proxy.hostname.slice(1, -1) : proxy.hostname;
  const socket = secure ? tlsConnect(secureTo(host, port, proxyTls)) : netConnect({ host, port });
  let reached = false;
  const onConnect = (): void => {
    reached = true;
  };
  socket.once('connect', onConnect);
  try {
    return await ready(socket, secure ? 'secureConnect' : 'connect', signal);
  } catch (error) {
    if (error instanceof SockwaveError && error.code === 'SW_ABORTED') throw error;
    const shown = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    const failure = reached ? `the proxy ${shown}: TLS error` : `the proxy ${shown} could not be reached`;
    // (OpenSSL's messages end with a line break.)
    const cause = tlsFailureInWords((error as NodeJS.ErrnoException).code, 'proxy') ?? (error as Error).message.trim();
    throw new SockwaveError('SW_SOCKET_ERROR', `${failure}: ${cause}`, { cause: error });
  } finally {
    socket.removeListener('connect', onConnect);
  }
}

function isIpAddress(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}
