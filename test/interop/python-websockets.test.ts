/**
 * Interoperability with a client no one here wrote: Python's `websockets` (Debian's
 * python3-websockets, 10.4, asyncio API), run as test/interop/fixtures/python_client.py against
 * `node dist/cli/main.js serve --port 0`, over ws:// and wss:// (a self-signed certificate made
 * at test time), with and without --deflate.
 *
 * Python or its module missing is a FAILURE, not a skip: `.ci/run` must install python3-websockets.
 */
import { describe, test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, nextLine, runCommand, spawnProcess, startServerProcess } from './support/child.js';
import { selfSignedCertificate } from './support/tls.js';

const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const SCRIPT = join(ROOT, 'test', 'interop', 'fixtures', 'python_client.py');
const MISSING = ".ci/run must install python3-websockets (apt-get install -y python3-websockets): Debian's module lives in /usr/bin/python3's dist-packages";

/**
 * The Python that has Debian's `websockets`: /usr/bin/python3 first (a python3 earlier on PATH,
 * pyenv's for instance, does not see Debian's packages), then python3 on PATH.
 */
let found: Promise<{ python: string; version: string }> | undefined;
function python(): Promise<{ python: string; version: string }> {
  found ??= (async () => {
    const tried: string[] = [];
    for (const candidate of ['/usr/bin/python3', 'python3']) {
      try {
        const result = await runCommand(candidate, ['-c', 'import websockets; print(websockets.__version__)'], { ms: 15_000 });
        if (result.code === 0) return { python: candidate, version: result.stdout.trim() };
        tried.push(`${candidate}: ${result.stderr.trim().split('\n').pop()}`);
      } catch (error) {
        tried.push(`${candidate}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
      }
    }
    throw new Error(`no python3 with the websockets module (${tried.join('; ')}). ${MISSING}`);
  })();
  return found;
}

interface Received {
  type: 'text' | 'binary';
  length: number;
}

interface Result {
  phase: 'result';
  version: string;
  subprotocol: string | null;
  extensions: string[];
  extensions_header: string | null;
  secure: boolean;
  text: { ok: boolean; received: Received };
  binary: { ok: boolean; received: Received };
  large_binary: { ok: boolean; received: Received };
  compressible: { ok: boolean; received: Received };
  ping: { ok: boolean };
  close: { sent: { code: number; reason: string } | null; received: { code: number; reason: string } | null; code: number };
  broadcast: { text_ok: boolean; binary_ok: boolean; received: Received[] };
}

function parse<T>(line: string, stderr: string): T {
  let value: { phase?: string };
  try {
    value = JSON.parse(line) as { phase?: string };
  } catch {
    throw new Error(`the Python client printed a line that is not JSON: ${line}\nstderr: ${stderr}`);
  }
  if (value.phase === 'error') throw new Error(`the Python client failed: ${JSON.stringify(value, null, 2)}\nstderr: ${stderr}`);
  return value as T;
}

async function run(t: TestContext, options: { tls: boolean; deflate: boolean }): Promise<void> {
  const { python: interpreter, version } = await python();
  t.diagnostic(`${interpreter}: websockets ${version}`);
  assert.ok(existsSync(CLI), `${CLI} is missing: run 'npm run build' first`);

  // The server supports the client's second choice only: the negotiation must pick it.
  const args = [CLI, 'serve', '--port', '0', '--subprotocol', 'chat'];
  let ca: string | undefined;
  if (options.tls) {
    const certificate = await selfSignedCertificate(t);
    args.push('--tls-cert', certificate.cert, '--tls-key', certificate.key);
    ca = certificate.cert;
  }
  if (options.deflate) args.push('--deflate');
  const server = await startServerProcess(t, process.execPath, args);
  assert.equal(server.url.protocol, options.tls ? 'wss:' : 'ws:');

  const client = spawnProcess(interpreter, [SCRIPT, server.url.origin, ...(ca ? [ca] : [])], { t });
  const result = parse<Result>(await nextLine(client, 'the Python client result', 30_000), client.stderr());

  assert.equal(result.version, version);
  assert.equal(result.secure, options.tls);
  // The client offers ["sockwave.test.v1", "chat"]; the server supports "chat".
  assert.equal(result.subprotocol, 'chat');
  if (options.deflate) {
    assert.deepEqual(result.extensions, ['permessage-deflate']);
    assert.match(result.extensions_header ?? '', /^permessage-deflate\b/);
  } else {
    assert.deepEqual(result.extensions, []);
    assert.equal(result.extensions_header, null);
  }
  assert.deepEqual(result.text, { ok: true, received: { type: 'text', length: 30 } });
  assert.deepEqual(result.binary, { ok: true, received: { type: 'binary', length: 256 } });
  assert.deepEqual(result.large_binary, { ok: true, received: { type: 'binary', length: 70_000 } });
  assert.deepEqual(result.compressible, { ok: true, received: { type: 'text', length: 21_600 } });
  assert.deepEqual(result.ping, { ok: true });
  // Our 4001 'bye' went out; the server's close frame echoes the code (RFC 6455 §5.5.1).
  assert.deepEqual(result.close.sent, { code: 4001, reason: 'bye' });
  assert.equal(result.close.received?.code, 4001);
  assert.equal(result.close.code, 4001);
  assert.equal(result.broadcast.text_ok, true, JSON.stringify(result.broadcast));
  assert.equal(result.broadcast.binary_ok, true, JSON.stringify(result.broadcast));

  // The server stops (SIGTERM) while Python holds a connection: a clean 1001 reaches it.
  assert.deepEqual(parse(await nextLine(client, 'the Python client waiting', 10_000), client.stderr()), { phase: 'waiting' });
  assert.deepEqual(await server.terminate(8000), { code: 0, signal: null }, `the server's exit; stderr: ${server.stderr()}`);
  const closed = parse<{ code: number; reason: string; received: { code: number; reason: string } | null }>(
    await nextLine(client, 'the Python client closed', 10_000),
    client.stderr(),
  );
  assert.deepEqual(closed, { phase: 'closed', code: 1001, reason: 'server shutting down', received: { code: 1001, reason: 'server shutting down' } });
  assert.deepEqual(await client.exited(10_000), { code: 0, signal: null }, `the Python client's exit; stderr: ${client.stderr()}`);
  assert.equal(server.stderr(), `demo page: ${server.url.protocol === 'wss:' ? 'https' : 'http'}://127.0.0.1:${server.port}/\n`, 'nothing on stderr but the demo page line');
}

describe('interop: Python websockets client against sockwave serve', () => {
  test('ws://', (t) => run(t, { tls: false, deflate: false }));
  test('wss:// (self-signed certificate, verified)', (t) => run(t, { tls: true, deflate: false }));
  test('ws:// with --deflate (permessage-deflate negotiated)', (t) => run(t, { tls: false, deflate: true }));
  test('wss:// with --deflate', (t) => run(t, { tls: true, deflate: true }));
});
