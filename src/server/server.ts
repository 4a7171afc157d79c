import { EventEmitter } from 'node:events';
import { type IncomingMessage, type Server as HttpServer } from 'node:http';
import { type Duplex } from 'node:stream';
import { type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { HandshakeError, SockwaveError } from '../errors.js';
import { requestHeadOf, type RequestHead } from '../handshake/http-head.js';
import { buildAcceptResponse, buildRefusalResponse, isUpgradeRequest, validateUpgradeRequest } from '../handshake/server-handshake.js';
import { toUpgradeRequest, type UpgradeRequest } from '../handshake/upgrade-request.js';
import { Connection, type CloseInfo, type ConnectionOwner } from '../io/connection.js';
import { type SendData } from '../io/payload.js';
import { CloseCode } from '../protocol/close-codes.js';
import { originAllowed, Refusal, type AdmissionResult, type ConnectionSetup, type OnConnection } from './admission.js';
import { serverDeflate } from '../extensions/permessage-deflate/handshake.js';
import { type PerMessageDeflate } from '../extensions/permessage-deflate/codec.js';
import { HeadReader } from './handshake-reader.js';
import { chooseSubprotocol, connectionSettings, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, DEFAULT_MAX_HEADER_BYTES, DEFAULT_MAX_PAYLOAD, type ServerOptions } from './options.js';
import { LimitGuard } from './limit-guard.js';
import { SocketTracker } from './socket-tracker.js';
import { type LimitName } from '../io/limits.js';
import { endAnswered, serializePlainResponse, toPlainRequest } from './plain-http.js';
import { closeGracefully } from './graceful-close.js';
import { createListener } from './listener.js';
import { ClientRegistry } from './registry.js';
import { FanOut, fanOutTo, type BroadcastOptions, type FanOutOptions, type TargetResult } from './fan-out.js';
import { type Backplane } from './backplane.js';
import { deliverEnvelope, exceptIds } from './cluster-delivery.js';
import { MemoryBackplane } from './memory-backplane.js';
import { TopicRegistry } from './topics.js';
import { Heartbeat } from './heartbeat.js';
import { checkServerDeflateOption } from '../extensions/permessage-deflate/handshake.js';
import { attachTo } from './attach.js';
import { ConnectionStats } from '../io/connection-stats.js';
import { summarize, type ServerCounters, type ServerStats } from './stats.js';
import { type CloseServerOptions, type ListenInfo, type ServerEvents } from './server-types.js';

export type { BroadcastOptions, CloseServerOptions, ListenInfo, ServerEvents };

/**
 * A WebSocket server: standalone (it owns a `net`/`tls` listener and parses upgrade requests
 * itself) or attached to an existing HTTP(S) server through {@link WebSocketServer.handleUpgrade}.
 *
 * @example
 * const server = new WebSocketServer({ port: 8080 });
 * server.route('/echo', () => ({ onMessage: (conn, data) => conn.send(data) }));
 * await server.listen();
 */
export class WebSocketServer<Data = unknown> extends EventEmitter<ServerEvents<Data>> implements ConnectionOwner {
  readonly clients = new ClientRegistry<Data>();
  private readonly topics = new TopicRegistry();
  private options: ServerOptions<Data>;
  /** What every connection gets from the options (made once; listen() overrides none of it). */
  private settings: ReturnType<typeof connectionSettings> | undefined;
  private readonly retired = new ConnectionStats();
  private readonly guard = new LimitGuard((event) => {
    if (this.listenerCount('limit') !== 0) this.emit('limit', event);
  });
  private readonly counters: ServerCounters = { connectionsTotal: 0, refused: 0, heartbeatTimeouts: 0, idleTimeouts: 0, closeCodes: new Map(), limits: this.guard.counters };
  private readonly heartbeat: Heartbeat;
  private readonly routes = new Map<string, OnConnection<Data>>();
  private readonly paths: ReadonlySet<string> | undefined;
  private listener: NetServer | undefined;
  private readonly sockets = new SocketTracker(this.guard);
  private readonly heads: HeadReader;
  private closing = false;
  private readonly backplane: Backplane;

  constructor(options: ServerOptions<Data> = {}) {
    super();
    // An invalid deflate option throws here, not at every upgrade.
    checkServerDeflateOption(options.perMessageDeflate);
    this.options = options;
    this.backplane = options.backplane ?? new MemoryBackplane();
    this.backplane.start({
      deliver: (envelope) => deliverEnvelope(envelope, this.clients as ClientRegistry<unknown>, this.topics),
      presence: () => ({ connections: this.clients.size, topics: this.topics.counts() }),
      report: (event) => void this.emit('backplane', event),
    });
    this.heads = new HeadReader(
      {
        headRead: (socket, head, rest) => this.upgrade(socket, head, rest),
        headFailed: (socket, error) => this.headFailed(socket, error),
        // Nothing was asked: not a refusal (not counted, no 'refused' event).
        headAbandoned: (socket) => {
          this.sockets.handshakeEnded(socket);
          socket.destroy();
        },
      },
      options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES,
      options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT,
    );
    this.paths = options.path === undefined ? undefined : new Set(typeof options.path === 'string' ? [options.path] : options.path);
    this.heartbeat = new Heartbeat(
      () => this.clients as Iterable<Connection<unknown>>,
      { pingInterval: options.pingInterval ?? 0, pongTimeout: options.pongTimeout ?? 10_000, idleTimeout: options.idleTimeout ?? 0 },
      this.counters,
    );
  }

  /** The paths this server accepts upgrades on (undefined: any). */
  get acceptedPaths(): ReadonlySet<string> | undefined {
    return this.paths;
  }

  /**
   * Whether an upgrade for `path` is this server's (its `path` option, or one of its routes).
   * Never once closed: a server attached in its place on the same HTTP server takes the path.
   */
  servesPath(path: string): boolean {
    if (this.closing) return false;
    if (this.paths) return this.paths.has(path);
    return this.routes.size === 0 || this.routes.has(path) || this.options.onConnection !== undefined;
  }

  /** Traffic and lifecycle counters, live connections included. */
  stats(): ServerStats {
    return summarize(this.counters, this.retired, this.clients as Iterable<Connection<unknown>>, this.clients.size);
  }

  /** Sends upgrade requests for `path` to this admission function (before `onConnection`). */
  route(path: string, onConnection: OnConnection<Data>): this {
    this.routes.set(path, onConnection);
    return this;
  }

  /**
   * Starts listening (standalone mode). After `stop()`, it may listen again, with changed
   * `port`, `host`, `backlog` or `tls`. After `close()` it may not (SW_INVALID_STATE): close()
   * ends the server for good, its backplane included.
   */
  async listen(overrides: Pick<ServerOptions<Data>, 'port' | 'host' | 'backlog' | 'tls'> = {}): Promise<ListenInfo> {
    if (this.closing) throw new SockwaveError('SW_INVALID_STATE', 'the server was closed: close() ends it for good (stop() only stops accepting)');
    if (this.listener) throw new SockwaveError('SW_INVALID_STATE', 'the server is already listening');
    this.options = { ...this.options, ...overrides };
    const listener = createListener(this.options.tls, this.options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT, {
      accept: (socket, arrival) => this.acceptSocket(socket, arrival),
      tcpArrived: (raw) => this.tcpArrived(raw),
      tlsHandshakeTimedOut: (address) => this.guard.hit('handshakeTimeout', address, 'TLS handshake not completed in time'),
    });
    // Set before listening, so that a second listen() meanwhile is refused; cleared if it fails
    // (EADDRINUSE...), so that the server can listen again.
    this.listener = listener;
    try {
      await new Promise<void>((resolve, reject) => {
        listener.once('error', reject);
        listener.listen({ port: this.options.port ?? 0, host: this.options.host, backlog: this.options.backlog }, () => {
          listener.removeListener('error', reject);
          resolve();
        });
      });
    } catch (error) {
      if (this.listener === listener) this.listener = undefined;
      throw error;
    }
    listener.on('error', (error) => this.reportError(error));
    this.heartbeat.start();
    this.emit('listening');
    return this.address()!;
  }

  /** Where the server listens, once it does. */
  address(): ListenInfo | undefined {
    const address = this.listener?.address() as AddressInfo | null | undefined;
    if (!address) return undefined;
    const host = address.address;
    const shown = host.includes(':') ? `[${host}]` : host;
    return { host, port: address.port, url: `${this.options.tls ? 'wss' : 'ws'}://${shown}:${address.port}` };
  }

  /**
   * Serves upgrades arriving at an existing server: an `http`/`https` server (by path, shared with
   * other sockwave servers attached to it: see `path`), or a raw `net`/`tls` server (for SNI).
   * @example wss.attach(httpServer); // then httpServer.listen(...)
   */
  attach(server: HttpServer | NetServer): this {
    attachTo(server, this);
    this.heartbeat.start();
    return this;
  }

  /**
   * Takes over an upgrade request from an `http`/`https` server's 'upgrade' event. Once the
   * server is closed, it answers 503.
   * @example httpServer.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head));
   */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Node's 'upgrade' event types the socket as a Duplex; it is the request's net/tls socket.
    const raw = socket as Socket;
    raw.on('error', ignoreError);
    // Closed for good: an answer, not a socket dropped in silence.
    if (this.closing) return this.refuseSocket(raw, 503, {}, 'the WebSocket server is closed');
    if (!this.trackAddress(raw)) return;
    this.upgrade(raw, requestHeadOf(request), head);
  }

  /**
   * Sends one message to every open client, except those in `except` and those `filter` rejects.
   * It is framed once (compressed once, with permessage-deflate) and the same bytes are written to
   * every receiver. Returns the number of receivers, or with `report: true` a result per receiver.
   */
  broadcast(data: SendData, options: BroadcastOptions<Data> & { report: true }): TargetResult[];
  broadcast(data: SendData, options?: BroadcastOptions<Data>): number;
  broadcast(data: SendData, options: BroadcastOptions<Data> = {}): number | TargetResult[] {
    const message = new FanOut(data, options);
    // (Read once: `except` may be an iterable that can be read only once, and both need it.)
    const except = options.except === undefined ? undefined : [...options.except];
    this.backplane.publish({ kind: 'broadcast', ...message.payload, except: except && exceptIds(except) });
    return fanOutTo(this.clients, message, except === undefined ? options : { ...options, except });
  }

  /**
   * Sends one message to the connections with these ids: a result per id. Ids of no local
   * connection go through the backplane to the other nodes (`remote: true`, `success`: the
   * backplane took it); with the default backplane (a cluster of one) they fail.
   */
  sendTo(ids: Iterable<string>, data: SendData, options: FanOutOptions = {}): TargetResult[] {
    const message = new FanOut(data, options);
    const results: TargetResult[] = [];
    const remote: number[] = [];
    for (const id of ids) {
      const connection = this.clients.get(id);
      if (!connection) remote.push(results.length);
      results.push(connection ? message.report(connection as Connection<unknown>) : { id, success: false, payloadSize: message.payloadSize, wireSize: 0, compressed: false });
    }
    if (remote.length > 0 && this.backplane.publish({ kind: 'direct', ids: remote.map((at) => results[at]!.id), ...message.payload })) {
      for (const at of remote) results[at] = { ...results[at]!, success: true, remote: true };
    }
    return results;
  }

  /** Sends one message to every subscriber of `topic` (framed and compressed once). */
  publish(topic: string, data: SendData, options: BroadcastOptions<Data> & { report: true }): TargetResult[];
  publish(topic: string, data: SendData, options?: BroadcastOptions<Data>): number;
  publish(topic: string, data: SendData, options: BroadcastOptions<Data> = {}): number | TargetResult[] {
    const message = new FanOut(data, options);
    // (Read once: `except` may be an iterable that can be read only once, and both need it.)
    const except = options.except === undefined ? undefined : [...options.except];
    this.backplane.publish({ kind: 'topic', topic, ...message.payload, except: except && exceptIds(except) });
    return fanOutTo(this.topics.subscribers(topic) as ReadonlySet<Connection<Data>>, message, except === undefined ? options : { ...options, except });
  }

  /** How many connections of this server are subscribed to `topic`. */
  subscriberCount(topic: string): number {
    return this.topics.count(topic);
  }

  /** Subscribers of `topic` on every live node of the cluster (this one included). */
  clusterSubscriberCount(topic: string): Promise<number> {
    return this.backplane.subscriberCount(topic);
  }

  /** Open connections on every live node of the cluster (this one included). */
  clusterConnectionCount(): Promise<number> {
    return this.backplane.connectionCount();
  }

  /** @internal */
  subscribe(connection: Connection<unknown>, topic: string): boolean {
    return this.presenceChanged(this.topics.add(connection, topic));
  }

  /** @internal */
  unsubscribe(connection: Connection<unknown>, topic: string): boolean {
    return this.presenceChanged(this.topics.remove(connection, topic));
  }

  private presenceChanged(changed = true): boolean {
    if (changed) this.backplane.presenceChanged();
    return changed;
  }

  /** Stops accepting new connections; open ones stay (and keep working). */
  async stop(): Promise<void> {
    const listener = this.listener;
    if (!listener) return;
    this.listener = undefined;
    // net.Server.close() stops accepting at once; its callback waits for every connection to end,
    // which is not what stop() means, so it is not awaited.
    listener.close();
  }

  /**
   * Graceful shutdown: stops accepting, sends a close frame (default 1001) to every client, waits
   * up to `timeout` for them to finish, then terminates the rest, and leaves the backplane's
   * cluster. Resolves when all are gone. The server cannot listen again afterwards.
   */
  async close(options: CloseServerOptions = {}): Promise<void> {
    this.closing = true;
    const stopped = this.stop();
    this.sockets.dropHandshakes();
    await closeGracefully([...this.clients], options.code ?? CloseCode.GoingAway, options.reason ?? '', options.timeout ?? 5000);
    await stopped;
    this.heartbeat.stop();
    await this.backplane.close();
    this.emit('close');
  }

  /** @internal */
  droppedAfterClose(): void {
    this.retired.dropped++;
  }

  /** @internal */
  connectionClosed(connection: Connection<unknown>, info: CloseInfo): void {
    this.clients.delete(connection as Connection<Data>);
    this.sockets.release(connection.remoteAddress);
    this.presenceChanged();
    const counted = connection.statsIfAny;
    if (counted !== undefined) this.retired.add(counted);
    this.counters.closeCodes.set(info.code, (this.counters.closeCodes.get(info.code) ?? 0) + 1);
  }

  /**
   * @internal Takes a raw socket whose first bytes are an HTTP request (standalone or attached
   * mode). A TLS socket of this server's own listener comes with the TCP socket under it, counted
   * since its arrival (see {@link tcpArrived}), and its handshake time runs from then.
   */
  acceptSocket(socket: Socket, arrival?: { raw: Socket; at: number }): void {
    socket.on('error', ignoreError);
    if (this.closing) {
      socket.destroy();
      return;
    }
    if (arrival === undefined) {
      if (!this.trackAddress(socket)) return;
      this.sockets.handshakeStarted(socket);
    } else if (!this.sockets.transfer(arrival.raw, socket)) {
      socket.destroy();
      return;
    }
    this.heads.read(socket, arrival?.at);
  }

  /**
   * A TCP connection reached this server's TLS listener: counted under its address from now on,
   * and in its handshake (for close()). Past `maxConnectionsPerAddress` it is dropped at once (a
   * limit hit, no answer): no HTTP answer can reach a client before its TLS handshake.
   */
  private tcpArrived(raw: Socket): boolean {
    raw.on('error', ignoreError);
    if (this.closing || !this.sockets.count(raw, this.options.maxConnectionsPerAddress ?? DEFAULT_MAX_CONNECTIONS_PER_ADDRESS)) {
      raw.destroy();
      return false;
    }
    this.sockets.handshakeStarted(raw);
    return true;
  }

  private headFailed(socket: Socket, error: HandshakeError): void {
    const status = error.status;
    if (status === 408 || status === 431) this.guard.hit(status === 408 ? 'handshakeTimeout' : 'maxHeaderBytes', socket.remoteAddress ?? '', error.message);
    if (status === 408) socket.destroy();
    else this.refuseSocket(socket, status, {}, error.message);
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
        deflate = serverDeflate(this.options.perMessageDeflate, offer.extensions, this.options.maxPayload ?? DEFAULT_MAX_PAYLOAD);
      } catch (error) {
        if (!(error instanceof HandshakeError)) throw error;
        return this.refuseSocket(socket, error.status, error.headers, error.message);
      }
      const secure = socket instanceof TLSSocket;
      const request = toUpgradeRequest(head, offer.protocols, { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0, secure });
      if (this.paths && !this.paths.has(request.path)) return this.refuseSocket(socket, 404, {}, 'no WebSocket endpoint at this path');
      if (!originAllowed(this.options.origins, request)) return this.refuseSocket(socket, 403, {}, 'origin not allowed');
      if (this.refusedAsFull(socket)) return;
      const admit = this.routes.get(request.path) ?? this.options.onConnection ?? (this.routes.size === 0 ? acceptAll : undefined);
      if (!admit) return this.refuseSocket(socket, 404, {}, 'no WebSocket endpoint at this path');
      const setup = admit(request);
      if (!(setup instanceof Promise)) return this.admitted(socket, request, offer.key, setup, rest, deflate, head.text);
      setup.then(
        (result) => this.admitted(socket, request, offer.key, result, rest, deflate, head.text),
        (error: unknown) => this.upgradeFailed(socket, error),
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
    setup: AdmissionResult<Data>,
    rest: Buffer,
    deflate: { response: string; codec: PerMessageDeflate } | undefined,
    headText: string | undefined,
  ): void {
    try {
      if (socket.destroyed || this.closing) {
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
    const max = this.options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    if (this.clients.size < max) return false;
    this.guard.hit('maxConnections', socket.remoteAddress ?? '', `${max} connections open`);
    this.refuseSocket(socket, 503, { 'Retry-After': String(this.options.retryAfter ?? 5) }, 'too many connections');
    return true;
  }

  /** Admission or an application callback threw before the 101: reported, and the request answered 500. */
  private upgradeFailed(socket: Socket, error: unknown): void {
    this.reportError(error instanceof Error ? error : new Error(String(error)));
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
    const protocol = chooseSubprotocol(setup.protocol, request, this.options.protocols);
    // Built before the hand-over: a bad extra header throws here, and the socket is refused (500).
    const response = buildAcceptResponse(key, { protocol, extensions: deflate?.response, headers: setup.headers });
    socket.removeListener('error', ignoreError);
    socket.write(response);
    let connection: Connection<Data> | undefined;
    try {
      const limits = (this.settings ??= connectionSettings(this.options));
      connection = new Connection<Data>(socket, {
        role: 'server',
        // The limits, and the settings every connection of this server shares. Copied field by
        // field: spreading them into this literal cost about 40 µs of CPU per connection (measured).
        maxPayload: limits.maxPayload,
        maxFragments: limits.maxFragments,
        autoPong: limits.autoPong,
        settings: limits.settings,
        url: request.url,
        // The head's text, not the header object: parsed again only if the application asks.
        headers: headText ?? request.headers,
        protocol,
        extensions: deflate?.response,
        deflate: deflate?.codec,
        handler: setup,
        data: setup.data as Data,
        owner: this,
      });
      this.clients.add(connection);
      this.presenceChanged();
      this.counters.connectionsTotal++;
      this.heartbeat.start();
      // From here the connection's close releases the socket's per-address count: handed over only
      // now, so that had anything above thrown, the socket's own close still releases it, and once
      // open() has bound the connection to the socket (before it runs onOpen).
      this.sockets.handOver(socket);
      connection.open();
      this.emit('connection', connection, request);
      connection.startReading(rest);
    } catch (error) {
      // The 101 is out: the socket speaks WebSocket now, so a throw from onOpen, a 'connection'
      // listener or a handler of the bytes that came with the request ends it with 1011, never
      // with an HTTP answer.
      this.reportError(error instanceof Error ? error : new Error(String(error)));
      if (connection !== undefined && connection.status !== 'connecting') {
        connection.close(CloseCode.InternalError, 'internal server error');
        // Read on, for the peer's close frame (the bytes that came with the request are dropped).
        connection.startReading();
      } else {
        if (connection !== undefined) this.clients.delete(connection);
        socket.destroy();
      }
    }
  }

  private async plainRequest(socket: Socket, head: RequestHead): Promise<void> {
    const handler = this.options.onHttpRequest;
    if (!handler) return this.refuseSocket(socket, 426, {}, 'this is a WebSocket endpoint: upgrade required');
    const response = await handler(toPlainRequest(head));
    const bytes = serializePlainResponse(response, head.method);
    // Answered like a refusal: no longer a handshake, and still counted under its address until
    // it closes, which endAnswered() bounds.
    this.sockets.handshakeEnded(socket);
    endAnswered(socket, bytes);
  }

  private refuseSocket(socket: Socket, status: number, headers: Readonly<Record<string, string | readonly string[]>>, body: string): void {
    // Built first: a header value the head cannot carry (CR/LF) throws here, before this refusal
    // is counted or reported, and the caller answers 500 instead (counted and reported once).
    const response = buildRefusalResponse(status, headers, body);
    this.sockets.handshakeEnded(socket);
    this.counters.refused++;
    this.emit('refused', status, body);
    endAnswered(socket, response);
  }

  /** Counts a socket under its address until it closes; past `maxConnectionsPerAddress`, refuses it with 429. */
  private trackAddress(socket: Socket): boolean {
    if (this.sockets.count(socket, this.options.maxConnectionsPerAddress ?? DEFAULT_MAX_CONNECTIONS_PER_ADDRESS)) return true;
    this.refuseSocket(socket, 429, { 'Retry-After': String(this.options.retryAfter ?? 5) }, 'too many connections from this address');
    return false;
  }

  /** @internal A connection hit a limit. */
  limitReached(connection: Connection<unknown>, limit: LimitName, detail: string): void {
    this.guard.hit(limit, connection.remoteAddress, detail, connection.id);
  }

  private reportError(error: Error): void {
    if (this.listenerCount('error') !== 0) this.emit('error', error);
  }
}

function ignoreError(): void {}

/** With no routes and no onConnection, every upgrade is accepted (listen to the 'connection' event). */
function acceptAll(): ConnectionSetup<never> {
  return {};
}
