// Outside-harness client driver: sockwave's client, through its public API only (dist/index.js).
// Style: connect(url, { handler }) — a plain client connection with one handler object shared by
// every connection (the handler-object style: no closure and no event object per message).
// Usage: node client-sockwave.mjs PORT CONNS INFLIGHT SIZE binary|text WARMUP_S MEASURE_S [ECHO_SERVER_PID]
// Prints one line: RESULT msgs_per_s=N client_cpu=X ... (see client-common.mjs).
import { connect } from '../../dist/index.js';
import { counts, fail, makePayload, mismatch, parseArgs, setup, start, stopping } from './client-common.mjs';

const cfg = parseArgs();
const payload = makePayload(cfg.size, cfg.binary);
const { size, binary } = cfg;
const first = binary ? payload[0] : payload.charCodeAt(0);
const last = binary ? payload[size - 1] : payload.charCodeAt(size - 1);

const handler = {
  onMessage(conn, data, isBinary) {
    counts.received++;
    if (isBinary !== binary) { counts.badType++; mismatch(`isBinary=${isBinary}`); }
    else if (data.length !== size) { counts.badSize++; mismatch(`length ${data.length}, sent ${size}`); }
    else if (binary ? data[0] !== first || data[size - 1] !== last : data.charCodeAt(0) !== first || data.charCodeAt(size - 1) !== last) {
      counts.badBytes++;
      mismatch('first/last byte differs');
    }
    conn.send(payload);
  },
  onClose() {
    if (!stopping) counts.lost++;
  },
  onError(_conn, err) {
    if (!stopping) { counts.errors++; mismatch(`error ${err?.message ?? err}`); }
  },
};

setup(cfg, 'lib=sockwave');
let conns;
try {
  conns = await Promise.all(Array.from({ length: cfg.conns }, () => connect(cfg.url, { handler, perMessageDeflate: false })));
} catch (err) {
  fail('connect_failed', 1, `reason="${String(err?.message ?? err).replace(/["\s]+/g, '_').slice(0, 80)}"`);
}
start(() => {
  for (const conn of conns) for (let i = 0; i < cfg.inflight; i++) conn.send(payload);
});
