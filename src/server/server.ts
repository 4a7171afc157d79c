import { EventEmitter } from 'node:events';
import { type IncomingMessage, type Server as HttpServer } from 'node:http';
import { type Duplex } from 'node:stream';
import { type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { UsageError } from '../errors.js';
import { type Connection, type CloseInfo, type ConnectionOwner } from '../io/connection.js';
import { type SendData } from '../io/payload.js';
import { checkNumber, checkType, shown } from '../option-checks.js';
import { checkFanOutOptions, exceptList } from '../io/send-checks.js';
import { CloseCode, encodeClosePayload } from '../protocol/close-codes.js';
import { type OnConnection } from './admission.js';
import { checkServerOptions, DEFAULT_HANDSHAKE_TIMEOUT, type ServerOptions } from './options.js';
import { LimitGuard } from './limit-guard.js';
import { SocketTracker } from './socket-tracker.js';
import { type LimitName } from '../io/limits.js';
import { GracefulClose } from './graceful-close.js';
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
import { UpgradeFlow, type UpgradeHost } from './upgrade-flow.js';
import { definedOnly } from '../defined-only.js';

export type { BroadcastOptions, CloseServerOptions, ListenInfo, ServerEvents };

/**
 * A WebSocket server: standalone (it owns a `net`/`tls` listener and parses upgrade requests
 * itself) or attached to an existing HTTP(S) server through {@link WebSocketServer.handleUpgrade}.
 * `Data` is the type of each connection's `data`, which admission gives (a compile error where it
 * may not: {@link AdmissionResult}). A server with no route and no `onConnection` accepts every
 * upgrade with no data: its `Data` must then admit `undefined` (the default, `unknown`, does).
 *
 * @example
 * const server = new WebSocketServer({ port: 8080 });
 * server.route('/echo', () => ({ onMessage: (conn, data) => conn.send(data) }));
 * await server.listen();
 */
export class WebSocketServer<Data = unknown> extends EventEmitter<ServerEvents<Data>> {
  readonly clients = new ClientRegistry<Data>();
  private readonly topics = new TopicRegistry();
  private options: ServerOptions<Data>;
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
  /** Every socket and upgrade request, from its arrival to its 101 or its refusal. */
  private readonly upgrades: UpgradeFlow<Data>;
  private closing = false;
  /** close()'s promise, once called. */
  private shutdown: Promise<void> | undefined;
  /** close()'s wait for the connections, told of each close. */
  private graceful: GracefulClose | undefined;
  /** Undo each attach(): stop() (and so close()) runs them. */
  private readonly detachers: (() => void)[] = [];
  private readonly backplane: Backplane;

  /** Throws a TypeError or RangeError, naming it, for an option of the wrong type or out of range. */
  constructor(options: ServerOptions<Data> = {}) {
    super();
    // An invalid option throws here, not at every upgrade.
    checkServerOptions(options);
    checkServerDeflateOption(options.perMessageDeflate);
    this.options = options;
    this.backplane = options.backplane ?? new MemoryBackplane();
    this.backplane.start({
      deliver: (envelope) => deliverEnvelope(envelope, this.clients as ClientRegistry<unknown>, this.topics),
      presence: () => ({ connections: this.clients.size, topics: this.topics.counts() }),
      report: (event) => void this.emit('backplane', event),
    });
    this.paths = options.path === undefined ? undefined : new Set(typeof options.path === 'string' ? [options.path] : options.path);
    this.heartbeat = new Heartbeat(
      () => this.clients as Iterable<Connection<unknown>>,
      { pingInterval: options.pingInterval ?? 0, pongTimeout: options.pongTimeout ?? 10_000, idleTimeout: options.idleTimeout ?? 0 },
      this.counters,
    );
    this.upgrades = new UpgradeFlow(this.upgradeHost());
  }

  /**
   * What the upgrade flow sees of this server (made once): `options` and `closing` through getters,
   * since listen() and close() change them; the parts it works with as they are; and what it
   * reports, through the server's events.
   */
  private upgradeHost(): UpgradeHost<Data> {
    const server = this;
    return {
      get options() {
        return server.options;
      },
      get closing() {
        return server.closing;
      },
      // (Not `implements`: these methods are internal, left out of the published types.)
      owner: this satisfies ConnectionOwner,
      clients: this.clients,
      routes: this.routes,
      paths: this.paths,
      sockets: this.sockets,
      guard: this.guard,
      counters: this.counters,
      heartbeat: this.heartbeat,
      presenceChanged: () => void this.presenceChanged(),
      connected: (connection, request) => void this.emit('connection', connection, request),
      refused: (status, reason) => void this.emit('refused', status, reason),
      reportError: (error) => this.reportError(error),
    };
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
   * ends the server for good, its backplane included. A stop() or close() before it is
   * listening rejects it (SW_INVALID_STATE). A failure to listen rejects with Node's own error
   * (EADDRINUSE, EACCES...), as `net.Server` reports it.
   */
  async listen(overrides: Pick<ServerOptions<Data>, 'port' | 'host' | 'backlog' | 'tls'> = {}): Promise<ListenInfo> {
    if (this.closing) throw new UsageError('SW_INVALID_STATE', 'the server was closed: close() ends it for good (stop() only stops accepting)');
    if (this.listener) throw new UsageError('SW_INVALID_STATE', 'the server is already listening');
    checkServerOptions(overrides);
    // (An override given as undefined leaves the constructor's value: `listen({ tls: config.tls })`
    // with no TLS configured must not turn a wss:// server into a ws:// one.)
    this.options = { ...this.options, ...definedOnly(overrides) };
    const listener = createListener(this.options.tls, this.options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT, {
      accept: (socket, arrival) => this.upgrades.acceptSocket(socket, arrival),
      tcpArrived: (raw) => this.upgrades.tcpArrived(raw),
      tlsHandshakeTimedOut: (address) => this.guard.hit('handshakeTimeout', address, 'TLS handshake not completed in time'),
    });
    // Set before listening, so that a second listen() meanwhile is refused; cleared if it fails
    // (EADDRINUSE...), so that the server can listen again.
    this.listener = listener;
    try {
      await new Promise<void>((resolve, reject) => {
        // stop() or close() before the listener was listening: Node then never calls back, and
        // emits 'close'.
        const closed = (): void => reject(new UsageError('SW_INVALID_STATE', 'stop() or close() was called before the server was listening'));
        listener.once('error', reject);
        listener.once('close', closed);
        listener.listen({ port: this.options.port ?? 0, host: this.options.host, backlog: this.options.backlog }, () => {
          listener.removeListener('error', reject);
          listener.removeListener('close', closed);
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
   * Serves upgrades arriving at an existing server: an `http`/`https` server, or an `http2` one
   * with `allowHTTP1` (by path, shared with other sockwave servers attached to it: see `path`; a
   * path none of them serves is left to the server's other 'upgrade' listeners, or answered 404
   * when it has none), or a raw `net`/`tls` server (for SNI; one sockwave server at a time).
   * `stop()` and `close()` detach it from every one of them. Throws SW_INVALID_STATE once the
   * server is closed, or when another sockwave server is attached to the same raw server.
   * @example wss.attach(httpServer); // then httpServer.listen(...)
   */
  attach(server: HttpServer | NetServer): this {
    if (this.closing) throw new UsageError('SW_INVALID_STATE', 'the server was closed: close() ends it for good');
    this.detachers.push(attachTo(server, this));
    this.heartbeat.start();
    return this;
  }

  /**
   * Takes over an upgrade request from an `http`/`https` server's 'upgrade' event. Once the
   * server is closed, it answers 503.
   * @example httpServer.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head));
   */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.upgrades.handleUpgrade(request, socket, head);
  }

  /**
   * Sends one message to every open client, except those in `except` and those `filter` rejects.
   * It is framed once (compressed once, with permessage-deflate) and the same bytes are written to
   * every receiver. Returns the number of receivers, or with `report: true` a result per receiver.
   */
  broadcast(data: SendData, options: BroadcastOptions<Data> & { report: true }): TargetResult[];
  broadcast(data: SendData, options?: BroadcastOptions<Data> & { report?: false | undefined }): number;
  broadcast(data: SendData, options?: BroadcastOptions<Data>): number | TargetResult[];
  broadcast(data: SendData, options: BroadcastOptions<Data> = {}): number | TargetResult[] {
    const message = new FanOut('broadcast', data, options);
    // (Read once: `except` may be an iterable that can be read only once, and both need it.)
    const except = exceptList('broadcast', options.except) as (Connection<Data> | string)[] | undefined;
    checkFanOutOptions('broadcast', options, except);
    this.backplane.publish({ kind: 'broadcast', ...message.payload, except: except && exceptIds(except) });
    return fanOutTo(this.clients, message, except === undefined ? options : { ...options, except });
  }

  /**
   * Sends one message to the connections with these ids: a result per id. Ids of no local
   * connection go through the backplane to the other nodes (`remote: true`, `success`: the
   * backplane took it); with the default backplane (a cluster of one) they fail.
   */
  sendTo(ids: Iterable<string>, data: SendData, options: FanOutOptions = {}): TargetResult[] {
    const message = new FanOut('sendTo', data, options);
    if (typeof ids === 'string') throw new TypeError('sendTo: ids is an iterable of connection ids (an array), not one string');
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
  publish(topic: string, data: SendData, options?: BroadcastOptions<Data> & { report?: false | undefined }): number;
  publish(topic: string, data: SendData, options?: BroadcastOptions<Data>): number | TargetResult[];
  publish(topic: string, data: SendData, options: BroadcastOptions<Data> = {}): number | TargetResult[] {
    if (typeof topic !== 'string') throw new TypeError(`publish: a topic is a string, not ${shown(topic)}`);
    const message = new FanOut('publish', data, options);
    // (Read once: `except` may be an iterable that can be read only once, and both need it.)
    const except = exceptList('publish', options.except) as (Connection<Data> | string)[] | undefined;
    checkFanOutOptions('publish', options, except);
    this.backplane.publish({ kind: 'topic', topic, ...message.payload, except: except && exceptIds(except) });
    const fanOutOptions = except === undefined ? options : { ...options, except };
    return this.topics.publishTo(topic, (subscribers) => fanOutTo(subscribers as ReadonlySet<Connection<Data>>, message, fanOutOptions));
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

  /**
   * Stops accepting new connections; open ones stay (and keep working). Closes its own listener
   * and detaches from every server it was attached to (their upgrades go to their other 'upgrade'
   * listeners, as after close()). It may then listen() or attach() again. An upgrade the
   * application hands to {@link handleUpgrade} itself is still served.
   */
  async stop(): Promise<void> {
    for (const detach of this.detachers.splice(0)) detach();
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
   * cluster. A request already read and waiting for an asynchronous `onConnection` (or
   * `onHttpRequest`) is answered 503 with Retry-After; one still arriving is dropped. Resolves
   * when all are gone. The server cannot listen again afterwards. A code that may not be sent, a reason over 123 bytes, or a timeout that is not a number from 0 (Infinity:
   * wait for every client), rejects with a RangeError or TypeError and changes nothing; a later
   * call returns the first one's promise.
   */
  close(options: CloseServerOptions = {}): Promise<void> {
    if (this.shutdown !== undefined) return this.shutdown;
    let code: number;
    let reason: string;
    try {
      checkType('close', 'options', options, 'object');
      // (NaN or a negative timeout would cut every client off at once, mid-flush.)
      checkNumber('close', 'timeout', options.timeout, { infinite: true });
      code = options.code ?? CloseCode.GoingAway;
      reason = options.reason ?? '';
      encodeClosePayload(code, reason);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return (this.shutdown = this.shutDown(code, reason, options.timeout ?? 5000));
  }

  private async shutDown(code: number, reason: string, timeout: number): Promise<void> {
    this.closing = true;
    // Off its listener and the servers it was attached to: an HTTP server's upgrades go to its
    // other listeners now.
    const stopped = this.stop();
    this.upgrades.refuseAwaiting();
    this.sockets.dropHandshakes();
    this.graceful = new GracefulClose(this.clients);
    await this.graceful.run(code, reason, timeout);
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
    this.graceful?.closed(connection);
    this.sockets.release(connection.remoteAddress);
    this.presenceChanged();
    const counted = connection.statsIfAny;
    if (counted !== undefined) this.retired.add(counted);
    this.counters.closeCodes.set(info.code, (this.counters.closeCodes.get(info.code) ?? 0) + 1);
  }

  /**
   * @internal Takes a raw socket whose first bytes are an HTTP request (standalone or attached
   * mode). A TLS socket of this server's own listener comes with the TCP socket under it, counted
   * since its arrival (see {@link UpgradeFlow.tcpArrived}), and its handshake time runs from then.
   */
  acceptSocket(socket: Socket, arrival?: { raw: Socket; at: number }): void {
    this.upgrades.acceptSocket(socket, arrival);
  }

  /** @internal A connection hit a limit. */
  limitReached(connection: Connection<unknown>, limit: LimitName, detail: string): void {
    this.guard.hit(limit, connection.remoteAddress, detail, connection.id);
  }

  private reportError(error: Error): void {
    if (this.listenerCount('error') !== 0) this.emit('error', error);
  }
}
