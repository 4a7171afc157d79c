/**
 * The published declaration files (dist/*.d.ts), as a user's project compiles them: checked in
 * full (skipLibCheck off), under strict settings, from the three entry points; every type a public
 * signature uses can be named from them (a library's own declarations need that); the members
 * marked internal are not in them, so that a user can neither see nor assign them.
 */
import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './interop/support/child.js';

const CONSUMER = `
import { CloseEvent, connect, MessageReader, parseWebSocketUrl, SockwaveError, WebSocketServer, type Connection } from 'sockwave';
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

test('the published types compile in a strict project with skipLibCheck off, name every type they use, and leave out every internal member', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sockwave-types-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'sockwave'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  writeFileSync(join(dir, 'consumer.ts'), CONSUMER);
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
      },
      files: ['consumer.ts'],
    }),
  );
  const run = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.stdout + run.stderr, '', 'what the compiler reported');
  assert.equal(run.status, 0);
});
