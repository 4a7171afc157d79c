/**
 * Helpers for end-to-end tests over real sockets (127.0.0.1, port 0 only):
 * - bounded waits ({@link withTimeout}, {@link Queue}, {@link nextEvent}) that FAIL a test instead of hanging;
 * - a sockwave server and a `ws` server started on a free port, with a `close()` that never hangs;
 * - recorders that turn the events of a sockwave Connection or a `ws` socket into queues;
 * - a raw TCP client that writes arbitrary bytes and reads HTTP answers and server frames back;
 * - a raw TCP server (accepts, never answers) and a free-port finder (connection refused);
 * - a connected pair of plain TCP sockets.
 */
import { type TestContext } from 'node:test';
import { createHash, randomBytes } from 'node:crypto';
import { once, type EventEmitter } from 'node:events';
import { connect as netConnect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import WebSocket, { WebSocketServer as WsServer, type ServerOptions as WsServerOptions } from 'ws';
import {
  WebSocketServer,
  type CloseInfo,
  type Connection,
  type ServerOptions,
  type SockwaveError,
  type UpgradeRequest,
} from '../../src/index.js';

/** How long a test waits for one thing before failing. */
export const WAIT_MS = 5000;

// ---------------------------------------------------------------------------------------------
// Bounded waiting

export class TimeoutError extends Error {}

/** Resolves like `promise`, or rejects with a TimeoutError naming `label` after `ms`. */
export function withTimeout<T>(promise: Promise<T>, label: string, ms: number = WAIT_MS): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new TimeoutError(`timed out after ${ms} ms waiting for ${label}`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** A promise settled from outside. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** The arguments of the next `event` emitted by `emitter`, within `ms`. */
export function nextEvent<A extends unknown[] = unknown[]>(emitter: EventEmitter, event: string, label = event, ms: number = WAIT_MS): Promise<A> {
  const { promise, resolve } = deferred<A>();
  const listener = (...args: unknown[]): void => resolve(args as A);
  emitter.once(event, listener);
  return withTimeout(promise, label, ms).finally(() => emitter.removeListener(event, listener));
}

/** Items pushed by event handlers, taken in order by the test with bounded waits. */
export class Queue<T> {
  /** Everything ever pushed, in order. */
  readonly history: T[] = [];
  private readonly items: T[] = [];
  private readonly waiters: Array<(item: T) => void> = [];

  push(item: T): void {
    this.history.push(item);
    const waiter = this.waiters.shift();
    if (waiter) waiter(item);
    else this.items.push(item);
  }

  /** Items pushed and not yet taken. */
  get pending(): number {
    return this.items.length;
  }

  /** The next item, or a TimeoutError after `ms`. */
  next(label = 'the next item', ms: number = WAIT_MS): Promise<T> {
    if (this.items.length > 0) return Promise.resolve(this.items.shift()!);
    const { promise, resolve } = deferred<T>();
    this.waiters.push(resolve);
    return withTimeout(promise, label, ms).catch((error: unknown) => {
      const at = this.waiters.indexOf(resolve);
      if (at !== -1) this.waiters.splice(at, 1);
      throw error;
    });
  }

  /** The next `count` items (one deadline for all of them). */
  async take(count: number, label = `${count} items`, ms: number = WAIT_MS): Promise<T[]> {
    const deadline = Date.now() + ms;
    const out: T[] = [];
    for (let i = 0; i < count; i++) {
      out.push(await this.next(`${label} (got ${i})`, Math.max(1, deadline - Date.now())));
    }
    return out;
  }
}

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Deterministic, non-repeating-looking bytes of any length (fast enough for 16 MiB). */
export function payloadBytes(length: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  let i = 0;
  for (; i + 4 <= length; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out.writeUInt32LE(x, i);
  }
  for (; i < length; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

/** The binary sizes every payload matrix covers: length-form boundaries and a large message. */
export const BINARY_SIZES: readonly number[] = [0, 125, 126, 65535, 65536, 16 * 1024 * 1024];

/** Text with 1-, 2-, 3- and 4-byte UTF-8 code points, emoji sequences included. */
export const MULTIBYTE_TEXTS: readonly string[] = [
  'plain ascii',
  'é ñ ü ß',
  '€ 中文 ひらがな',
  '𝄞 𐍈 😀',
  'mixed: a é € 𝄞 👩‍👩‍👧‍👦 🇫🇷 ✓',
  '😀'.repeat(40_000),
];

// ---------------------------------------------------------------------------------------------
// Recording events

export interface Message {
  data: string | Buffer;
  isBinary: boolean;
}

export interface Fragment {
  data: Buffer;
  isBinary: boolean;
  fin: boolean;
}

/** Queues for every event of a sockwave Connection. */
export interface ConnectionRecord {
  messages: Queue<Message>;
  fragments: Queue<Fragment>;
  pings: Queue<Buffer>;
  pongs: Queue<Buffer>;
  errors: Queue<SockwaveError>;
  closes: Queue<CloseInfo>;
  /** The first CloseInfo (fails after `ms`). */
  closed(ms?: number): Promise<CloseInfo>;
}

/** Records a Connection's events (the EventEmitter style). */
export function record(connection: Connection<unknown>, name = 'connection'): ConnectionRecord {
  const rec = emptyRecord(name);
  connection.on('message', (data, isBinary) => rec.messages.push({ data, isBinary }));
  connection.on('fragment', (data, isBinary, fin) => rec.fragments.push({ data: Buffer.from(data), isBinary, fin }));
  connection.on('ping', (payload) => rec.pings.push(Buffer.from(payload)));
  connection.on('pong', (payload) => rec.pongs.push(Buffer.from(payload)));
  connection.on('error', (error) => rec.errors.push(error));
  connection.on('close', (info) => rec.closes.push(info));
  return rec;
}

/** An empty record, for filling from a handler object. */
export function emptyRecord(name = 'connection'): ConnectionRecord {
  const closes = new Queue<CloseInfo>();
  let first: Promise<CloseInfo> | undefined;
  return {
    messages: new Queue(),
    fragments: new Queue(),
    pings: new Queue(),
    pongs: new Queue(),
    errors: new Queue(),
    closes,
    closed(ms = WAIT_MS) {
      first ??= closes.next(`${name} to close`, ms);
      return first;
    },
  };
}

/** Queues for every event of a `ws` socket. */
export interface WsRecord {
  messages: Queue<{ data: Buffer; isBinary: boolean }>;
  pings: Queue<Buffer>;
  pongs: Queue<Buffer>;
  errors: Queue<Error>;
  /** The close event: code and reason (decoded). */
  closed(ms?: number): Promise<{ code: number; reason: string }>;
}

export function recordWs(ws: WebSocket, name = 'ws socket'): WsRecord {
  const messages = new Queue<{ data: Buffer; isBinary: boolean }>();
  const pings = new Queue<Buffer>();
  const pongs = new Queue<Buffer>();
  const errors = new Queue<Error>();
  const close = deferred<{ code: number; reason: string }>();
  ws.on('message', (data, isBinary) => messages.push({ data: toBuffer(data), isBinary }));
  ws.on('ping', (payload) => pings.push(payload));
  ws.on('pong', (payload) => pongs.push(payload));
  ws.on('error', (error) => errors.push(error));
  ws.on('close', (code, reason) => close.resolve({ code, reason: reason.toString('utf8') }));
  return {
    messages,
    pings,
    pongs,
    errors,
    closed: (ms = WAIT_MS) => withTimeout(close.promise, `${name} to close`, ms),
  };
}

function toBuffer(data: WebSocket.RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

// ---------------------------------------------------------------------------------------------
// Servers

export interface ServerSide<Data> {
  connection: Connection<Data>;
  rec: ConnectionRecord;
  request: UpgradeRequest;
}

export interface StartedServer<Data> {
  server: WebSocketServer<Data>;
  port: number;
  /** `ws://127.0.0.1:PORT` */
  url: string;
  /** Server-side connections, in the order they opened, each recorded from its first event on. */
  connections: Queue<ServerSide<Data>>;
  /** Errors the server reported. */
  errors: Queue<Error>;
  /** Closes every connection (terminating stragglers) and the listener; bounded. */
  close(): Promise<void>;
}

/** A sockwave server on 127.0.0.1, port 0. */
export async function startServer<Data = unknown>(options: ServerOptions<Data> = {}): Promise<StartedServer<Data>> {
  const server = new WebSocketServer<Data>({ ...options, host: '127.0.0.1', port: 0 });
  const connections = new Queue<ServerSide<Data>>();
  const errors = new Queue<Error>();
  server.on('connection', (connection, request) =>
    connections.push({ connection, request, rec: record(connection as Connection<unknown>, 'the server-side connection') }),
  );
  server.on('error', (error) => errors.push(error));
  const info = await withTimeout(server.listen(), 'the sockwave server to listen');
  let closing: Promise<void> | undefined;
  return {
    server,
    port: info.port,
    url: `ws://127.0.0.1:${info.port}`,
    connections,
    errors,
    close() {
      closing ??= withTimeout(server.close({ timeout: 1000 }), 'the sockwave server to close', WAIT_MS).catch((error: unknown) => {
        for (const connection of server.clients) connection.terminate();
        throw error;
      });
      return closing;
    },
  };
}

export interface StartedWsServer {
  wss: WsServer;
  port: number;
  url: string;
  /** Server-side `ws` sockets with their upgrade requests, in order. */
  connections: Queue<{ ws: WebSocket; request: import('node:http').IncomingMessage }>;
  close(): Promise<void>;
}

/** A `ws` server on 127.0.0.1, port 0. */
export async function startWsServer(options: Omit<WsServerOptions, 'host' | 'port' | 'server' | 'noServer'> = {}): Promise<StartedWsServer> {
  const wss = new WsServer({ ...options, host: '127.0.0.1', port: 0 });
  const connections = new Queue<{ ws: WebSocket; request: import('node:http').IncomingMessage }>();
  wss.on('connection', (ws, request) => {
    ws.on('error', () => {});
    connections.push({ ws, request });
  });
  await withTimeout(new Promise<void>((resolve) => wss.once('listening', () => resolve())), 'the ws server to listen');
  const port = (wss.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    wss,
    port,
    url: `ws://127.0.0.1:${port}`,
    connections,
    close() {
      closing ??= withTimeout(
        new Promise<void>((resolve) => {
          for (const ws of wss.clients) ws.terminate();
          wss.close(() => resolve());
        }),
        'the ws server to close',
      );
      return closing;
    },
  };
}

/** Opens a `ws` client and waits for it to open (fails on error or timeout). */
export async function openWs(url: string, protocols?: string | string[], options?: WebSocket.ClientOptions): Promise<WebSocket> {
  const ws = new WebSocket(url, protocols, options);
  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      }),
      `ws client to open ${url}`,
    );
  } catch (error) {
    ws.on('error', () => {});
    ws.terminate();
    throw error;
  }
  return ws;
}

/** Terminates a `ws` client and waits for its close event (bounded). */
export async function closeWs(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return;
  ws.on('error', () => {});
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  ws.terminate();
  await withTimeout(closed, 'ws client to close');
}

/** A TCP server that accepts connections and never answers (handshake timeouts, aborts). */
export async function startSilentServer(): Promise<{ port: number; sockets: Queue<Socket>; close(): Promise<void> }> {
  const open = new Set<Socket>();
  const sockets = new Queue<Socket>();
  const server = createNetServer((socket) => {
    socket.on('error', () => {});
    // Read (and ignore) what arrives, so that the peer's FIN is seen.
    socket.resume();
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    sockets.push(socket);
  });
  await withTimeout(new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve())), 'the silent server to listen');
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    sockets,
    close: () =>
      withTimeout(
        new Promise<void>((resolve) => {
          for (const socket of open) socket.destroy();
          server.close(() => resolve());
        }),
        'the silent server to close',
      ),
  };
}

