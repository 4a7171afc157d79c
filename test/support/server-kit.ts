/**
 * More helpers for server tests over real sockets, on top of ./net.ts:
 * - a sockwave server / ws client tied to a test's lifetime (closed in `t.after`);
 * - a ws client that must be refused, with the status, headers and body it got;
 * - polling with a deadline that FAILS ({@link eventually});
 * - self-signed certificates made with `openssl` at test time (undefined when it is missing);
 * - IPv6 loopback detection;
 * - {@link RawPeer}: a raw WebSocket client that parses frames as a stream (cheap for many MiB),
 *   can stop and resume reading, and answers close frames.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as netConnect, createServer as createNetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext } from 'node:test';
import WebSocket from 'ws';
import { type ServerOptions } from '../../src/index.js';
import { clientFrame, closeBody } from './frames.js';
import {
  Queue,
  TimeoutError,
  WAIT_MS,
  acceptFor,
  closeWs,
  closePayload,
  parseFrame,
  recordWs,
  startServer,
  upgradeRequest,
  withTimeout,
  type ServerFrame,
  type StartedServer,
  type WsRecord,
} from './net.js';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns true; fails with `label` after `ms`. */
export async function eventually(check: () => boolean, label: string, ms: number = WAIT_MS, every = 10): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (check()) return;
    if (Date.now() > deadline) throw new TimeoutError(`timed out after ${ms} ms waiting for ${label}`);
    await sleep(every);
  }
}

/** A sockwave server on 127.0.0.1:0, closed after the test. */
export async function serve<Data = unknown>(t: TestContext, options: ServerOptions<Data> = {}): Promise<StartedServer<Data>> {
  const srv = await startServer<Data>(options);
  t.after(() => srv.close());
  return srv;
}

/**
 * An open ws client with its event record, terminated after the test. The record starts before
 * the handshake, so a message the server sends in onOpen is not missed.
 */
export async function wsClient(
  t: TestContext,
  url: string,
  protocols?: string | string[],
  options?: WebSocket.ClientOptions,
): Promise<{ ws: WebSocket; rec: WsRecord }> {
  const ws = new WebSocket(url, protocols, options);
  const rec = recordWs(ws);
  t.after(() => closeWs(ws));
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_request, response) => reject(new Error(`unexpected response ${response.statusCode} from ${url}`)));
    }),
    `ws client to open ${url}`,
  );
  return { ws, rec };
}

