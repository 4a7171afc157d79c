#!/usr/bin/env node
// The outside robustness suite: hostile clients against a `sockwave serve` child process, over
// raw TCP. It never imports sockwave. After every attack it checks that the attack got the answer
// it should (a status, a close code, or a dropped socket), that the server process is still up,
// and that a fresh client still gets an echo.
//
//   node robustness/run.mjs [--server-cmd "CMD"] [--only NAME] [--verbose]
//
// The default command is the built CLI (dist/) with limits low enough to hit quickly. Prints one
// line per attack and a final 'N passed, M failed'; exits 1 on any failure.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateRawSync } from 'node:zlib';
import { closeCode, frame, messages, rawConnect, responseHead, text, upgradeRequest, waitFor, wsOpen } from './lib/wire.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LIMITS = { maxPayload: 1 << 20, handshakeTimeout: 2000, rateLimit: 2000, perAddress: 200, fragments: 1024 };
const DEFAULT_CMD = [
  'node', 'dist/cli/main.js', 'serve', '--port', '0', '--deflate', '--max-payload', String(LIMITS.maxPayload),
  '--handshake-timeout', String(LIMITS.handshakeTimeout), '--rate-limit', String(LIMITS.rateLimit),
  '--max-per-address', String(LIMITS.perAddress), '--max-fragments', String(LIMITS.fragments),
];

const args = process.argv.slice(2);
const arg = (name) => { const i = args.indexOf(name); return i === -1 ? undefined : args[i + 1]; };
const command = arg('--server-cmd')?.split(' ') ?? DEFAULT_CMD;
const only = arg('--only');
const verbose = args.includes('--verbose');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
function check(condition, message) {
  if (!condition) throw new Error(message);
}

