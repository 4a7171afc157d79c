import { channel } from 'node:diagnostics_channel';
import { type Server, type Socket } from 'node:net';
import { LentSocket, type AcceptedHandle } from './lent-socket.js';

/**
 * The parts of Node's `net.Server` this relies on, none of them documented: the listening handle
 * and the callback Node gives it for each accepted connection (`onconnection`), the connection
 * count that `close()` and `getConnections()` read, and the server a socket names, which is what
 * makes its close decrement that count. All are checked before use.
 */
interface ListenerInternals {
  _handle?: { onconnection?: unknown } | null;
  _connections?: number;
}
type OnConnection = (this: unknown, status: number, handle?: AcceptedHandle) => void;
interface AcceptedInternals {
  server: Server | null;
  _server: Server | null;
}
/** What a server publishes for each accepted socket, as Node's own listener does. */
const acceptedChannel = channel('net.server.socket');

/**
 * Makes the plain TCP sockets `listener` accepts {@link LentSocket}s, which read into one buffer
 * that every such socket shares, and hands each to `accept` (instead of the 'connection' event).
 * A read then costs no buffer of its own and no trip through the socket's stream: about a tenth
 * more small echoed messages per second for a bare `net` echo server (`wsload echo -s 16`), and
 * no dearer an accept.
 *
 * Node makes a server's sockets itself, in the callback it gives its listening handle, and offers
 * no `onread` option for them. So once listening, that callback is replaced by one that does
 * what Node's does for a server like ours (no `maxConnections`, `keepAlive`, `pauseOnConnect` or
 * `highWaterMark`), making a LentSocket around the accepted handle. Should Node's internals differ
 * from what {@link ListenerInternals} expects (another version), nothing is replaced and every
 * socket is Node's own: slower, never wrong. A failed accept, or any accept once the server was
 * given `maxConnections`, goes to Node's callback as before.
 */
export function acceptLentSockets(listener: Server, accept: (socket: Socket) => void): void {
  listener.on('listening', () => {
    const internals = listener as Server & ListenerInternals;
    const handle = internals._handle;
    if (handle == null || typeof handle.onconnection !== 'function' || typeof internals._connections !== 'number') return;
    const nodeOnConnection = handle.onconnection as OnConnection;
    handle.onconnection = function onLentConnection(this: unknown, status: number, accepted?: AcceptedHandle): void {
      if (status !== 0 || accepted === undefined || listener.maxConnections) {
        return nodeOnConnection.call(this, status, accepted);
      }
      const socket = new LentSocket(accepted);
      socket.setNoDelay(true);
      internals._connections!++;
      const named = socket as unknown as AcceptedInternals;
      named.server = listener;
      named._server = listener;
      accept(socket);
      if (acceptedChannel.hasSubscribers) acceptedChannel.publish({ socket });
    };
  });
}