export interface Refused {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Opens a ws client that must be refused: resolves with the HTTP response it got (fails if it opens). */
export async function refusedWs(url: string, protocols?: string | string[], options?: WebSocket.ClientOptions): Promise<Refused> {
  const ws = new WebSocket(url, protocols, options);
  ws.on('error', () => {});
  try {
    return await withTimeout(
      new Promise<Refused>((resolve, reject) => {
        ws.once('open', () => reject(new Error(`the connection to ${url} was accepted`)));
        ws.once('unexpected-response', (_request, response) => {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
          response.on('error', reject);
        });
      }),
      `the refusal of ${url}`,
    );
  } finally {
    ws.terminate();
  }
}

/** Resolves with the error code of a failed TCP connection attempt (fails if it connects). */
export function tcpConnectError(port: number, host = '127.0.0.1'): Promise<string> {
  const socket = netConnect({ port, host });
  return withTimeout(
    new Promise<string>((resolve, reject) => {
      socket.once('connect', () => {
        socket.destroy();
        reject(new Error(`a TCP connection to ${host}:${port} succeeded`));
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    }),
    `a TCP connection attempt to ${host}:${port}`,
  );
}

// ---------------------------------------------------------------------------------------------
// TLS material

let opensslChecked: boolean | undefined;

export function hasOpenssl(): boolean {
  if (opensslChecked === undefined) {
    try {
      execFileSync('openssl', ['version'], { stdio: 'pipe' });
      opensslChecked = true;
    } catch {
      opensslChecked = false;
    }
  }
  return opensslChecked;
}

export interface CertPair {
  cert: string;
  key: string;
}

const certs = new Map<string, CertPair>();

/**
 * A self-signed certificate (an EC P-256 key) for `commonName`, valid for the given DNS names and
 * IP addresses; made once per process. Undefined when `openssl` is not available.
 */
export function selfSigned(commonName = 'localhost', dns: readonly string[] = ['localhost'], ips: readonly string[] = ['127.0.0.1', '::1']): CertPair | undefined {
  if (!hasOpenssl()) return undefined;
  const id = `${commonName}|${dns.join(',')}|${ips.join(',')}`;
  const cached = certs.get(id);
  if (cached) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'sockwave-cert-'));
  try {
    const san = [...dns.map((name) => `DNS:${name}`), ...ips.map((ip) => `IP:${ip}`)].join(',');
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2',
        '-subj', `/CN=${commonName}`, '-addext', `subjectAltName=${san}`,
      ],
      { stdio: 'pipe', timeout: 20_000 },
    );
    const pair = { cert: readFileSync(join(dir, 'cert.pem'), 'utf8'), key: readFileSync(join(dir, 'key.pem'), 'utf8') };
    certs.set(id, pair);
    return pair;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// IPv6

let ipv6: Promise<boolean> | undefined;

/** Whether this machine can listen and connect on the IPv6 loopback (::1). */
export function hasIpv6Loopback(): Promise<boolean> {
  ipv6 ??= new Promise<boolean>((resolve) => {
    const server = createNetServer((socket) => socket.destroy());
    server.once('error', () => resolve(false));
    server.listen(0, '::1', () => {
      const port = (server.address() as { port: number }).port;
      const socket = netConnect({ port, host: '::1' });
      const done = (ok: boolean): void => {
        socket.destroy();
        server.close();
        resolve(ok);
      };
      socket.once('connect', () => done(true));
      socket.once('error', () => done(false));
    });
  });
  return ipv6;
}

// ---------------------------------------------------------------------------------------------
// Raw WebSocket peer

export interface RawPeerOptions {
  host?: string;
  path?: string;
  /** Extra request header lines (e.g. 'Sec-WebSocket-Extensions: permessage-deflate'). */
  extra?: readonly string[];
  /** Keep every frame in `frames` (default true); false only counts them (for many MiB). */
  keepFrames?: boolean;
  /** Answer a close frame with a close frame carrying the same code (default true). */
  echoClose?: boolean;
}

/**
 * A raw WebSocket client: performs the opening handshake by hand (fails unless it gets a valid
 * 101), then parses the server's frames as a stream. `pause()` stops reading from the socket (the
 * server's writes back up in the kernel, then in the server), `resume()` reads again.
 */
export class RawPeer {
  readonly socket: Socket;
  /** Frames read after the handshake, each with its size on the wire. */
  readonly frames = new Queue<ServerFrame & { size: number }>();
  /** Response headers of the 101 (lower-cased names). */
  headers: Record<string, string> = {};
  /** Frames and bytes of frames received after the handshake. */
  frameCount = 0;
  frameBytes = 0;
  /** The close frame received, if any. */
  closeFrame: { code: number; reason: string } | undefined;
  ended = false;
  closed = false;
  private buffer: Buffer = Buffer.alloc(0);
  private readonly keepFrames: boolean;
  private readonly echoClose: boolean;
  private readonly changed = new Set<() => void>();
  private upgraded = false;
  /** Why the handshake failed, if it did. */
  failure: string | undefined;

  private constructor(socket: Socket, options: RawPeerOptions) {
    this.socket = socket;
    this.keepFrames = options.keepFrames ?? true;
    this.echoClose = options.echoClose ?? true;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => {
      this.ended = true;
      this.notify();
    });
    socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
    socket.on('error', () => {});
  }

