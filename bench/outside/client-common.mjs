// Measurement core shared by the two client drivers of the outside harness
// (client-sockwave.mjs, client-ws.mjs). Written for bench/outside only; it shares nothing with
// bench/run.mjs, bench/lib/* or bench/client/*.
//
// A driver calls setup() first, opens its connections, then start(sendInitial): every connection
// gets P messages at once, each echo received triggers one new message (the driver's job), echoes
// are counted all the time and the count is read at the start and at the end of the measured
// window. CPU figures are taken over the same window:
//   client_cpu  this process (process.cpuUsage), in cores; client_sys: the kernel's part of it
//   peer_cpu    the echo server (utime+stime from /proc/PID/stat), in cores; -1 without a PID
//   sys_busy    the whole machine (/proc/stat: user+nice+system+irq+softirq+steal), in cores
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const USAGE = 'usage: node client-X.mjs PORT CONNS INFLIGHT SIZE binary|text WARMUP_S MEASURE_S [ECHO_SERVER_PID]';
const CONNECT_BUDGET_S = 15; // all connections must be open within this
const USER_HZ = 100; // the unit of /proc/stat and /proc/PID/stat on Linux (USER_HZ)

/** Echoes received and problems seen, updated by the driver's message handler. */
export const counts = { received: 0, badType: 0, badSize: 0, badBytes: 0, lost: 0, errors: 0 };
export let stopping = false;

export function parseArgs(argv = process.argv) {
  const a = argv.slice(2);
  const [port, conns, inflight, size] = a.slice(0, 4).map(Number);
  const kind = a[4];
  const warm = Number(a[5]);
  const secs = Number(a[6]);
  const peerPid = a[7] === undefined ? 0 : Number(a[7]);
  const ok = [port, conns, inflight, size].every((n) => Number.isInteger(n) && n > 0) &&
    (kind === 'binary' || kind === 'text') && warm >= 0 && secs > 0 && Number.isInteger(peerPid) && peerPid >= 0;
  if (!ok) {
    console.error(USAGE);
    process.exit(2);
  }
  return { port, conns, inflight, size, binary: kind === 'binary', warm, secs, peerPid, url: `ws://127.0.0.1:${port}/echo` };
}

/** The message every connection sends: text a..z repeated, or binary bytes i*31+7. */
export function makePayload(size, binary) {
  if (!binary) {
    let s = '';
    for (let i = 0; i < size; i++) s += String.fromCharCode(97 + (i % 26));
    return s;
  }
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + 7) & 255;
  return b;
}

function procCpu(pid) {
  if (!pid) return -1;
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / USER_HZ; // utime, stime (fields 14, 15)
  } catch {
    return -1;
  }
}

function sysBusy() {
  try {
    const v = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / USER_HZ;
  } catch {
    return -1;
  }
}

let cfg;
let info = '';
let tEstablish0 = 0;

/** Arms the watchdog (warm-up + window + connect budget + 5 s) and notes the start of connecting. */
export function setup(config, extraInfo = '') {
  cfg = config;
  info = extraInfo;
  const budget = (CONNECT_BUDGET_S + cfg.warm + cfg.secs + 5) * 1000;
  setTimeout(() => fail('watchdog_timeout', 3), budget).unref();
  setTimeout(() => { if (!started) fail('connect_timeout', 1); }, CONNECT_BUDGET_S * 1000).unref();
  tEstablish0 = performance.now();
}

/** Prints a failed RESULT line and exits. */
export function fail(error, code = 1, detail = '') {
  stopping = true;
  process.stdout.write(`RESULT error=${error}${detail ? ' ' + detail : ''} received=${counts.received} lost_conns=${counts.lost}\n`);
  process.exit(code);
}

let started = false;

/** All connections are open: send the first P messages on each, then measure. */
export function start(sendInitial) {
  started = true;
  const establishS = (performance.now() - tEstablish0) / 1000;
  sendInitial();
  let t0, r0, c0, p0, s0;
  setTimeout(() => {
    t0 = performance.now();
    r0 = counts.received;
    c0 = process.cpuUsage();
    p0 = procCpu(cfg.peerPid);
    s0 = sysBusy();
  }, cfg.warm * 1000);
  setTimeout(() => {
    const t1 = performance.now();
    const r1 = counts.received;
    const c1 = process.cpuUsage(c0);
    const p1 = procCpu(cfg.peerPid);
    const s1 = sysBusy();
    stopping = true;
    const el = (t1 - t0) / 1000;
    const msgs = r1 - r0;
    const errors = counts.badType + counts.badSize + counts.badBytes + counts.errors;
    const peer = p0 >= 0 && p1 >= 0 ? ((p1 - p0) / el).toFixed(2) : '-1';
    const sys = s0 >= 0 && s1 >= 0 ? ((s1 - s0) / el).toFixed(2) : '-1';
    process.stdout.write(
      `RESULT msgs_per_s=${Math.round(msgs / el)} msgs=${msgs} duration=${el.toFixed(3)} ` +
        `client_cpu=${((c1.user + c1.system) / 1e6 / el).toFixed(2)} client_sys=${(c1.system / 1e6 / el).toFixed(2)} peer_cpu=${peer} sys_busy=${sys} ` +
        `conns=${cfg.conns} inflight=${cfg.inflight} size=${cfg.size} binary=${cfg.binary ? 1 : 0} ` +
        `errors=${errors} type_errors=${counts.badType} size_errors=${counts.badSize} byte_errors=${counts.badBytes} ` +
        `lost_conns=${counts.lost} establish_s=${establishS.toFixed(3)}${info ? ' ' + info : ''}\n`,
    );
    process.exit(0);
  }, (cfg.warm + cfg.secs) * 1000);
}

let shown = 0;
/** Reports the first few mismatches on stderr (the RESULT line carries the counts). */
export function mismatch(what) {
  if (shown++ < 3) console.error(`echo mismatch: ${what}`);
}
