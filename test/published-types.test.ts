/**
 * The published declaration files (dist/*.d.ts), as a user's project compiles them: checked in
 * full (skipLibCheck off), under strict settings, from the three entry points; every type a public
 * signature uses can be named from them (a library's own declarations need that); the members
 * marked internal are not in them, so that a user can neither see nor assign them.
 */
import { test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './interop/support/child.js';

const CONSUMER = `
import { CloseEvent, connect, MessageReader, parseWebSocketUrl, SockwaveError, WebSocketServer, type Connection } from 'sockwave';
import { BackplaneError, ConnectionClosedError, HandshakeError, OutboxFullError, UnsentMessagesError, UsageError } from 'sockwave';
import type { ErrorCode, HandshakeErrorCode, ProtocolErrorCode, UsageErrorCode } from 'sockwave';
import { FrameParser, ProtocolError, ProtocolSession, type SessionHandler } from 'sockwave/protocol';
import { RedisBackplane } from 'sockwave/redis';

export const entries = [FrameParser, ProtocolSession, RedisBackplane];

// Inferred types that a library built on sockwave exports: its declaration file must be able to
// name each of them from the package's entry points (TS2742 or TS4023 otherwise).
export const parse = (url: string) => parseWebSocketUrl(url);
export const headersOf = (connection: Connection) => connection.headers;
export const serverOf = (connection: Connection) => connection.server;
export const closing = () => new CloseEvent('close', { code: 1000 });
export const errorArguments = (...args: ConstructorParameters<typeof SockwaveError>) => args;
export const failure = (error: ProtocolError) => error.closeCode;
export const readerOf = (connection: Connection) => connection.messages();

// Each error class names the codes it can carry: a switch over them is exhaustive, and a code
// of another family is no match.
export function family(error: unknown): string {
  if (error instanceof HandshakeError) {
    switch (error.code) {
      case 'SW_HANDSHAKE_FAILED':
      case 'SW_HANDSHAKE_TIMEOUT':
      case 'SW_PROXY_REFUSED':
        return 'handshake';
      default: {
        const unreachable: never = error.code;
        return unreachable;
      }
    }
  }
  const codes: [ProtocolErrorCode, UsageErrorCode, HandshakeErrorCode] = ['SW_INVALID_UTF8', 'SW_INVALID_STATE', 'SW_PROXY_REFUSED'];
  const single: Array<'SW_CONNECTION_CLOSED' | 'SW_BACKPLANE_UNAVAILABLE' | 'SW_OUTBOX_FULL' | 'SW_NOT_SENT'> = [];
  if (error instanceof ConnectionClosedError) single.push(error.code);
  if (error instanceof BackplaneError) single.push(error.code);
  if (error instanceof OutboxFullError) single.push(error.code);
  if (error instanceof UnsentMessagesError) single.push(error.code);
  const usage: UsageErrorCode[] = error instanceof UsageError ? [error.code] : [];
  // @ts-expect-error a protocol error never carries a handshake code
  if (error instanceof ProtocolError && error.code === 'SW_HANDSHAKE_TIMEOUT') return 'never';
  const anyCode: ErrorCode | undefined = error instanceof SockwaveError ? error.code : undefined;
  return [...codes, ...single, ...usage, anyCode].join();
}

export async function use(server: WebSocketServer<{ user: string }>, handler: SessionHandler): Promise<number> {
  const conn: Connection<{ user: string }> = await connect('ws://127.0.0.1:1/', { data: { user: 'a' } });
  // A connection with typed data is a connection; its server is the public WebSocketServer.
  const general: Connection = conn;
  const published = general.server?.publish('news', 'x') ?? 0;
  // @ts-expect-error internal: the protocol session's callback (assigning it would swallow every message)
  conn.onMessage = () => {};
  // @ts-expect-error internal
  void conn.session;
  // @ts-expect-error internal
  void conn.received;
  // @ts-expect-error internal
  void server.acceptSocket;
  // @ts-expect-error internal
  void server.connectionClosed;
  // @ts-expect-error internal
  void new ProtocolSession({ role: 'server', maxPayload: 1 }, handler).onPing;
  // @ts-expect-error a reader is made over a connection (by conn.messages()), never from nothing
  void new MessageReader();
  return published + conn.data.user.length;
}
`;

/**
 * A consumer compiled with exactOptionalPropertyTypes: every optional property of the public
 * option, init and handler types accepts an explicit undefined (`{ timeout: config.timeout }`),
 * which sockwave treats as the property left out. A type-level check names any that does not.
 */
const EXACT_CONSUMER = `
import { CloseEvent, connect, createClient, refuse, SockwaveError, WebSocket, WebSocketServer } from 'sockwave';
import type {
  BackoffOptions, BroadcastOptions, ClientOptions, CloseEventInit, CloseServerOptions, ConnectionHandler, ConnectionSetup, CreateClientOptions,
  FanOutOptions, MessageReaderOptions, NextMessageOptions, OutboxOptions, PerMessageDeflateOptions, PlainHttpResponse, RateLimitOptions,
  ReconnectOptions, SendOptions, ServerOptions, SockwaveErrorOptions, Target, WebSocketListenerOptions, WebSocketOptions,
} from 'sockwave';
import type { FrameOptions, FrameParserHandler, FrameParserOptions, SessionHandler, SessionOptions } from 'sockwave/protocol';
import type { RedisBackplaneOptions } from 'sockwave/redis';

type OptionalKeys<T> = { [K in keyof T]-?: {} extends Pick<T, K> ? K : never }[keyof T];
/** The optional properties of T that refuse an explicit undefined: never, when there is none. */
type RefusingUndefined<T> = { [K in OptionalKeys<T>]: { [P in K]: undefined } extends Pick<T, K> ? never : K }[OptionalKeys<T>];
type None<T extends never> = T;

export type Checked = [
  None<RefusingUndefined<ServerOptions>>, None<RefusingUndefined<RateLimitOptions>>, None<RefusingUndefined<PerMessageDeflateOptions>>,
  None<RefusingUndefined<CloseServerOptions>>, None<RefusingUndefined<BroadcastOptions<unknown>>>, None<RefusingUndefined<FanOutOptions>>,
  None<RefusingUndefined<ConnectionSetup<unknown>>>, None<RefusingUndefined<PlainHttpResponse>>, None<RefusingUndefined<ConnectionHandler>>,
  None<RefusingUndefined<SendOptions>>, None<RefusingUndefined<MessageReaderOptions>>, None<RefusingUndefined<NextMessageOptions>>,
  None<RefusingUndefined<ClientOptions>>, None<RefusingUndefined<CreateClientOptions>>, None<RefusingUndefined<Target>>,
  None<RefusingUndefined<ReconnectOptions>>, None<RefusingUndefined<BackoffOptions>>, None<RefusingUndefined<OutboxOptions>>,
  None<RefusingUndefined<WebSocketOptions>>, None<RefusingUndefined<WebSocketListenerOptions>>, None<RefusingUndefined<CloseEventInit>>,
  None<RefusingUndefined<SockwaveErrorOptions>>, None<RefusingUndefined<FrameOptions>>, None<RefusingUndefined<FrameParserHandler>>,
  None<RefusingUndefined<FrameParserOptions>>, None<RefusingUndefined<SessionHandler>>, None<RefusingUndefined<SessionOptions>>,
  None<RefusingUndefined<RedisBackplaneOptions>>,
];

// What a configuration read from elsewhere looks like: every value may be missing.
declare const config: { port?: number | undefined; timeout?: number | undefined; deflate?: boolean | undefined; reason?: string | undefined; cause?: unknown };

export async function use(): Promise<void> {
  const server = new WebSocketServer({ port: config.port, handshakeTimeout: config.timeout, perMessageDeflate: { threshold: config.timeout, enabled: config.deflate } });
  await server.listen({ port: config.port, tls: undefined });
  server.broadcast('x', { binary: config.deflate, report: undefined });
  server.route('/r', () => refuse(401, { body: config.reason, headers: undefined }));
  const conn = await connect('ws://127.0.0.1:1/', { connectTimeout: config.timeout, tls: undefined, handler: { onMessage: undefined } });
  conn.send('x', { binary: config.deflate, fragmentSize: undefined });
  await conn.nextMessage({ timeout: config.timeout });
  createClient('ws://127.0.0.1:1/', { reconnect: { maxRetries: config.port, minDelay: undefined }, outbox: { maxMessages: undefined }, onOpen: undefined }).close();
  new WebSocket('ws://127.0.0.1:1/', { pingInterval: config.timeout }).addEventListener('open', () => {}, { once: config.deflate });
  void new CloseEvent('close', { code: config.port, reason: config.reason });
  void new SockwaveError('SW_TIMEOUT', 'late', { cause: config.cause });
  await server.close({ timeout: config.timeout, code: undefined });
}
`;

/** Compiles `source` as consumer.ts against the package (linked in its node_modules), with `options` added. */
function compile(t: TestContext, source: string, options: Record<string, unknown> = {}): void {
  const dir = mkdtempSync(join(tmpdir(), 'sockwave-types-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'sockwave'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  writeFileSync(join(dir, 'consumer.ts'), source);
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        lib: ['ES2022'],
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        types: ['node'],
        typeRoots: [join(ROOT, 'node_modules', '@types')],
        strict: true,
        noUncheckedIndexedAccess: true,
        skipLibCheck: false,
        declaration: true,
        emitDeclarationOnly: true,
        outDir: join(dir, 'out'),
        ...options,
      },
      files: ['consumer.ts'],
    }),
  );
  const run = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.stdout + run.stderr, '', 'what the compiler reported');
  assert.equal(run.status, 0);
}

test('the published types compile in a strict project with skipLibCheck off, name every type they use, and leave out every internal member', (t) => {
  compile(t, CONSUMER);
});

test('under exactOptionalPropertyTypes, every optional property of the public option, init and handler types accepts undefined', (t) => {
  compile(t, EXACT_CONSUMER, { exactOptionalPropertyTypes: true });
});
