#!/usr/bin/env node
// Cross-node fan-out benchmark: NODES server processes (bench/servers/backplane-node.mjs) on a
// Redis backplane (a redis-server started here on a free port, no persistence, killed at the end),
// CLIENTS subscribers per node, one publisher client per node sending RATE messages per second in
// total for DURATION seconds. Each message carries its send time; receivers (all in this process)
// measure publish-to-receive latency. `--single` runs one node with NODES × CLIENTS subscribers
// and no Redis, for comparison.
//   node bench/backplane.mjs [--nodes 2] [--clients 500] [--rate 200] [--duration 10] [--single]
// Prints one RESULT line: deliveries per second, p50/p99/max latency in ms, and losses.
import { spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '2' },
    clients: { type: 'string', default: '500' },
    rate: { type: 'string', default: '200' },
    duration: { type: 'string', default: '10' },
    single: { type: 'boolean', default: false },
  },
});
const single = values.single;
const nodeCount = single ? 1 : Number(values.nodes);
const perNode = single ? Number(values.nodes) * Number(values.clients) : Number(values.clients);
const rate = Number(values.rate);
const duration = Math.min(Number(values.duration), 120) * 1000;
const NODE = fileURLToPath(new URL('./servers/backplane-node.mjs', import.meta.url));
const children = [];

function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function start(command, args, env, ready) {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} did not start: ${out}`)), 15_000);
    const onData = (chunk) => {
      out += chunk;
      const match = ready.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk) => (ready.source.includes('Ready') ? onData(chunk) : process.stderr.write(chunk)));
  });
}

function stopAll() {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
}
process.on('exit', stopAll);

/**
 * A subscriber that costs little: a raw socket that parses the server's small unmasked frames
 * itself (the receiving side must not be the bottleneck of a fan-out benchmark).
 */
function subscriber(port, onMessage) {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', noDelay: true });
    let upgraded = false;
    let pending = Buffer.alloc(0);
    socket.once('error', reject);
    socket.on('connect', () =>
      socket.write(`GET /room HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`),
    );
    socket.on('data', (chunk) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      if (!upgraded) {
        const end = pending.indexOf('\r\n\r\n');
        if (end === -1) return;
        if (!pending.subarray(0, 12).toString().includes('101')) return reject(new Error('not upgraded'));
        upgraded = true;
        pending = pending.subarray(end + 4);
        resolve(socket);
      }
      let at = 0;
      while (pending.length - at >= 2) {
        let length = pending[at + 1] & 0x7f;
        let header = 2;
        if (length === 126) {
          if (pending.length - at < 4) break;
          length = pending.readUInt16BE(at + 2);
          header = 4;
        } else if (length === 127) throw new Error('unexpectedly large frame');
        if (pending.length - at < header + length) break;
        if ((pending[at] & 0x0f) === 1) onMessage(pending.latin1Slice(at + header, at + header + length));
        at += header + length;
      }
      pending = at === pending.length ? Buffer.alloc(0) : pending.subarray(at);
    });
  });
}

async function open(url) {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  return ws;
}

let redisUrl;
if (!single) {
  const port = await freePort();
  await start('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {}, /Ready to accept connections/);
  redisUrl = `redis://127.0.0.1:${port}`;
}
const ports = [];
for (let i = 0; i < nodeCount; i++) {
  const match = await start(process.execPath, [NODE], { PORT: '0', ...(redisUrl ? { REDIS_URL: redisUrl } : {}) }, /listening on ws:\/\/127\.0\.0\.1:(\d+)/);
  ports.push(Number(match[1]));
}

const latencies = new Float64Array(4_000_000);
let samples = 0;
let delivered = 0;
let inWindow = 0;
let windowEnd = Infinity;
const sockets = [];
const receive = (text) => {
  const now = performance.now();
  const sent = Number(text.slice(text.indexOf(':') + 1));
  delivered++;
  if (now <= windowEnd) inWindow++;
  if (samples < latencies.length) latencies[samples++] = now - sent;
};
for (const port of ports) {
  for (let start = 0; start < perNode; start += 100) {
    sockets.push(...(await Promise.all(Array.from({ length: Math.min(100, perNode - start) }, () => subscriber(port, receive)))));
  }
}
const publishers = await Promise.all(ports.map((port) => open(`ws://127.0.0.1:${port}/pub`)));
await new Promise((resolve) => setTimeout(resolve, 500));

// Open loop: every 10 ms, the publishes due so far, spread over the publishers in turn.
const began = performance.now();
windowEnd = began + duration;
let published = 0;
await new Promise((resolve) => {
  const timer = setInterval(() => {
    const now = performance.now();
    if (now >= windowEnd) {
      clearInterval(timer);
      return resolve();
    }
    const due = Math.floor(((now - began) / 1000) * rate);
    for (; published < due; published++) publishers[published % publishers.length].send(`${published}:${performance.now()}`);
  }, 10);
});
const expected = published * sockets.length;
const drainUntil = performance.now() + 10_000;
while (delivered < expected && performance.now() < drainUntil) await new Promise((resolve) => setTimeout(resolve, 50));

const sorted = latencies.subarray(0, samples).sort();
const pct = (p) => (samples === 0 ? NaN : sorted[Math.min(samples - 1, Math.floor((p / 100) * samples))]);
const seconds = duration / 1000;
console.log(
  `RESULT mode=${single ? 'single' : 'redis'} nodes=${nodeCount} clients=${sockets.length} rate=${rate}/s duration=${seconds}s ` +
    `published=${published} deliveries=${delivered}/${expected} deliveries_per_s=${Math.round(inWindow / seconds)} ` +
    `p50_ms=${pct(50).toFixed(2)} p99_ms=${pct(99).toFixed(2)} max_ms=${pct(100).toFixed(2)} lost=${expected - delivered}`,
);
for (const socket of sockets) socket.destroy();
for (const ws of publishers) ws.terminate();
stopAll();
process.exit(0);