/** Starts the server; resolves with { child, port } once it prints its listening line. */
function startServer() {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0] === 'node' ? process.execPath : command[0], command.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the server did not start: ${out}`)), 15_000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /listening on wss?:\/\/[^:]+:(\d+)/.exec(out);
      if (match) { clearTimeout(timer); resolve({ child, port: Number(match[1]), output: () => out }); }
    });
    child.stderr.on('data', (chunk) => (out += chunk));
    child.once('exit', (code) => reject(new Error(`the server exited (${code}): ${out}`)));
  });
}

/** A fresh client gets its echo. */
async function echoWorks(port) {
  const conn = await wsOpen(port);
  const probe = `probe ${Math.random()}`;
  conn.socket.write(text(probe));
  const [echo] = await messages(conn, 1);
  check(echo === probe, `a fresh client got ${JSON.stringify(echo)} back`);
  conn.socket.write(frame({ opcode: 8, payload: Buffer.from([0x03, 0xe8]) }));
  await conn.closed;
}

/** Sends raw bytes instead of a handshake; resolves to the status (0 when dropped without one). */
async function rawRequest(port, bytes, ms = LIMITS.handshakeTimeout + 3000) {
  const conn = await rawConnect(port);
  conn.socket.write(bytes);
  try {
    const head = await responseHead(conn, ms);
    check(!/\bat .*\.(js|ts):\d+/.test(conn.data.toString('latin1')), 'a stack trace in the response');
    check(!/x-injected/i.test(head.head), 'an injected header in the response');
    conn.socket.destroy();
    return head.status;
  } catch (error) {
    if (conn.isClosed && conn.data.length === 0) return 0;
    throw error;
  }
}

/** Opens a WebSocket (deflate optional), sends `bytes`, and resolves to the close code received. */
async function attackFrames(port, bytes, { deflate = false } = {}) {
  const conn = await wsOpen(port, { extra: deflate ? ['Sec-WebSocket-Extensions: permessage-deflate'] : [] });
  if (deflate) check(/permessage-deflate/.test(conn.response.headers['sec-websocket-extensions'] ?? ''), 'deflate was not negotiated');
  conn.socket.write(bytes);
  const code = await closeCode(conn, 10_000);
  await waitFor(conn, (c) => (c.ended || c.isClosed ? true : undefined), 5000, 'the server to close TCP').catch(() => undefined);
  conn.socket.destroy();
  return code;
}

const expectStatus = (wanted) => (status) => check(wanted.includes(status), `status ${status}, expected ${wanted.join(' or ')}`);
const expectCode = (wanted) => (code) => check(code === wanted, `close code ${code}, expected ${wanted}`);
const noBrokenRequest = (status) => check(status === 0 || (status >= 400 && status < 500), `status ${status} for a broken request`);

const repeat = (count, make) => Buffer.concat(Array.from({ length: count }, (_, i) => make(i)));
const bomb = () => {
  const compressed = deflateRawSync(Buffer.alloc(64 * 1024 * 1024));
  return frame({ opcode: 2, rsv1: true, payload: compressed.subarray(0, compressed.length - 4) });
};

const ATTACKS = [
  // Handshakes
  ['oversized handshake (64 KiB of headers)', (port) => rawRequest(port, upgradeRequest({ extra: [`X-Pad: ${'a'.repeat(64 * 1024)}`] })).then(expectStatus([431]))],
  ['endless request line', (port) => rawRequest(port, 'GET /' + 'a'.repeat(100_000)).then(expectStatus([431, 0]))],
  ['binary noise instead of a request', (port) => rawRequest(port, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) & 0xff))).then(noBrokenRequest)],
  ['noise with a blank line', (port) => rawRequest(port, '\x00\x01\x02 \xff\r\n\r\n').then(expectStatus([400]))],
  ['no Sec-WebSocket-Key', (port) => rawRequest(port, upgradeRequest().replace(/Sec-WebSocket-Key: .*\r\n/, '')).then(expectStatus([400]))],
  ['a 15-byte key', (port) => rawRequest(port, upgradeRequest({ key: Buffer.alloc(15).toString('base64') })).then(expectStatus([400]))],
  ['version 8', (port) => rawRequest(port, upgradeRequest().replace('Version: 13', 'Version: 8')).then(expectStatus([426]))],
  ['two Host headers', (port) => rawRequest(port, upgradeRequest({ extra: ['Host: evil.test'] })).then(expectStatus([400]))],
  ['obsolete line folding', (port) => rawRequest(port, upgradeRequest({ extra: ['X-A: 1', ' folded'] })).then(expectStatus([400]))],
  ['NUL in a header value', (port) => rawRequest(port, upgradeRequest({ extra: ['X-A: a\x00b'] })).then(expectStatus([400]))],
  ['a bare LF inside a header', (port) => rawRequest(port, upgradeRequest({ extra: ['X-A: a\nX-Injected: 1'] })).then(noBrokenRequest)],
  ['POST upgrade', (port) => rawRequest(port, upgradeRequest().replace('GET', 'POST')).then(expectStatus([400]))],
  ['HTTP/1.0 upgrade', (port) => rawRequest(port, upgradeRequest().replace('HTTP/1.1', 'HTTP/1.0')).then(expectStatus([400]))],
  ['subprotocol list that is not tokens', (port) => rawRequest(port, upgradeRequest({ extra: ['Sec-WebSocket-Protocol: a b, "c"'] })).then(expectStatus([400]))],
  ['broken Sec-WebSocket-Extensions', (port) => rawRequest(port, upgradeRequest({ extra: ['Sec-WebSocket-Extensions: permessage-deflate; x="unterminated'] })).then(expectStatus([400]))],
  ['absurd deflate parameters are declined, not obeyed', async (port) => {
    const conn = await wsOpen(port, { extra: ['Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=99; client_max_window_bits=0'] });
    check(conn.response.headers['sec-websocket-extensions'] === undefined, 'the offer was accepted');
    conn.socket.destroy();
  }],
  // Frames
  ['unmasked client frame', (port) => attackFrames(port, text('hi', { mask: false })).then(expectCode(1002))],
  ['reserved opcode', (port) => attackFrames(port, frame({ opcode: 0x3 })).then(expectCode(1002))],
  ['RSV1 without an extension', (port) => attackFrames(port, text('hi', { rsv1: true })).then(expectCode(1002))],
  ['64-bit length with the top bit set', (port) => attackFrames(port, frame({ opcode: 2, length: 2n ** 63n + 5n })).then(expectCode(1002))],
  ['huge declared length (4 EiB)', (port) => attackFrames(port, frame({ opcode: 2, length: 2n ** 62n })).then(expectCode(1009))],
  ['declared length past maxPayload, payload never sent', (port) => attackFrames(port, frame({ opcode: 2, length: LIMITS.maxPayload + 1 })).then(expectCode(1009))],
  ['fragments adding up past maxPayload', (port) => attackFrames(port, Buffer.concat([frame({ opcode: 2, fin: false, payload: Buffer.alloc(LIMITS.maxPayload / 2) }), frame({ opcode: 0, fin: false, length: LIMITS.maxPayload })])).then(expectCode(1009))],
  ['control frame over 125 bytes', (port) => attackFrames(port, frame({ opcode: 9, payload: Buffer.alloc(126) })).then(expectCode(1002))],
  ['fragmented ping', (port) => attackFrames(port, frame({ opcode: 9, fin: false })).then(expectCode(1002))],
  ['continuation with nothing started', (port) => attackFrames(port, frame({ opcode: 0, payload: Buffer.from('x') })).then(expectCode(1002))],
  ['invalid UTF-8 text', (port) => attackFrames(port, frame({ opcode: 1, payload: Buffer.from([0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xf4, 0x90, 0x80, 0x80]) })).then(expectCode(1007))],
  ['close frame with a 1-byte body', (port) => attackFrames(port, frame({ opcode: 8, payload: Buffer.from([3]) })).then(expectCode(1002))],
  ['close code 1005 on the wire', (port) => attackFrames(port, frame({ opcode: 8, payload: Buffer.from([0x03, 0xed]) })).then(expectCode(1002))],
  ['deflate bomb (64 MiB of zeros in ~64 KiB)', (port) => attackFrames(port, bomb(), { deflate: true }).then(expectCode(1009))],
  ['corrupt deflate data', (port) => attackFrames(port, frame({ opcode: 2, rsv1: true, payload: Buffer.from([0xff, 0xff, 0xff, 0x00, 0x12]) }), { deflate: true }).then(expectCode(1007))],
  ['fragment flood (one byte per frame)', (port) => attackFrames(port, repeat(5000, (i) => frame({ opcode: i === 0 ? 2 : 0, fin: false, payload: Buffer.from([i & 0xff]) }))).then(expectCode(1008))],
  ['message flood', (port) => attackFrames(port, repeat(20_000, () => text('flood'))).then(expectCode(1008))],
  ['ping flood', (port) => attackFrames(port, repeat(20_000, () => frame({ opcode: 9, payload: Buffer.from('p') }))).then(expectCode(1008))],
  ['close, then data', async (port) => {
    const conn = await wsOpen(port);
    conn.socket.write(Buffer.concat([frame({ opcode: 8, payload: Buffer.from([0x03, 0xe8]) }), text('after close')]));
    expectCode(1000)(await closeCode(conn));
    await conn.closed;
    check(!conn.data.includes('after close'), 'data after the close frame was echoed');
  }],
  // Transport
  ['resets in the middle of frames (50 clients)', async (port) => {
    await Promise.all(Array.from({ length: 50 }, async () => {
      const conn = await wsOpen(port);
      conn.socket.write(text('x'.repeat(10_000)).subarray(0, 5000));
      await sleep(10);
      conn.socket.resetAndDestroy();
    }));
  }],
  ['slow-loris (100 clients dribbling a request)', async (port) => {
    const conns = await Promise.all(Array.from({ length: 100 }, () => rawConnect(port)));
    const request = upgradeRequest();
    let stop = false;
    const dribble = (async () => {
      for (let i = 0; i < request.length - 4 && !stop; i++) {
        for (const conn of conns) if (!conn.isClosed) conn.socket.write(request[i]);
        await sleep(100);
      }
    })();
    await echoWorks(port); // served while the slow ones hang on
    const deadline = LIMITS.handshakeTimeout + 5000;
    await Promise.all(conns.map((conn) => waitFor(conn, (c) => (c.isClosed || c.ended ? true : undefined), deadline, 'the server to drop a slow client')));
    stop = true;
    await dribble;
  }],
  ['connection flood past the per-address limit', async (port) => {
    const statuses = await Promise.all(Array.from({ length: LIMITS.perAddress + 100 }, async () => {
      const conn = await rawConnect(port);
      conn.socket.write(upgradeRequest());
      const head = await responseHead(conn, 10_000);
      return { conn, status: head.status };
    }));
    const counts = {};
    for (const { status } of statuses) counts[status] = (counts[status] ?? 0) + 1;
    for (const { conn } of statuses) conn.socket.destroy();
    await Promise.all(statuses.map(({ conn }) => conn.closed));
    await sleep(200); // the server learns of the closes
    // The bystander holds one of this address's places.
    check(counts[101] === LIMITS.perAddress - 1 && counts[429] === 101, `statuses ${JSON.stringify(counts)}`);
  }],
  ['half-open clients (never read, never close)', async (port) => {
    const conns = await Promise.all(Array.from({ length: 20 }, () => wsOpen(port)));
    for (const conn of conns) { conn.socket.pause(); conn.socket.write(text('y'.repeat(60_000))); }
    await echoWorks(port);
    for (const conn of conns) conn.socket.destroy();
  }],
];

/**
 * A bystander: one client that keeps talking through the whole suite, one message every 100 ms.
 * `finish()` checks that it was never cut off and got every echo, in order.
 */
async function bystander(port) {
  const conn = await wsOpen(port);
  let sent = 0;
  const timer = setInterval(() => conn.socket.write(text(`bystander ${sent++}`)), 100);
  return {
    async finish() {
      clearInterval(timer);
      check(!conn.isClosed, 'the bystander was disconnected');
      const echoes = await messages(conn, sent, 10_000);
      check(echoes.every((echo, i) => echo === `bystander ${i}`), 'the bystander lost or reordered echoes');
      conn.socket.destroy();
      return sent;
    },
  };
}

async function main() {
  const { child, port, output } = await startServer();
  let passed = 0;
  let failed = 0;
  const watcher = await bystander(port);
  try {
    for (const [name, attack] of ATTACKS) {
      if (only && !name.includes(only)) continue;
      const started = Date.now();
      try {
        await attack(port);
        check(child.exitCode === null && child.signalCode === null, 'the server process died');
        await echoWorks(port);
        passed++;
        if (verbose) console.log(`ok   ${name} (${Date.now() - started} ms)`);
      } catch (error) {
        failed++;
        console.log(`FAIL ${name}: ${error.message}`);
        if (child.exitCode !== null || child.signalCode !== null) { console.log(output()); break; }
      }
    }
    try {
      const count = await watcher.finish();
      passed++;
      if (verbose) console.log(`ok   a bystander client was served throughout (${count} echoes, in order)`);
    } catch (error) {
      failed++;
      console.log(`FAIL bystander: ${error.message}`);
    }
  } finally {
    child.kill('SIGTERM');
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((error) => {
  console.log(`FAIL setup: ${error.message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
});
