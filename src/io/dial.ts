import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions as TlsConnectionOptions } from 'node:tls';

/** Where and how to open the transport for a client connection. */
export interface DialTarget {
  host: string;
  port: number;
  secure: boolean;
  /** TLS options (ca, cert, key, servername, rejectUnauthorized, ciphers...). */
  tls?: TlsConnectionOptions | undefined;
}

/**
 * Opens a TCP or TLS socket. The returned socket may still be connecting; the caller waits for
 * `connect` (plain) or `secureConnect` (TLS), named by `readyEvent`.
 */
export function dial(target: DialTarget): { socket: Socket; readyEvent: 'connect' | 'secureConnect' } {
  if (target.secure) {
    const servername = target.tls?.servername ?? (isIpAddress(target.host) ? undefined : target.host);
    const socket = tlsConnect({
      ...target.tls,
      host: target.host,
      port: target.port,
      servername,
      // Beyond the RFC: never negotiate a TLS version older than 1.2.
      minVersion: target.tls?.minVersion ?? 'TLSv1.2',
      ALPNProtocols: ['http/1.1'],
    });
    return { socket, readyEvent: 'secureConnect' };
  }
  return { socket: netConnect({ host: target.host, port: target.port }), readyEvent: 'connect' };
}

function isIpAddress(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}
