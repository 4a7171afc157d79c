import { type IncomingMessage, Server as HttpServer } from 'node:http';
import { Server as HttpsServer } from 'node:https';
import { type Server as NetServer, type Socket } from 'node:net';
import { type Duplex } from 'node:stream';
import { Server as TlsServer } from 'node:tls';
import { buildRefusalResponse } from '../handshake/server-handshake.js';

/** What the dispatcher needs from a WebSocket server. */
export interface UpgradeTarget {
  servesPath(path: string): boolean;
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** @internal Takes a raw socket whose first bytes are the upgrade request. */
  acceptSocket(socket: Socket): void;
}

const byHttpServer = new WeakMap<HttpServer | HttpsServer, UpgradeTarget[]>();

/**
 * Attaches a WebSocket server to an existing server:
 * - an `http`/`https` server (Express, Fastify, Hono's node server...): its 'upgrade' requests are
 *   dispatched by path among every sockwave server attached to it; a path none of them serves is
 *   answered 404;
 * - a raw `net` or `tls` server (SNI through its own SNICallback): every connection is treated as
 *   a WebSocket upgrade.
 */
export function attachTo(server: HttpServer | NetServer, target: UpgradeTarget): void {
  // (An https.Server is a tls.Server, not an http.Server: both are HTTP servers here.)
  if (server instanceof HttpServer || server instanceof HttpsServer) {
    let targets = byHttpServer.get(server);
    if (targets === undefined) {
      const list: UpgradeTarget[] = (targets = []);
      byHttpServer.set(server, list);
      server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
        const path = (request.url ?? '/').split('?', 1)[0]!;
        const match = list.find((candidate) => candidate.servesPath(path));
        if (match) return match.handleUpgrade(request, socket, head);
        socket.on('error', () => {});
        socket.end(buildRefusalResponse(404, {}, 'no WebSocket endpoint at this path'));
      });
    }
    if (!targets.includes(target)) targets.push(target);
    return;
  }
  server.on(server instanceof TlsServer ? 'secureConnection' : 'connection', (socket: Socket) => target.acceptSocket(socket));
}
