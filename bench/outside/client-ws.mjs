// Outside-harness client driver: the ws client (import WebSocket from 'ws'), its usual idiom:
// new WebSocket(url) and a 'message' listener. One listener function is shared by every
// connection (ws calls it with `this` = the socket), so neither client gets a closure per connection.
// Usage: node client-ws.mjs PORT CONNS INFLIGHT SIZE binary|text WARMUP_S MEASURE_S [ECHO_SERVER_PID]
// WS_NO_BUFFER_UTIL=1 makes ws skip bufferutil. Prints "INFO native_mask=0|1 mask_impl=..." (what
// ws's masking really uses in this process, see wsMaskImpl) and then one RESULT line.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import WebSocket from 'ws';
import { counts, fail, makePayload, mismatch, parseArgs, setup, start, stopping } from './client-common.mjs';

/**
 * How ws masks in this process. ws 8.x decides once, when lib/buffer-util.js loads: Node's own
 * http.websocketMask when that exists, else require('bufferutil') unless WS_NO_BUFFER_UTIL is set,
 * else its JavaScript loop; bufferutil itself falls back to its JavaScript fallback.js when its
 * native binding cannot load. So: look at the mask function ws installed (the same module
 * instance ws uses, found through the require cache) and at which bufferutil file got loaded.
 */
function wsMaskImpl() {
  const require = createRequire(import.meta.url);
  const wsDir = dirname(require.resolve('ws'));
  const buPath = join(wsDir, 'lib', 'buffer-util.js');
  const shared = buPath in require.cache; // loaded by ws already: the instance ws itself uses
  const bu = require(buPath);
  const src = String(bu.mask);
  const loaded = Object.keys(require.cache);
  const buNative = loaded.some((p) => /[\\/]bufferutil[\\/].*\.node$/.test(p));
  const buFallback = loaded.some((p) => /[\\/]bufferutil[\\/]fallback\.js$/.test(p));
  let impl;
  if (src.includes('websocketMask')) impl = 'node-http';
  else if (src.includes('bufferUtil.mask')) impl = buNative ? 'bufferutil-native' : buFallback ? 'bufferutil-fallback' : 'bufferutil-unknown';
  else impl = 'js';
  // Check that the installed function masks correctly, above ws's 48-byte threshold for the addon.
  const data = Buffer.alloc(100, 0x5a), key = Buffer.from([1, 2, 3, 4]), out = Buffer.alloc(100);
  bu.mask(data, key, out, 0, 100);
  const correct = out.every((b, i) => b === (0x5a ^ key[i & 3]));
  const native = impl === 'bufferutil-native' || impl === 'node-http';
  const version = require(join(wsDir, 'package.json')).version;
  return `native_mask=${native && correct ? 1 : 0} mask_impl=${impl} mask_ok=${correct ? 1 : 0} ws_module_shared=${shared ? 1 : 0} ws_version=${version}`;
}

const cfg = parseArgs();
const payload = makePayload(cfg.size, cfg.binary);
const { size, binary } = cfg;
// ws delivers text as a Buffer too: the same checks on bytes for both kinds.
const first = binary ? payload[0] : payload.charCodeAt(0);
const last = binary ? payload[size - 1] : payload.charCodeAt(size - 1);

function onMessage(data, isBinary) {
  counts.received++;
  if (isBinary !== binary) { counts.badType++; mismatch(`isBinary=${isBinary}`); }
  else if (data.length !== size) { counts.badSize++; mismatch(`length ${data.length}, sent ${size}`); }
  else if (data[0] !== first || data[size - 1] !== last) { counts.badBytes++; mismatch('first/last byte differs'); }
  this.send(payload);
}
function onClose() {
  if (!stopping) counts.lost++;
}
function onError(err) {
  if (!stopping) { counts.errors++; mismatch(`error ${err?.message ?? err}`); }
}

const maskInfo = wsMaskImpl();
console.log(`INFO ${maskInfo}`);
setup(cfg, 'lib=ws');
let conns;
try {
  conns = await Promise.all(
    Array.from({ length: cfg.conns }, () => new Promise((resolve, reject) => {
      const ws = new WebSocket(cfg.url, { perMessageDeflate: false });
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
      ws.on('message', onMessage);
      ws.on('close', onClose);
    })),
  );
  for (const ws of conns) { ws.removeAllListeners('error'); ws.on('error', onError); }
} catch (err) {
  fail('connect_failed', 1, `reason="${String(err?.message ?? err).replace(/["\s]+/g, '_').slice(0, 80)}"`);
}
start(() => {
  for (const ws of conns) for (let i = 0; i < cfg.inflight; i++) ws.send(payload);
});
