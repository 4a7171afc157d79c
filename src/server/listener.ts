import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';

/**
 * The standalone server's listening socket: plain TCP, or TLS when `tls` is given. Every accepted
 * socket goes to `accept`; a client that fails the TLS handshake is dropped (after telling
 * `tlsHandshakeTimedOut` when it stalled), so that it does not hold the listener open.
 */
export function createListener(tls: TlsOptions | undefined, handshakeTimeout: number, accept: (socket: Socket) => void, tlsHandshakeTimedOut: (address: string) => void): NetServer {
  if (!tls) return createNetServer({ allowHalfOpen: true, noDelay: true }, accept);
  // Beyond the RFC: no TLS version older than 1.2 unless asked for.
  // A peer that stalls or vanishes in the TLS handshake is dropped after handshakeTimeout.
  const listener = createTlsServer({ minVersion: 'TLSv1.2', handshakeTimeout, ...tls, allowHalfOpen: true }, accept);
  listener.on('tlsClientError', (error: NodeJS.ErrnoException, socket) => {
    if (error.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') tlsHandshakeTimedOut(socket.remoteAddress ?? '');
    socket.destroy();
  });
  return listener;
}