/** A connected TCP pair on 127.0.0.1, destroyed after the test: `near` is the accepted socket, `far` the client's. */
export async function socketPair(t: TestContext, allowHalfOpen = false): Promise<{ near: Socket; far: Socket }> {
  const server = createNetServer({ allowHalfOpen });
  await withTimeout(new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve())), 'the TCP server to listen');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const far = netConnect((server.address() as AddressInfo).port, '127.0.0.1');
  const [near] = await withTimeout(accepted, 'the TCP connection to be accepted');
  t.after(() => {
    near.destroy();
    far.destroy();
    server.close();
  });
  return { near, far };
}

/** A port on 127.0.0.1 with nobody listening (it was free a moment ago). */
export async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// ---------------------------------------------------------------------------------------------
// Raw TCP client

export interface HttpResponse {
  status: number;
  statusLine: string;
  /** Lower-cased names; repeated ones joined with ", ". */
  headers: Record<string, string>;
  /** Every header line as [lower-cased name, value]. */
  rawHeaders: Array<[string, string]>;
  body: Buffer;
}

export interface ServerFrame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/** A raw TCP client: writes arbitrary bytes, reads what comes back. */
export class RawClient {
  readonly socket: Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private readonly changed = new Set<() => void>();
  /** The peer sent FIN. */
  ended = false;
  /** The socket is fully closed. */
  closed = false;
  error: Error | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.notify();
    });
    socket.on('end', () => {
      this.ended = true;
      this.notify();
    });
    socket.on('error', (error) => {
      this.error = error;
      this.notify();
    });
    socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
  }

  static async connect(port: number): Promise<RawClient> {
    const socket = netConnect({ host: '127.0.0.1', port });
    const client = new RawClient(socket);
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('error', reject);
      }),
      `a raw TCP connection to port ${port}`,
    );
    return client;
  }

  /** Wraps a socket accepted by a test server (and resumes it) to read and write raw bytes. */
  static wrap(socket: Socket): RawClient {
    const client = new RawClient(socket);
    socket.resume();
    return client;
  }

  /** Bytes received and not consumed yet. */
  get received(): Buffer {
    return this.buffer;
  }

  write(data: Uint8Array | string): void {
    this.socket.write(data);
  }

  /** Destroys the socket (idempotent). */
  destroy(): void {
    this.socket.destroy();
  }

  private notify(): void {
    for (const listener of [...this.changed]) listener();
  }

  /**
   * Waits until `check` returns a value other than undefined for the unconsumed bytes. Rejects
   * when the socket closes first, or after `ms`.
   */
  waitFor<T>(check: (buffer: Buffer) => T | undefined, label: string, ms: number = WAIT_MS): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        clearTimeout(timer);
        this.changed.delete(listener);
      };
      const listener = (): void => {
        let value: T | undefined;
        try {
          value = check(this.buffer);
        } catch (error) {
          done();
          reject(error);
          return;
        }
        if (value !== undefined) {
          done();
          resolve(value);
        } else if (this.closed || this.ended) {
          done();
          reject(new Error(`the connection ${this.closed ? 'closed' : 'ended'} while waiting for ${label}; unread: ${preview(this.buffer)}`));
        }
      };
      timer = setTimeout(() => {
        this.changed.delete(listener);
        reject(new TimeoutError(`timed out after ${ms} ms waiting for ${label}; unread: ${preview(this.buffer)}`));
      }, ms);
      this.changed.add(listener);
      listener();
    });
  }

  private consume(length: number): Buffer {
    const out = this.buffer.subarray(0, length);
    this.buffer = this.buffer.subarray(length);
    return out;
  }

  /** Reads one HTTP response: its head, and a body of Content-Length bytes (or up to the close). */
  async readResponse(ms: number = WAIT_MS): Promise<HttpResponse> {
    const headEnd = await this.waitFor((b) => {
      const at = b.indexOf('\r\n\r\n');
      return at === -1 ? undefined : at + 4;
    }, 'an HTTP response head', ms);
    const head = this.consume(headEnd).toString('latin1');
    const lines = head.slice(0, -4).split('\r\n');
    const statusLine = lines.shift()!;
    const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
    if (!match) throw new Error(`not an HTTP response: ${JSON.stringify(statusLine)}`);
    const headers: Record<string, string> = {};
    const rawHeaders: Array<[string, string]> = [];
    for (const line of lines) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      rawHeaders.push([name, value]);
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    }
    let body: Buffer = Buffer.alloc(0);
    const status = Number(match[1]);
    if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      await this.waitFor((b) => (b.length >= length ? true : undefined), `a body of ${length} bytes`, ms);
      body = this.consume(length);
    } else if (status !== 101) {
      await this.waitClosed('the end of a body without Content-Length', ms).catch(() => undefined);
      body = this.consume(this.buffer.length);
    }
    return { status, statusLine, headers, rawHeaders, body };
  }

  /** Reads one frame sent by a server (unmasked, or masked: both are decoded). */
  async readFrame(ms: number = WAIT_MS): Promise<ServerFrame> {
    const frame = await this.waitFor((b) => parseFrame(b), 'a WebSocket frame', ms);
    this.consume(frame.size);
    return frame.frame;
  }

  /** Resolves when the server has closed the connection (FIN received or socket closed). */
  waitClosed(label = 'the server to close the connection', ms: number = WAIT_MS): Promise<void> {
    return this.waitFor(() => (this.ended || this.closed ? true : undefined), label, ms).then(
      () => undefined,
      (error: unknown) => {
        if (this.ended || this.closed) return;
        throw error;
      },
    );
  }
}