  static async open(port: number, options: RawPeerOptions = {}): Promise<RawPeer> {
    const socket = netConnect({ port, host: options.host ?? '127.0.0.1' });
    const peer = new RawPeer(socket, options);
    const key = randomBytes(16).toString('base64');
    try {
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          socket.once('connect', () => resolve());
          socket.once('error', reject);
        }),
        `a raw TCP connection to port ${port}`,
      );
      socket.write(upgradeRequest({ path: options.path ?? '/', key, extra: options.extra ?? [] }));
      await peer.until(() => (peer.upgraded ? true : undefined), 'the 101 response');
    } catch (error) {
      socket.destroy();
      throw error;
    }
    if (peer.headers['sec-websocket-accept'] !== acceptFor(key)) {
      socket.destroy();
      throw new Error('invalid Sec-WebSocket-Accept');
    }
    return peer;
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    if (!this.upgraded) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end === -1) return;
      const lines = this.buffer.subarray(0, end).toString('latin1').split('\r\n');
      const status = lines.shift()!;
      if (!/^HTTP\/1\.1 101 /.test(status)) {
        this.failure = `expected 101, got ${status}`;
        this.socket.destroy();
        return;
      }
      for (const line of lines) {
        const colon = line.indexOf(':');
        this.headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      this.buffer = this.buffer.subarray(end + 4);
      this.upgraded = true;
    }
    for (;;) {
      const parsed = parseFrame(this.buffer);
      if (parsed === undefined) break;
      this.buffer = this.buffer.subarray(parsed.size);
      this.frameCount++;
      this.frameBytes += parsed.size;
      const frame = parsed.frame;
      if (frame.opcode === 0x8 && this.closeFrame === undefined) {
        this.closeFrame = closePayload(frame.payload);
        if (this.echoClose && !this.socket.destroyed) {
          const code = this.closeFrame.code === 1005 ? undefined : this.closeFrame.code;
          this.socket.write(clientFrame({ opcode: 0x8, payload: code === undefined ? Buffer.alloc(0) : closeBody(code) }));
        }
      }
      if (this.keepFrames || frame.opcode >= 0x8) this.frames.push({ ...frame, size: parsed.size });
    }
    if (this.buffer.length === 0) this.buffer = Buffer.alloc(0);
    this.notify();
  }

  private notify(): void {
    for (const listener of [...this.changed]) listener();
  }

  /** Waits until `check` returns something; fails after `ms` or when the socket closes first. */
  until<T>(check: () => T | undefined, label: string, ms: number = WAIT_MS): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const listener = (): void => {
        const value = check();
        if (value !== undefined) {
          clearTimeout(timer);
          this.changed.delete(listener);
          resolve(value);
        } else if (this.closed) {
          clearTimeout(timer);
          this.changed.delete(listener);
          reject(new Error(`the connection closed while waiting for ${label}${this.failure ? ` (${this.failure})` : ''}`));
        }
      };
      const timer = setTimeout(() => {
        this.changed.delete(listener);
        reject(new TimeoutError(`timed out after ${ms} ms waiting for ${label} (${this.frameCount} frames, ${this.frameBytes} bytes so far)`));
      }, ms);
      this.changed.add(listener);
      listener();
    });
  }

  /** Resolves once the server closed the TCP connection (FIN or close). */
  waitClosed(label = 'the server to close the connection', ms: number = WAIT_MS): Promise<void> {
    return this.until(() => (this.ended || this.closed ? true : undefined), label, ms).then(
      () => undefined,
      (error: unknown) => {
        if (this.ended || this.closed) return;
        throw error;
      },
    );
  }

  /** Sends a masked frame. */
  send(opcode: number, payload: Buffer | string = Buffer.alloc(0), fin = true): void {
    this.socket.write(clientFrame({ opcode, payload, fin }));
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Lets pending I/O callbacks and timers run once. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

// ---------------------------------------------------------------------------------------------
// Isolated scenarios

export interface IsolatedRun {
  /** Exit code (null when killed). */
  code: number | null;
  /** stdout and stderr together. */
  output: string;
  /** It was still running after `ms` and was killed. */
  timedOut: boolean;
}

/**
 * Runs an ES module script in a separate Node process (for scenarios that may hang or starve the
 * event loop: the test process must stay healthy). `{{index}}` in the script is replaced by the
 * URL of src/index.js. Killed after `ms`.
 */
export function runIsolated(t: TestContext, script: string, ms = 10_000): Promise<IsolatedRun> {
  const index = new URL('../../src/index.js', import.meta.url).href;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script.replaceAll('{{index}}', index)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: new URL('../../', import.meta.url),
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return new Promise((resolve) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, ms);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output, timedOut });
    });
  });
}

/**
 * What escapes to the process as an uncaught exception (a throwing listener's error), caught here
 * instead of by the test runner: the messages are collected until `restore()` (also run after the
 * test) puts the runner's own listeners back.
 */
export function catchUncaught(t: TestContext): { messages: string[]; restore: () => void } {
  const runnerListeners = process.rawListeners('uncaughtException') as ((error: Error) => void)[];
  const messages: string[] = [];
  const restore = (): void => {
    process.removeAllListeners('uncaughtException');
    for (const listener of runnerListeners) process.on('uncaughtException', listener);
  };
  t.after(restore);
  process.removeAllListeners('uncaughtException');
  // (What one read made throw escapes as one AggregateError: its errors are recorded one by one.)
  process.on('uncaughtException', (error) => void messages.push(...(error instanceof AggregateError ? (error.errors as Error[]) : [error]).map((each) => each.message)));
  return { messages, restore };
}
