import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket, type TlsOptions } from 'node:tls';
import { coarseClock } from '../io/coarse-clock.js';
import { acceptLentSockets } from '../io/lent-accept.js';
import { timerDelay } from '../io/timer-delay.js';
import { definedOnly } from '../defined-only.js';

/** What a listener tells its server. */
export interface ListenerSink {
  /**
   * A socket whose first bytes are the request: plain TCP, or TLS once its handshake is done. For
   * TLS, `arrival` is the TCP socket under it and when it arrived (monotonic clock), as it was
   * told to {@link tcpArrived}.
   */
  accept(socket: Socket, arrival?: { raw: Socket; at: number }): void;
  /** TLS only: a TCP connection arrived and starts its TLS handshake; false when it was dropped. */
  tcpArrived(raw: Socket): boolean;
  /** TLS only: a TLS handshake was not completed within `handshakeTimeout`. */
  tlsHandshakeTimedOut(address: string): void;
}

/**
 * The standalone server's listening socket: plain TCP, or TLS when `tls` is given. Every accepted
 * socket goes to `sink.accept`; a client that fails the TLS handshake is dropped (after telling
 * the sink when it stalled), so that it does not hold the listener open. With TLS, the sink hears
 * of each TCP connection on arrival too, so that sockets still in their TLS handshake are counted
 * per address, and `handshakeTimeout` runs from arrival across the TLS handshake and the request.
 */
export function createListener(tls: TlsOptions | undefined, handshakeTimeout: number, sink: ListenerSink): NetServer {
  if (!tls) {
    const listener = createNetServer({ allowHalfOpen: true, noDelay: true }, (socket) => sink.accept(socket));
    // Its sockets read into one shared buffer where Node allows it (see acceptLentSockets).
    acceptLentSockets(listener, (socket) => sink.accept(socket));
    return listener;
  }
  // Beyond the RFC: no TLS version older than 1.2 unless asked for.
  // A peer that stalls or vanishes in the TLS handshake is dropped after handshakeTimeout.
  // (Node throws, on the first connection, for a timeout it cannot hold: Infinity is held to the longest it can.)
  // Half-open only once secure: a client that ends its side during the TLS handshake (a port
  // probe, a health check) is then let go at once, not held until handshakeTimeout.
  const listener = createTlsServer({ minVersion: 'TLSv1.2', handshakeTimeout: timerDelay(handshakeTimeout), ...definedOnly(tls), allowHalfOpen: false });
  // TCP sockets in their TLS handshake, by remote address and port: a TLS socket reports the same
  // pair as the TCP socket under it, which Node's API does not otherwise give.
  const handshaking = new Map<string, { raw: Socket; at: number }>();
  // Added after Node's own 'connection' listener, which has already wrapped the socket in TLS.
  listener.on('connection', (raw: Socket) => {
    const at = coarseClock.monotonic();
    if (!sink.tcpArrived(raw)) return;
    const key = `${raw.remoteAddress ?? ''}|${raw.remotePort ?? 0}`;
    handshaking.set(key, { raw, at });
    raw.once('close', () => {
      if (handshaking.get(key)?.raw === raw) handshaking.delete(key);
    });
  });
  listener.on('secureConnection', (socket: TLSSocket) => {
    // (Before any read: a client's end then leaves our side open, to finish the close handshake.)
    socket.allowHalfOpen = true;
    const key = `${socket.remoteAddress ?? ''}|${socket.remotePort ?? 0}`;
    const arrival = handshaking.get(key);
    handshaking.delete(key);
    sink.accept(socket, arrival);
  });
  listener.on('tlsClientError', (error: NodeJS.ErrnoException, socket) => {
    if (error.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') sink.tlsHandshakeTimedOut(socket.remoteAddress ?? '');
    socket.destroy();
  });
  return listener;
}
