import { EventEmitter } from 'node:events';
import { type IncomingMessage } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, TLSSocket } from 'node:tls';
import { HandshakeError, SockwaveError } from '../errors.js';
import { serializeResponse, type RequestHead } from '../handshake/http-head.js';
import { buildAcceptResponse, buildRefusalResponse, isUpgradeRequest, validateUpgradeRequest } from '../handshake/server-handshake.js';
import { selectSubprotocol } from '../handshake/subprotocols.js';
import { toUpgradeRequest, type UpgradeRequest } from '../handshake/upgrade-request.js';
import { Connection, type ConnectionOwner, type SendOptions } from '../io/connection.js';
import { toPayload, type SendData } from '../io/payload.js';
import { CloseCode } from '../protocol/close-codes.js';
import { encodeMessage } from '../protocol/frame-serializer.js';
import { Opcode } from '../protocol/opcodes.js';
import { Refusal, type ConnectionSetup, type OnConnection } from './admission.js';
import { serverDeflate } from '../extensions/permessage-deflate/handshake.js';
import { type PerMessageDeflate } from '../extensions/permessage-deflate/codec.js';
import { readRequestHead } from './handshake-reader.js';
import { DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_HEADER_BYTES, DEFAULT_MAX_PAYLOAD, type ServerOptions } from './options.js';
import { toPlainRequest } from './plain-http.js';
import { ClientRegistry } from './registry.js';

export interface ServerEvents<Data> {
  connection: [connection: Connection<Data>, request: UpgradeRequest];
  /** A handshake was refused (status sent) or failed. */
  refused: [status: number, reason: string];
  error: [error: Error];
  listening: [];
  close: [];
}

export interface ListenInfo {
  host: string;
  port: number;
  /** `ws://HOST:PORT` (or wss://), IPv6 hosts in brackets. */
  url: string;
}

