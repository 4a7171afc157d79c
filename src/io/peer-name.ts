import { type Socket } from 'node:net';

/**
 * Lets go of the copy of the peer's address Node keeps on a socket once `remoteAddress` or
 * `remotePort` was read while it was open: an object with the address, family and port (about 56
 * bytes), kept for the socket's life. For a holder that keeps the address and port itself (a
 * connection, which answers them after its socket closes): an idle connection then carries them
 * once, not twice. While the socket is open, reading them again on the socket still answers (Node
 * asks the socket's handle again); after it closes, only the holder knows them.
 */
export function forgetPeerName(socket: Socket): void {
  const cached = socket as unknown as { _peername?: object };
  if (cached._peername !== undefined) cached._peername = undefined;
}
