import { type IncomingMessage } from 'node:http';
import { type Socket } from 'node:net';
import { type Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { HandshakeError } from '../errors.js';
import { linesIfRepeated, requestHeadOf, type RequestHead } from '../handshake/http-head.js';
import { buildAcceptResponse, buildRefusalResponse, isUpgradeRequest, validateUpgradeRequest } from '../handshake/server-handshake.js';
import { toUpgradeRequest, type UpgradeRequest } from '../handshake/upgrade-request.js';
import { Connection, type ConnectionOwner } from '../io/connection.js';
import { endedBeforeBinding, lendsReads } from '../io/socket-events.js';
import { CloseCode } from '../protocol/close-codes.js';
import { originAllowed, Refusal, type AdmissionResult, type ConnectionSetup, type OnConnection } from './admission.js';
import { serverDeflate } from '../extensions/permessage-deflate/handshake.js';
import { type PerMessageDeflate } from '../extensions/permessage-deflate/codec.js';
import { HeadReader } from './handshake-reader.js';
import { chooseSubprotocol, connectionSettings, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, DEFAULT_MAX_HEADER_BYTES, DEFAULT_MAX_PAYLOAD, type ServerOptions } from './options.js';
import { type LimitGuard } from './limit-guard.js';
import { type SocketTracker } from './socket-tracker.js';
import { endAnswered, serializePlainResponse, toPlainRequest } from './plain-http.js';
import { type ClientRegistry } from './registry.js';
import { type Heartbeat } from './heartbeat.js';
import { type ServerCounters } from './stats.js';

const EMPTY = Buffer.alloc(0);

/**
 * What the upgrade flow needs of its server: one object, made once per server (nothing per
 * upgrade). The flow keeps no copy of the server's state: it reads through this, so that it always
 * sees the state as it is now.
 */
export interface UpgradeHost<Data> {
  // The server's state, read at each use because it changes:
  /** The server's options as they are now: listen() replaces them with a merged copy. */
  readonly options: ServerOptions<Data>;
  /** close() was called: sockets arriving from now on are dropped, and upgrades admitted get no 101. */
  readonly closing: boolean;

  // The server's parts the flow works with, the same objects for the server's life:
  /** Every accepted connection's owner (the server: registry, topics, limits). */
  readonly owner: ConnectionOwner;
  readonly clients: ClientRegistry<Data>;
  /** Admission functions by path (`route()`); `onConnection` serves the other paths. */
  readonly routes: ReadonlyMap<string, OnConnection<Data>>;
  /** The paths of the `path` option (undefined: any). */
  readonly paths: ReadonlySet<string> | undefined;
  readonly sockets: SocketTracker;
  readonly guard: LimitGuard;
  readonly counters: ServerCounters;
  readonly heartbeat: Heartbeat;

  // What the flow tells the server:
  /** A connection joined `clients`: the cluster's presence changed. */
  presenceChanged(): void;
  /** Emits 'connection'. */
  connected(connection: Connection<Data>, request: UpgradeRequest): void;
  /** Emits 'refused'. */
  refused(status: number, reason: string): void;
  /** Emits 'error', if something listens for it. */
  reportError(error: Error): void;
}

/**
 * A server's upgrade flow, from a socket's arrival to its 101 or its refusal: it counts the socket
 * under its address, reads its request head (standalone mode), validates the request, asks
 * admission, and refuses it with an HTTP status, or accepts it: writes the 101 and makes the
 * {@link Connection}. Plain HTTP requests are answered here too (`onHttpRequest`, else 426).
 */
export class UpgradeFlow<Data> {
  /** What every connection gets from the options (made once; listen() overrides none of it). */
  private settings: ReturnType<typeof connectionSettings> | undefined;
  private readonly heads: HeadReader;
  /** Sockets whose request was read and waits for an asynchronous onConnection or onHttpRequest. */
  private readonly awaiting = new Set<Socket>();

  constructor(private readonly host: UpgradeHost<Data>) {
    const options = host.options;
    this.heads = new HeadReader(
      {
        headRead: (socket, head, rest) => this.upgrade(socket, head, rest),
        headFailed: (socket, error) => this.headFailed(socket, error),
        // Nothing was asked: not a refusal (not counted, no 'refused' event).
        headAbandoned: (socket) => this.abandoned(socket),
      },
      options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES,
      options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
    );
  }

  /** An upgrade request from an `http`/`https` server's 'upgrade' event (see `WebSocketServer.handleUpgrade`). */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Node's 'upgrade' event types the socket as a Duplex; it is the request's net/tls socket.
    const raw = socket as Socket;
    raw.on('error', ignoreError);
    // Closed for good: an answer, not a socket dropped in silence.
    if (this.host.closing) return this.refuseSocket(raw, 503, {}, 'the WebSocket server is closed');
    if (!this.trackAddress(raw)) return;
    // In its handshake until admitted or refused: close() drops it meanwhile.
    this.host.sockets.handshakeStarted(raw);
    this.upgrade(raw, requestHeadOf(request), head);
  }

  /**
   * Takes a raw socket whose first bytes are an HTTP request (standalone or attached mode). A TLS
   * socket of the server's own listener comes with the TCP socket under it, counted since its
   * arrival (see {@link tcpArrived}), and its handshake time runs from then.
   */
  acceptSocket(socket: Socket, arrival?: { raw: Socket; at: number }): void {
    socket.on('error', ignoreError);
    if (this.host.closing) {
      socket.destroy();
      return;
    }
    if (arrival === undefined) {
      if (!this.trackAddress(socket)) return;
      this.host.sockets.handshakeStarted(socket);
    } else if (!this.host.sockets.transfer(arrival.raw, socket)) {
      socket.destroy();
      return;
    }
    this.heads.read(socket, arrival?.at);
  }

  /**
   * A TCP connection reached the server's TLS listener: counted under its address from now on,
   * and in its handshake (for close()). Past `maxConnectionsPerAddress` it is dropped at once (a
   * limit hit, no answer): no HTTP answer can reach a client before its TLS handshake.
   */
  tcpArrived(raw: Socket): boolean {
    raw.on('error', ignoreError);
    if (this.host.closing || !this.host.sockets.count(raw, this.host.options.maxConnectionsPerAddress ?? DEFAULT_MAX_CONNECTIONS_PER_ADDRESS)) {
      raw.destroy();
      return false;
    }
    this.host.sockets.handshakeStarted(raw);
    return true;
  }

  private headFailed(socket: Socket, error: HandshakeError): void {
    // close() ended the sockets still sending their heads: the server's doing, not a refusal.
    if (this.host.closing) return this.abandoned(socket);
    const status = error.status;
    if (status === 408 || status === 431) this.host.guard.hit(status === 408 ? 'handshakeTimeout' : 'maxHeaderBytes', socket.remoteAddress ?? '', error.message);
    if (status === 408) socket.destroy();
    else this.refuseSocket(socket, status, {}, error.message);
  }

  /** A head not sent, or dropped by close(): no answer, and not counted as a refusal. */
  private abandoned(socket: Socket): void {
    this.host.sockets.handshakeEnded(socket);
    socket.destroy();
  }

  /**
   * Answers an upgrade request: validates it, asks admission, and accepts or refuses. All in the
   * same turn when admission answers synchronously (no promise on the way).
   */
  private upgrade(socket: Socket, head: RequestHead, rest: Buffer): void {
    try {
      if (!isUpgradeRequest(head)) {
        this.plainRequest(socket, head).catch((error: unknown) => this.upgradeFailed(socket, error));
        return;
      }
      let offer;
      let deflate;
      try {
        offer = validateUpgradeRequest(head);
        deflate = serverDeflate(this.host.options.perMessageDeflate, offer.extensions, this.host.options.maxPayload ?? DEFAULT_MAX_PAYLOAD);
      } catch (error) {
        if (!(error instanceof HandshakeError)) throw error;
        return this.refuseSocket(socket, error.status, error.headers, error.message);
      }
      const secure = socket instanceof TLSSocket;
      const request = toUpgradeRequest(head, offer.protocols, { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0, secure }, offer.target);
      const { paths, routes } = this.host;
      if (paths && !paths.has(request.path)) return this.refuseSocket(socket, 404, {}, 'no WebSocket endpoint at this path');
      if (!originAllowed(this.host.options.origins, request)) return this.refuseSocket(socket, 403, {}, 'origin not allowed');
      if (this.refusedAsFull(socket)) return;
      const admit = routes.get(request.path) ?? this.host.options.onConnection ?? (routes.size === 0 ? acceptAll : undefined);
      if (!admit) return this.refuseSocket(socket, 404, {}, 'no WebSocket endpoint at this path');
      const setup = admit(request);
      if (!(setup instanceof Promise)) return this.admitted(socket, request, offer.key, setup, rest, deflate, head.text);
      // While admission runs, bytes that came after the head go back to the paused socket: a FIN
      // read meanwhile then waits behind them, as it waits behind unread data. (Not once the
      // socket's 'end' went by, as it can before a late handleUpgrade(): a stream refuses them then.)
      let after = rest;
      if (rest.length !== 0 && !socket.readableEnded) {
        socket.unshift(rest);
        after = EMPTY;
      }
      this.awaiting.add(socket);
      setup.then(
        (result) => {
          this.awaiting.delete(socket);
          this.admitted(socket, request, offer.key, result, after, deflate, head.text);
        },
        (error: unknown) => {
          this.awaiting.delete(socket);
          this.upgradeFailed(socket, error);
        },
      );
    } catch (error) {
      this.upgradeFailed(socket, error);
    }
  }

  /** Admission has answered: accept or refuse, unless the socket or the server went meanwhile. */
  private admitted(
    socket: Socket,
    request: UpgradeRequest,
    key: string,
    setup: AdmissionResult<Data> | undefined,
    rest: Buffer,
    deflate: { response: string; codec: PerMessageDeflate } | undefined,
    headText: string | undefined,
  ): void {
    try {
      // Answered meanwhile: by close() (503), or by the application (an attached server's own
      // 'upgrade' listener, say), and then the socket is theirs. No 101 after an answer.
      if (socket.writableEnded && !socket.destroyed) return this.host.sockets.handshakeEnded(socket);
      if (socket.destroyed || this.host.closing) {
        socket.destroy();
        return;
      }
      if (setup instanceof Refusal) return this.refuseSocket(socket, setup.status, setup.headers, setup.body);
      // Again: other upgrades may have been accepted while an async admission was pending.
      if (this.refusedAsFull(socket)) return;
      this.accept(socket, request, key, setup ?? {}, rest, deflate, headText);
    } catch (error) {
      this.upgradeFailed(socket, error);
    }
  }

  /** At `maxConnections`: refuses the upgrade with 503 and Retry-After, and says so. */
  private refusedAsFull(socket: Socket): boolean {
    const max = this.host.options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    if (this.host.clients.size < max) return false;
    this.host.guard.hit('maxConnections', socket.remoteAddress ?? '', `${max} connection${max === 1 ? '' : 's'} open`);
    this.refuseSocket(socket, 503, { 'Retry-After': String(this.host.options.retryAfter ?? 5) }, 'too many connections');
    return true;
  }

  /**
   * Admission or an application callback threw before the 101: reported, and the request answered
   * 500. Not once close() began (it dropped the socket): a late failure of an asynchronous handler
   * is then neither reported nor counted as a refusal, as a late success is not accepted.
   */
  private upgradeFailed(socket: Socket, error: unknown): void {
    // (An answer already on its way, close()'s 503, is left to finish.)
    if (this.host.closing) return socket.writableEnded ? this.host.sockets.handshakeEnded(socket) : this.abandoned(socket);
    this.host.reportError(error instanceof Error ? error : new Error(String(error)));
    this.refuseSocket(socket, 500, {}, 'internal server error');
  }

  private accept(
    socket: Socket,
    request: UpgradeRequest,
    key: string,
    setup: ConnectionSetup<Data>,
    rest: Buffer,
    deflate: { response: string; codec: PerMessageDeflate } | undefined,
    headText: string | undefined,
  ): void {
    const host = this.host;
    const protocol = chooseSubprotocol(setup.protocol, request, host.options.protocols);
    // Built before the hand-over: a bad extra header throws here, and the socket is refused (500).
    const response = buildAcceptResponse(key, { protocol, extensions: deflate?.response, headers: setup.headers });
    socket.removeListener('error', ignoreError);
    socket.write(response);
    let connection: Connection<Data> | undefined;
    try {
      const limits = (this.settings ??= connectionSettings(host.options));
      connection = new Connection<Data>(socket, {
        role: 'server',
        // The limits, and the settings every connection of this server shares. Copied field by
        // field: spreading them into this literal cost about 40 µs of CPU per connection (measured).
        maxPayload: limits.maxPayload,
        maxFragments: limits.maxFragments,
        autoPong: limits.autoPong,
        settings: limits.settings,
        session: lendsReads(socket) ? limits.lentSession : limits.session,
        url: request.url,
        // The head's text, not the header object: parsed again only if the application asks.
        headers: headText ?? request.headers,
        rawHeaders: headText === undefined ? linesIfRepeated(request.headers, request.rawHeaders) : undefined,
        protocol,
        extensions: deflate?.response,
        deflate: deflate?.codec,
        handler: setup,
        data: setup.data as Data,
        owner: host.owner,
      });
      host.clients.add(connection);
      host.presenceChanged();
      host.counters.connectionsTotal++;
      host.heartbeat.start();
      // From here the connection's close releases the socket's per-address count: handed over only
      // now, so that had anything above thrown, the socket's own close still releases it, and once
      // open() has bound the connection to the socket (before it runs onOpen).
      host.sockets.handOver(socket, connection.remoteAddress);
      connection.open();
      host.connected(connection, request);
      connection.startReading(rest);
      // The socket's 'end' went by before the connection listened for it: a late handleUpgrade(),
      // or a lent socket's FIN read while an asynchronous admission ran (which must wait behind the
      // bytes the socket holds, as it would behind a stream's unread data).
      if (socket.readableEnded) endedBeforeBinding(socket);
    } catch (error) {
      // The 101 is out: the socket speaks WebSocket now, so a throw from onOpen, a 'connection'
      // listener or a handler of the bytes that came with the request ends it with 1011, never
      // with an HTTP answer.
      host.reportError(error instanceof Error ? error : new Error(String(error)));
      if (connection !== undefined && connection.status !== 'connecting') {
        connection.close(CloseCode.InternalError, 'internal server error');
        // Read on, for the peer's close frame. The bytes that came with the request are dropped
        // (they may be what threw), unless an async admission put them back into the socket: then
        // they are read with the rest, as anything the peer sends before its close is.
        connection.startReading();
        // A FIN read before the connection listened for it (as above): ours follows the close frame.
        if (socket.readableEnded) endedBeforeBinding(socket);
      } else {
        if (connection !== undefined) host.clients.delete(connection);
        socket.destroy();
      }
    }
  }

  private async plainRequest(socket: Socket, head: RequestHead): Promise<void> {
    const handler = this.host.options.onHttpRequest;
    if (!handler) return this.refuseSocket(socket, 426, {}, 'this is a WebSocket endpoint: upgrade required', head.method);
    let response;
    this.awaiting.add(socket);
    try {
      response = await handler(toPlainRequest(head));
    } finally {
      this.awaiting.delete(socket);
    }
    // close() answered it meanwhile (503).
    if (socket.writableEnded) return;
    const bytes = serializePlainResponse(response, head.method);
    // Answered like a refusal: no longer a handshake, and still counted under its address until
    // it closes, which endAnswered() bounds.
    this.host.sockets.handshakeEnded(socket);
    endAnswered(socket, bytes);
  }

  /**
   * close() began: every request already read and waiting for the application's answer is
   * answered 503 with Retry-After (a refusal, counted and reported as any), so that its client
   * hears why rather than losing its connection. The application's answer, when it comes, is
   * dropped. Requests not yet read whole are dropped by the server, unanswered.
   */
  refuseAwaiting(): void {
    const retryAfter = { 'Retry-After': String(this.host.options.retryAfter ?? 5) };
    const sockets = [...this.awaiting];
    this.awaiting.clear();
    for (const socket of sockets) {
      if (socket.destroyed || socket.writableEnded) continue;
      try {
        this.refuseSocket(socket, 503, retryAfter, 'the WebSocket server is closing');
      } catch (error) {
        // A 'refused' listener threw: the shutdown goes on, and the error surfaces as a
        // listener's error does elsewhere (uncaught), once this turn is done.
        process.nextTick(() => {
          throw error;
        });
      }
    }
  }

  private refuseSocket(socket: Socket, status: number, headers: Readonly<Record<string, string | readonly string[]>>, body: string, method?: string): void {
    // Built first: a header value the head cannot carry (CR/LF) throws here, before this refusal
    // is counted or reported, and the caller answers 500 instead (counted and reported once).
    const response = buildRefusalResponse(status, headers, body, method);
    this.host.sockets.handshakeEnded(socket);
    this.host.counters.refused++;
    // Answered before the 'refused' event: a listener that throws cannot leave the socket unanswered.
    endAnswered(socket, response);
    this.host.refused(status, body);
  }

  /** Counts a socket under its address until it closes; past `maxConnectionsPerAddress`, refuses it with 429. */
  private trackAddress(socket: Socket): boolean {
    if (this.host.sockets.count(socket, this.host.options.maxConnectionsPerAddress ?? DEFAULT_MAX_CONNECTIONS_PER_ADDRESS)) return true;
    this.refuseSocket(socket, 429, { 'Retry-After': String(this.host.options.retryAfter ?? 5) }, 'too many connections from this address');
    return false;
  }
}

function ignoreError(): void {}

/** With no routes and no onConnection, every upgrade is accepted (listen to the 'connection' event). */
function acceptAll(): undefined {
  return undefined;
}