export interface CloseServerOptions {
  /** Close code sent to every client. Default 1001 (going away). */
  code?: number;
  reason?: string;
  /** Milliseconds to wait for clients to finish the close handshake before terminating them. Default 5000. */
  timeout?: number;
}

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
  private readonly options: ServerOptions<Data>;
  private readonly routes = new Map<string, OnConnection<Data>>();
  private readonly paths: ReadonlySet<string> | undefined;
  private listener: NetServer | undefined;
  private readonly pending = new Set<Socket>();
  private closing = false;

  constructor(options: ServerOptions<Data> = {}) {
    super();
    this.options = options;
    this.paths = options.path === undefined ? undefined : new Set(typeof options.path === 'string' ? [options.path] : options.path);
  }

  /** Sends upgrade requests for `path` to this admission function (before `onConnection`). */
  route(path: string, onConnection: OnConnection<Data>): this {
    this.routes.set(path, onConnection);
    return this;
  }

  /** Starts listening (standalone mode). */
  async listen(): Promise<ListenInfo> {
    if (this.listener) throw new SockwaveError('SW_INVALID_STATE', 'the server is already listening');
    this.closing = false;
    const tlsOptions = this.options.tls;
    const listener: NetServer = tlsOptions
      ? createTlsServer({ ...tlsOptions, allowHalfOpen: true }, (socket) => this.acceptSocket(socket))
      : createNetServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.acceptSocket(socket));
    if (tlsOptions) listener.on('tlsClientError', () => {});
    this.listener = listener;
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen({ port: this.options.port ?? 0, host: this.options.host, backlog: this.options.backlog }, () => {
        listener.removeListener('error', reject);
        resolve();
      });
    });
    listener.on('error', (error) => this.reportError(error));
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
   * Takes over an upgrade request from an `http`/`https` server's 'upgrade' event.
   * @example httpServer.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head));
   */
  handleUpgrade(request: IncomingMessage, socket: Socket, head: Buffer): void {
    const rawHeaders: Array<[string, string]> = [];
    for (let i = 0; i < request.rawHeaders.length; i += 2) rawHeaders.push([request.rawHeaders[i]!.toLowerCase(), request.rawHeaders[i + 1]!]);
    const headers: Record<string, string> = {};
    for (const [name, value] of rawHeaders) headers[name] = name in headers ? `${headers[name]}${name === 'cookie' ? '; ' : ', '}${value}` : value;
    const parsed: RequestHead = { method: request.method ?? 'GET', target: request.url ?? '/', version: `HTTP/${request.httpVersion}`, headers, rawHeaders };
    socket.on('error', ignoreError);
    void this.upgrade(socket, parsed, head);
  }

  /**
   * Sends one message to every open client (or those `filter` keeps). The message is framed once
   * and the same bytes are written to every receiver; with permessage-deflate, it is compressed
   * once for all receivers whose outgoing context resets per message (the server's default).
   * Receivers that kept context takeover get it compressed in their own context. Returns how many
   * clients it was written to.
   */
  broadcast(data: SendData, options?: SendOptions & { filter?: (connection: Connection<Data>) => boolean }): number {
    const payload = toPayload(data, options?.binary ?? false);
    const opcode = payload.binary ? Opcode.Binary : Opcode.Text;
    const bytes = payload.bytes;
    const fragmentSize = options?.fragmentSize;
    const filter = options?.filter;
    let plain: Buffer | undefined;
    let compressed: Map<string, Buffer> | undefined;
    let count = 0;
    for (const connection of this.clients) {
      if (filter && !filter(connection)) continue;
      const codec = connection.deflate;
      let frame: Buffer;
      if (codec !== undefined && codec.shouldCompress(bytes.length)) {
        if (!codec.outboundNoContextTakeover) {
          if (connection.send(bytes, { binary: payload.binary, fragmentSize }) !== 'dropped') count++;
          continue;
        }
        compressed ??= new Map();
        let shared = compressed.get(codec.compressionKey);
        if (shared === undefined) {
          shared = joinFrames(encodeMessage(opcode, codec.compressSync(bytes), { fragmentSize, rsv1: true }));
          compressed.set(codec.compressionKey, shared);
        }
        frame = shared;
      } else {
        frame = plain ??= joinFrames(encodeMessage(opcode, bytes, { fragmentSize }));
      }
      if (connection.sendEncoded(frame) !== 'dropped') count++;
    }
    return count;
  }

  /** Stops accepting new connections; open ones stay. */
  async stop(): Promise<void> {
    const listener = this.listener;
    if (!listener) return;
    this.listener = undefined;
    await new Promise<void>((resolve) => listener.close(() => resolve()));
  }

  /**
   * Graceful shutdown: stops accepting, sends a close frame (default 1001) to every client, waits
   * up to `timeout` for them to finish, then terminates the rest. Resolves when all are gone.
   */
  async close(options: CloseServerOptions = {}): Promise<void> {
    this.closing = true;
    const stopped = this.stop();
    for (const socket of this.pending) socket.destroy();
    const code = options.code ?? CloseCode.GoingAway;
    const all = [...this.clients];
    const gone = all.map((connection) => new Promise<void>((resolve) => {
      if (connection.status === 'closed') return resolve();
      connection.once('close', () => resolve());
    }));
    for (const connection of all) connection.close(code, options.reason ?? '');
    const timeout = options.timeout ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(gone),
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          for (const connection of all) connection.terminate();
          resolve();
        }, timeout);
      }),
    ]);
    clearTimeout(timer);
    await Promise.all(gone);
    await stopped;
    this.emit('close');
  }

  /** @internal */
  connectionClosed(connection: Connection<unknown>): void {
    this.clients.delete(connection as Connection<Data>);
  }

  private acceptSocket(socket: Socket): void {
    socket.on('error', ignoreError);
    if (this.closing) {
      socket.destroy();
      return;
    }
    this.pending.add(socket);
    socket.once('close', () => this.pending.delete(socket));
    readRequestHead(socket, this.options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES, this.options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT).then(
      ({ head, rest }) => this.upgrade(socket, head, rest),
      (error: unknown) => {
        const status = error instanceof HandshakeError ? error.status : 400;
        if (status === 408) socket.destroy();
        else this.refuseSocket(socket, status, {}, error instanceof Error ? error.message : 'bad request');
      },
    );
  }

  private async upgrade(socket: Socket, head: RequestHead, rest: Buffer): Promise<void> {
    try {
      if (!isUpgradeRequest(head)) return await this.plainRequest(socket, head);
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
      const admit = this.routes.get(request.path) ?? this.options.onConnection;
      if (!admit) return this.refuseSocket(socket, 404, {}, 'no WebSocket endpoint at this path');
      let setup = admit(request);
      if (setup instanceof Promise) setup = await setup;
      if (socket.destroyed || this.closing) {
        socket.destroy();
        return;
      }
      if (setup instanceof Refusal) return this.refuseSocket(socket, setup.status, setup.headers, setup.body);
      this.accept(socket, request, offer.key, setup ?? {}, rest, deflate);
    } catch (error) {
      this.reportError(error instanceof Error ? error : new Error(String(error)));
      this.refuseSocket(socket, 500, {}, 'internal server error');
    }
  }

  private accept(
    socket: Socket,
    request: UpgradeRequest,
    key: string,
    setup: ConnectionSetup<Data>,
    rest: Buffer,
    deflate: { response: string; codec: PerMessageDeflate } | undefined,
  ): void {
    let protocol = setup.protocol;
    if (protocol !== undefined && !request.protocols.includes(protocol)) {
      throw new SockwaveError('SW_INVALID_ARGUMENT', `admission chose subprotocol ${JSON.stringify(protocol)}, which the client did not offer`);
    }
    if (protocol === undefined && request.protocols.length > 0) {
      const supported = this.options.protocols;
      protocol = typeof supported === 'function' ? supported(request.protocols, request) : supported ? selectSubprotocol(request.protocols, supported) : undefined;
    }
    this.pending.delete(socket);
    socket.removeListener('error', ignoreError);
    socket.write(buildAcceptResponse(key, { protocol, extensions: deflate?.response, headers: setup.headers }));
    const connection = new Connection<Data>(socket, {
      role: 'server',
      maxPayload: this.options.maxPayload ?? DEFAULT_MAX_PAYLOAD,
      autoPong: this.options.autoPong,
      closeTimeout: this.options.closeTimeout,
      highWaterMark: this.options.highWaterMark,
      url: request.url,
      headers: request.headers,
      protocol,
      extensions: deflate?.response,
      deflate: deflate?.codec,
      handler: setup,
      data: setup.data as Data,
      owner: this,
    });
    this.clients.add(connection);
    connection.open();
    this.emit('connection', connection, request);
    connection.startReading(rest);
  }

  private async plainRequest(socket: Socket, head: RequestHead): Promise<void> {
    const handler = this.options.onHttpRequest;
    if (!handler) return this.refuseSocket(socket, 426, {}, 'this is a WebSocket endpoint: upgrade required');
    const response = await handler(toPlainRequest(head));
    if (socket.destroyed) return;
    const body = response.body ?? '';
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    const headers = { ...response.headers, 'Content-Length': String(bytes.length), Connection: 'close' };
    socket.end(serializeResponse(response.status, headers, head.method === 'HEAD' ? '' : bytes));
  }

  private refuseSocket(socket: Socket, status: number, headers: Readonly<Record<string, string | readonly string[]>>, body: string): void {
    this.pending.delete(socket);
    this.emit('refused', status, body);
    if (socket.destroyed) return;
    socket.end(buildRefusalResponse(status, headers, body));
    // Do not wait forever for a peer that never reads its refusal.
    setTimeout(() => socket.destroy(), 2000).unref();
  }

  private reportError(error: Error): void {
    if (this.listenerCount('error') !== 0) this.emit('error', error);
  }
}

function ignoreError(): void {}

function joinFrames(frames: Buffer[]): Buffer {
  return frames.length === 1 ? frames[0]! : Buffer.concat(frames);
}