function preview(buffer: Buffer): string {
  if (buffer.length === 0) return '(nothing)';
  const text = buffer.subarray(0, 200).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
  return `${buffer.length} bytes: ${JSON.stringify(text)}`;
}

/** Parses one frame at the start of `b`, or undefined while it is incomplete. */
export function parseFrame(b: Buffer): { frame: ServerFrame; size: number } | undefined {
  if (b.length < 2) return undefined;
  const b0 = b[0]!;
  const b1 = b[1]!;
  let length = b1 & 0x7f;
  let p = 2;
  if (length === 126) {
    if (b.length < 4) return undefined;
    length = b.readUInt16BE(2);
    p = 4;
  } else if (length === 127) {
    if (b.length < 10) return undefined;
    length = Number(b.readBigUInt64BE(2));
    p = 10;
  }
  const masked = (b1 & 0x80) !== 0;
  const key = masked ? b.subarray(p, p + 4) : undefined;
  if (masked) p += 4;
  if (b.length < p + length) return undefined;
  const payload = Buffer.from(b.subarray(p, p + length));
  if (key) for (let i = 0; i < payload.length; i++) payload[i]! ^= key[i % 4]!;
  return { frame: { fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 0x7, opcode: b0 & 0x0f, masked, payload }, size: p + length };
}

