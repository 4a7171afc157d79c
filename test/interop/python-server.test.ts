import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, test, type TestContext } from 'node:test';
import { connect, HandshakeError, tryConnect, type CloseInfo, type Connection } from '../../src/index.js';
import { startServerProcess } from './support/child.js';

/**
 * sockwave's client against a server nobody here wrote: Python's websockets (Debian
 * python3-websockets), with and without permessage-deflate.
 */

const SCRIPT = fileURLToPath(new URL('../../../test/interop/fixtures/python_server.py', import.meta.url));
const PYTHON = '/usr/bin/python3';

async function pythonServer(t: TestContext, deflate: boolean): Promise<string> {
  const server = await startServerProcess(t, PYTHON, deflate ? [SCRIPT, '--deflate'] : [SCRIPT], { ms: 15_000 }).catch((error: unknown) => {
    throw new Error(`the Python websockets server did not start (.ci/run must install python3-websockets): ${String(error)}`);
  });
  return server.url.origin.replace(/^http/, 'ws');
}

function next<T>(conn: Connection, event: 'message' | 'close', what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 10_000);
    conn.once(event, (...args: unknown[]) => {
      clearTimeout(timer);
      resolve((event === 'message' ? args : args[0]) as T);
    });
  });
}

const hash = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

for (const deflate of [false, true]) {
  describe(`interop: sockwave client against a Python websockets server${deflate ? ' with permessage-deflate' : ''}`, () => {
    test('echoes multibyte text, binary of several sizes and a subprotocol, then closes cleanly', async (t) => {
      const base = await pythonServer(t, deflate);
      const conn = await connect(`${base}/echo`, { protocols: ['x-other', 'chat'], perMessageDeflate: deflate });
      t.after(() => conn.terminate());
      assert.equal(conn.protocol, 'chat');
      assert.equal(conn.extensions.includes('permessage-deflate'), deflate);
      const text = 'héllo wörld — 你好 — 🎉'.repeat(50);
      conn.send(text);
      assert.deepEqual(await next<[string, boolean]>(conn, 'message', 'the text echo'), [text, false]);
      for (const size of [0, 125, 126, 65_535, 65_536, 3_000_000]) {
        const payload = Buffer.alloc(size);
        for (let i = 0; i < size; i += 997) payload[i] = i & 0xff;
        conn.send(payload);
        const [data, isBinary] = await next<[Buffer, boolean]>(conn, 'message', `the ${size}-byte echo`);
        assert.equal(isBinary, true);
        assert.equal(hash(data), hash(payload), `${size} bytes`);
      }
      conn.close(4001, 'bye');
      const info = await next<CloseInfo>(conn, 'close', 'the close');
      assert.equal(info.code, 4001);
      assert.equal(info.wasClean, true);
    });

    test('sees the close code and reason the server sends, and a refusal with its status, header and body', async (t) => {
      const base = await pythonServer(t, deflate);
      const conn = await connect(`${base}/close?code=4002&reason=done`, { perMessageDeflate: deflate });
      const info = await next<CloseInfo>(conn, 'close', 'the server close');
      assert.deepEqual({ code: info.code, reason: info.reason, wasClean: info.wasClean, remote: info.remote }, { code: 4002, reason: 'done', wasClean: true, remote: true });

      const refused = await connect(`${base}/secret`).catch((error: unknown) => error);
      assert.ok(refused instanceof HandshakeError, String(refused));
      assert.equal(refused.status, 401);
      assert.match(refused.headers['www-authenticate'] ?? '', /Bearer/);
      assert.match(refused.body, /who are you/);

      const result = await tryConnect(`${base}/secret`);
      assert.equal(result.success, false);
      assert.equal(result.status, 401);
      assert.equal(result.errorCode, 'SW_HANDSHAKE_FAILED');
      assert.match(result.reason, /401/);
    });
  });
}

test('tryConnect reports success with the 101 and its headers, and a refused port with a reason', async (t) => {
  const base = await pythonServer(t, false);
  const ok = await tryConnect(`${base}/echo`);
  t.after(() => ok.connection?.terminate());
  assert.equal(ok.success, true);
  assert.equal(ok.status, 101);
  assert.equal(ok.headers['upgrade']?.toLowerCase(), 'websocket');
  const refused = await tryConnect('ws://127.0.0.1:1/');
  assert.deepEqual([refused.success, refused.status, refused.errorCode], [false, 0, 'SW_SOCKET_ERROR']);
  assert.match(refused.reason, /connection refused/);
});
