import { type IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { Server as HttpsServer } from 'node:https';
import { type Server as NetServer, type Socket } from 'node:net';
import { type Duplex } from 'node:stream';
import { Server as TlsServer } from 'node:tls';
import { buildRefusalResponse } from '../handshake/server-handshake.js';
import { listHasToken } from '../handshake/http-head.js';
import { originForm } from '../handshake/upgrade-request.js';
import { endAnswered } from './plain-http.js';
import { UsageError } from '../errors.js';

/** What the dispatcher needs from a WebSocket server. */
export interface UpgradeTarget {
  servesPath(path: string): boolean;
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** @internal Takes a raw socket whose first bytes are the upgrade request. */
  acceptSocket(socket: Socket): void;
}

/** The sockwave servers attached to one HTTP server, and the one 'upgrade' listener that dispatches among them. */
interface Dispatch {
  readonly targets: UpgradeTarget[];
  readonly listener: (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
}

const byHttpServer = new WeakMap<NetServer, Dispatch>();

/**
 * Attaches a WebSocket server to an existing server, and returns what detaches it:
 * - an `http`/`https` server (Express, Fastify, Hono's node server...), or an `http2` server
 *   with `allowHTTP1` (its HTTP/1.1 upgrades): its 'upgrade' requests are dispatched by path
 *   among every sockwave server attached to it. A path none of them serves is left to the
 *   server's other 'upgrade' listeners (a `ws` server made with `noServer` for another path, say:
 *   one given `{ server }` answers 400 to every path not its own, ours included), and answered
 *   404 when there are none. Once the last one is detached, the listener goes. A request that asks
 *   for another protocol's upgrade (`Upgrade: h2c`) is left to the other 'upgrade' listeners, or
 *   without them answered by the server's 'request' listeners as a plain request, as before the
 *   attach (on a connection that closes after the answer).
 * - a raw `net` or `tls` server (SNI through its own SNICallback): every connection is treated as
 *   a WebSocket upgrade, for one sockwave server at a time (attaching a second one throws a
 *   UsageError). Once detached, its connections are dropped until another sockwave server is
 *   attached to it.
 */
export function attachTo(server: HttpServer | NetServer, target: UpgradeTarget): () => void {
  // (An https.Server is a tls.Server, not an http.Server: both are HTTP servers here.)
  if (server instanceof HttpServer || server instanceof HttpsServer || isHttp2Server(server)) {
    let dispatch = byHttpServer.get(server);
    if (dispatch === undefined) {
      const targets: UpgradeTarget[] = [];
      const listener = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
        // Another protocol's upgrade (h2c, say): not ours. Node sends every request with an
        // Upgrade header here once an 'upgrade' listener exists; the app answers it as it did
        // before we were attached, unless another 'upgrade' listener is there to take it.
        if (!listHasToken(request.headers.upgrade, 'websocket')) {
          if (server.listenerCount('upgrade') > 1) return;
          if (handOverAsRequest(server, request, socket)) return;
        }
        // (An absolute-form target is routed by its path; another form as it is, to be refused.)
        const path = (originForm(request.url ?? '/') ?? request.url ?? '/').split('?', 1)[0]!;
        const match = targets.find((candidate) => candidate.servesPath(path));
        if (match) return match.handleUpgrade(request, socket, head);
        // Another listener may serve this path: then it is theirs to answer.
        if (server.listenerCount('upgrade') > 1) return;
        socket.on('error', () => {});
        endAnswered(socket as Socket, buildRefusalResponse(404, {}, 'no WebSocket endpoint at this path'));
      };
      dispatch = { targets, listener };
      byHttpServer.set(server, dispatch);
      server.on('upgrade', listener);
    }
    const { targets, listener } = dispatch;
    if (!targets.includes(target)) targets.push(target);
    return () => {
      const at = targets.indexOf(target);
      if (at >= 0) targets.splice(at, 1);
      if (targets.length > 0 || byHttpServer.get(server)?.listener !== listener) return;
      server.removeListener('upgrade', listener);
      byHttpServer.delete(server);
    };
  }
  return attachToRaw(server, target);
}

/** A raw server's one connection listener, and the sockwave server it gives connections to (none: dropped). */
interface RawDispatch {
  target: UpgradeTarget | undefined;
}

const byRawServer = new WeakMap<NetServer, RawDispatch>();

/**
 * A raw server has no path to dispatch on: it serves one sockwave server at a time. Its one
 * listener stays once detached, dropping what arrives (not left open with nobody to read it,
 * which would keep the server from closing) until another sockwave server is attached.
 */
function attachToRaw(server: NetServer, target: UpgradeTarget): () => void {
  let dispatch = byRawServer.get(server);
  if (dispatch === undefined) {
    const created: RawDispatch = { target: undefined };
    server.on(server instanceof TlsServer ? 'secureConnection' : 'connection', (socket: Socket) => {
      if (created.target) created.target.acceptSocket(socket);
      else socket.destroy();
    });
    byRawServer.set(server, created);
    dispatch = created;
  }
  if (dispatch.target !== undefined && dispatch.target !== target) {
    throw new UsageError('SW_INVALID_STATE', 'another sockwave server is attached to this net/tls server, which has no paths to share it by: close that one first, or attach both to an http.Server');
  }
  const attached = dispatch;
  attached.target = target;
  return () => {
    if (attached.target === target) attached.target = undefined;
  };
}

/**
 * Gives a request that asked for another protocol's upgrade to the server's 'request' listeners,
 * as a plain request answered on a connection that closes after it (Node's parser has let go of
 * the socket: no keep-alive). Not when it has a body (Node will not read it: the request would
 * never end) or when nobody listens for requests. Returns whether it was handed over.
 */
function handOverAsRequest(server: NetServer, request: IncomingMessage, socket: Duplex): boolean {
  const { 'content-length': length, 'transfer-encoding': encoding } = request.headers;
  if (server.listenerCount('request') === 0 || encoding !== undefined || (length !== undefined && length !== '0')) return false;
  const response = new ServerResponse(request);
  response.shouldKeepAlive = false;
  response.assignSocket(socket as Socket);
  response.on('finish', () => {
    response.detachSocket(socket as Socket);
    (socket as Socket).destroySoon();
  });
  // The request has no body: it ends now (what followed it on the connection is not read).
  request.push(null);
  server.emit('request', request, response);
  return true;
}

/**
 * An `http2` server (Node does not export its classes): with `allowHTTP1`, its HTTP/1.1 clients
 * go through Node's HTTP/1 server code, upgrades included; its HTTP/2 sessions must be left alone.
 */
function isHttp2Server(server: NetServer): boolean {
  const name = server.constructor.name;
  return name === 'Http2SecureServer' || name === 'Http2Server';
}