/** The code and reason of a close frame's payload (1005 when empty). */
export function closePayload(payload: Buffer): { code: number; reason: string } {
  if (payload.length < 2) return { code: 1005, reason: '' };
  return { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString('utf8') };
}

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Sec-WebSocket-Accept for a key, computed here (not with the library). */
export function acceptFor(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/** The bytes of an upgrade request; `extra` lines are added as they are. */
export function upgradeRequest(options: { path?: string; key?: string; version?: string; extra?: readonly string[] } = {}): string {
  const lines = [
    `GET ${options.path ?? '/'} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${options.key ?? randomBytes(16).toString('base64')}`,
    `Sec-WebSocket-Version: ${options.version ?? '13'}`,
    ...(options.extra ?? []),
  ];
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** Connects a raw TCP client and performs the opening handshake by hand; fails unless it gets a valid 101. */
export async function rawUpgrade(port: number, path = '/'): Promise<RawClient> {
  return (await rawUpgradeOffering(port, undefined, path)).raw;
}

/**
 * {@link rawUpgrade}, offering `offer` as Sec-WebSocket-Extensions (none when undefined); also
 * returns the extensions the 101 agreed to ('' when none).
 */
export async function rawUpgradeOffering(port: number, offer: string | undefined, path = '/'): Promise<{ raw: RawClient; extensions: string }> {
  const client = await RawClient.connect(port);
  const key = randomBytes(16).toString('base64');
  client.write(upgradeRequest({ path, key, extra: offer === undefined ? [] : [`Sec-WebSocket-Extensions: ${offer}`] }));
  const response = await client.readResponse();
  if (response.status !== 101) {
    client.destroy();
    throw new Error(`expected 101, got ${response.statusLine}`);
  }
  if (response.headers['sec-websocket-accept'] !== acceptFor(key)) {
    client.destroy();
    throw new Error('invalid Sec-WebSocket-Accept');
  }
  return { raw: client, extensions: response.headers['sec-websocket-extensions'] ?? '' };
}

/** How {@link startRawWsServer} answers and hands over each upgraded socket. */
export interface RawWsServerScript {
  /** Header lines added to the 101, e.g. `Sec-WebSocket-Extensions: permessage-deflate`. */
  headers?: string[];
  /** Hand the socket over paused (default), or flowing for a test that reads with listeners. */
  paused?: boolean;
  /** Called with each socket just before the 101 is written (to add listeners, timers). */
  upgraded?: (socket: Socket) => void;
}

/**
 * A TCP server that completes the WebSocket opening handshake by hand (valid 101, written together
 * with `after101` when given: the same bytes for every connection, or a function of the
 * connection's index from 0), then hands the socket to the test, paused unless the script says
 * otherwise: it reads nothing more until the test resumes it.
 */
export async function startRawWsServer(
  after101: Buffer | ((index: number) => Buffer) = Buffer.alloc(0),
  script: RawWsServerScript = {},
): Promise<{
  port: number;
  url: string;
  sockets: Queue<Socket>;
  close(): Promise<void>;
}> {
  const open = new Set<Socket>();
  const sockets = new Queue<Socket>();
  let upgrades = 0;
  const server = createNetServer((socket) => {
    socket.on('error', () => {});
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.removeListener('data', onData);
      if (script.paused !== false) socket.pause();
      script.upgraded?.(socket);
      const key = /\r\nsec-websocket-key:\s*([^\r]+)\r\n/i.exec(head)?.[1]?.trim() ?? '';
      const lines = ['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${acceptFor(key)}`, ...(script.headers ?? [])];
      const extra = typeof after101 === 'function' ? after101(upgrades++) : after101;
      socket.write(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), extra]));
      sockets.push(socket);
    };
    socket.on('data', onData);
  });
  await withTimeout(new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve())), 'the raw ws server to listen');
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `ws://127.0.0.1:${port}`,
    sockets,
    close: () =>
      withTimeout(
        new Promise<void>((resolve) => {
          for (const socket of open) socket.destroy();
          server.close(() => resolve());
        }),
        'the raw ws server to close',
      ),
  };
}
