// Benchmark runner (issue 6): sockwave vs ws (with and without bufferutil), interleaved, pinned.
//
//   node bench/run.mjs [--rounds N] [--only a,b] [--time S] [--quick] [--profile]
//
// Server scenarios: the server under test runs on core 0 (taskset -c 0), the wsload generator on
// core 1. Client scenarios: the raw-net fast echo server on core 0, the client under test on core 1.
// For each scenario, the implementations alternate (A B C A B C ...) for N rounds; the table shows
// medians, min–max and sockwave's ratio to each ws variant next to the target.
// --nice N starts every benchmark process with that niceness (e.g. -5 on a shared machine; < 0
// needs root and slows the machine's other work while it runs).
// --profile runs the sockwave side once for the first selected scenario under
// `node --cpu-prof --cpu-prof-dir=.bench/profiles` and prints where the profile went.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, killAll, parseResult, runPinned, setNiceness, spawnPinned, stop, waitForOutput } from './lib/proc.mjs';
import { cpuTable, median, resultsTable, roundsTable } from './lib/report.mjs';
import { CLIENT_IMPLS, SERVER_IMPLS, selectScenarios } from './scenarios.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, '.bench');
const WSLOAD = join(OUT, 'wsload');
const WSLOAD_SRC = join(ROOT, '..', 'shared', 'loadgen', 'wsload.c');
const PROFILES = join(OUT, 'profiles');
const SERVER_CORE = 0;
const LOAD_CORE = 1;
/**
 * The environment of the client scenarios' echo server, the tested client's peer, which must not
 * be the bottleneck. Streaming 64 KiB frames, it let glibc's malloc hand freed read buffers back
 * to the kernel (heap trim) and take them again, and faulting the pages back in took most of its
 * time: 1.6 to 6 page faults per message depending on the heap's layout, and 4k to 16k msg/s from
 * one run to the next whichever client was tested. A high trim threshold keeps freed memory
 * mapped. The client under test runs with the default, as users do.
 */
const PEER_ENV = { GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=268435456:glibc.malloc.top_pad=67108864' };

function options() {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string' },
      only: { type: 'string' },
      time: { type: 'string' },
      quick: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      nice: { type: 'string', default: '0' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log('usage: node bench/run.mjs [--rounds N (3)] [--only a,b] [--time S (3)] [--quick] [--profile] [--nice N (0)]');
    process.exit(0);
  }
  const quick = values.quick;
  const o = {
    quick,
    rounds: Number(values.rounds ?? (quick ? 1 : 3)),
    time: Number(values.time ?? (quick ? 1 : 3)),
    warmup: quick ? 0.5 : 1,
    only: values.only,
    profile: values.profile,
    nice: Number(values.nice),
  };
  if (!(Number.isInteger(o.nice) && o.nice >= -20 && o.nice <= 19)) throw new Error('--nice must be an integer in [-20, 19]');
  if (!(Number.isInteger(o.rounds) && o.rounds > 0)) throw new Error('--rounds must be a positive integer');
  if (!(o.time > 0 && o.time <= 60)) throw new Error('--time must be in (0, 60] seconds');
  return o;
}

/** Builds .bench/wsload from ../shared/loadgen when missing or older than its source. */
function buildWsload() {
  mkdirSync(OUT, { recursive: true });
  if (!existsSync(WSLOAD_SRC)) throw new Error(`load generator source not found: ${WSLOAD_SRC}`);
  if (existsSync(WSLOAD) && statSync(WSLOAD).mtimeMs >= statSync(WSLOAD_SRC).mtimeMs) return;
  console.log('building .bench/wsload');
  execFileSync('cc', ['-O2', '-DHAVE_ZLIB', WSLOAD_SRC, '-lz', '-o', WSLOAD], { stdio: 'inherit' });
}

function checkSetup() {
  if (!existsSync(join(ROOT, 'dist', 'index.js'))) throw new Error('dist/ missing: run `npm run build` (or `npm run bench`)');
  if (cpus().length < 2) console.warn('warning: fewer than 2 CPUs; the server and the load generator will share a core');
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
  } catch {
    throw new Error('taskset (util-linux) is needed to pin processes to cores');
  }
}

/** One server run: start the implementation on core 0, drive it with wsload on core 1. */
async function serverRun(scenario, impl, o, nodeFlags = []) {
  const port = await freePort();
  const argv = [process.execPath, ...nodeFlags, impl.script, String(port), ...(scenario.deflate ? ['--deflate'] : [])];
  const server = spawnPinned(SERVER_CORE, argv, { env: impl.env, cwd: ROOT });
  try {
    await waitForOutput(server, /listening/, 15_000);
    const budget = (o.warmup + o.time + 60) * 1000;
    // Scenarios without a timed warm-up of their own (connect) get an unmeasured run first.
    if (scenario.warm) await runPinned(LOAD_CORE, [WSLOAD, ...scenario.warm(o), '-p', String(port), '-T', '30'], budget, { cwd: ROOT });
    const args = [...scenario.wsload(o), '-p', String(port), '-S', String(server.pid), '-T', '30'];
    const { output } = await runPinned(LOAD_CORE, [WSLOAD, ...args], budget, { cwd: ROOT });
    const mask = /native_mask=(\d)/.exec(server.output)?.[1];
    return toRun(scenario, impl, parseResult(output), output, 'srv_cpu', 'gen_cpu', mask);
  } finally {
    await stop(server);
  }
}

/** One client run: the fast echo server on core 0, the client under test on core 1. */
async function clientRun(scenario, impl, o, nodeFlags = []) {
  const port = await freePort();
  const server = spawnPinned(SERVER_CORE, [process.execPath, 'bench/client/fast-echo-server.mjs', String(port)], { cwd: ROOT, env: PEER_ENV });
  try {
    await waitForOutput(server, /listening/, 15_000);
    const args = [...scenario.client(o), '--port', String(port), '--time', String(o.time), '--warmup', String(o.warmup), '--srv-pid', String(server.pid)];
    const budget = (o.warmup + o.time + 40) * 1000;
    const { output } = await runPinned(LOAD_CORE, [process.execPath, ...nodeFlags, impl.script, ...args], budget, { env: impl.env, cwd: ROOT });
    // Here the tested process is the client; the echo server is its peer.
    const result = parseResult(output);
    return toRun(scenario, impl, result, output, 'client_cpu', 'srv_cpu', result?.native_mask);
  } finally {
    await stop(server);
  }
}

function toRun(scenario, impl, result, output, testedCpuKey, otherCpuKey, nativeMask) {
  if (impl.nativeMask !== undefined && Number(nativeMask) !== impl.nativeMask) {
    return { value: NaN, error: `${impl.id} reported native_mask=${nativeMask}, expected ${impl.nativeMask}` };
  }
  const bad = !result || result.error || result.lost_conns > 0 || result.failed > 0 || (scenario.name === 'idle' && result.open !== result.conns);
  if (bad) {
    const why = result?.error ?? (result ? 'lost or failed connections' : 'no RESULT line');
    return { value: NaN, error: `${why}: ${output.trim().split('\n').slice(-2).join(' | ').slice(0, 300)}` };
  }
  // Machine CPU not used by the two processes of the run: other work on the box (noise).
  const others = result.sys_busy - result[testedCpuKey] - result[otherCpuKey];
  return { value: result[scenario.metric], srvCpu: result[testedCpuKey], genCpu: result[otherCpuKey], others, raw: result };
}

const implsFor = (scenario) => (scenario.kind === 'client' ? CLIENT_IMPLS : SERVER_IMPLS).filter((impl) => !impl.scenarios || impl.scenarios.includes(scenario.name));
const runFor = (scenario) => (scenario.kind === 'client' ? clientRun : serverRun);

async function profile(scenarios, o) {
  const scenario = scenarios[0];
  const impl = implsFor(scenario).find((i) => i.id === 'sockwave');
  mkdirSync(PROFILES, { recursive: true });
  const before = new Set(readdirSync(PROFILES));
  console.log(`profiling sockwave on "${scenario.title}" (${o.time} s)…`);
  const run = await runFor(scenario)(scenario, impl, o, ['--cpu-prof', `--cpu-prof-dir=${PROFILES}`]);
  console.log(Number.isFinite(run.value) ? `${scenario.metric}=${Math.round(run.value)}` : `run failed: ${run.error}`);
  const fresh = readdirSync(PROFILES).filter((f) => !before.has(f));
  for (const f of fresh) console.log(`profile: ${join(PROFILES, f)}`);
  if (fresh.length === 0) console.log('no profile written (did the process exit cleanly?)');
  console.log('open it in Chrome DevTools (Performance tab → Load profile) or speedscope.');
}

function machineLine() {
  const load = loadavg().map((x) => x.toFixed(2)).join(', ');
  return `node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load average ${load}`;
}

async function main() {
  const o = options();
  const scenarios = selectScenarios(o.only);
  checkSetup();
  buildWsload();
  setNiceness(o.nice);
  if (o.profile) return profile(scenarios, o);

  const startedAt = new Date();
  const loadBefore = loadavg();
  console.log(`sockwave benchmark — ${startedAt.toISOString()}`);
  console.log(`${machineLine()}`);
  console.log(`rounds ${o.rounds}, ${o.time} s per run after ${o.warmup} s warm-up; server core ${SERVER_CORE}, load core ${LOAD_CORE}, nice ${o.nice}\n`);

  const all = {};
  for (const scenario of scenarios) {
    const results = (all[scenario.name] = {});
    for (let round = 1; round <= o.rounds; round++) {
      for (const impl of implsFor(scenario)) {
        const run = await runFor(scenario)(scenario, impl, o).catch((error) => ({ value: NaN, error: error.message }));
        (results[impl.id] ??= []).push(run);
        const shown = Number.isFinite(run.value) ? `${Math.round(run.value)} ${scenario.unit}` : `FAILED (${run.error})`;
        const cpu = Number.isFinite(run.srvCpu) ? `  cpu: tested ${run.srvCpu.toFixed(2)}, peer ${run.genCpu?.toFixed(2)}, rest of machine ${run.others?.toFixed(2)}` : '';
        console.log(`${scenario.name.padEnd(10)} round ${round} ${impl.id.padEnd(9)} ${shown}${cpu}`);
      }
    }
  }

  const loadAfter = loadavg();
  const table = resultsTable(scenarios, all);
  const cpu = cpuTable(scenarios, all);
  const byRound = roundsTable(scenarios, all);
  const rest = median(Object.values(all).flatMap((r) => Object.values(r).flat().map((run) => run.others)));
  const restNote = Number.isFinite(rest)
    ? `rest of the machine (other processes, plus interrupt/softirq time: ~0.2 cores of loopback work is the benchmark's own): median ${rest.toFixed(2)} cores during runs` +
      (rest > 0.4 ? ' — other work competed for the cores: figures are noisy, prefer the per-CPU-s ratios and rerun on a quiet machine' : '')
    : '';
  const loadNote = `${restNote}; load average before ${loadBefore.map((x) => x.toFixed(2)).join(', ')}; after ${loadAfter.map((x) => x.toFixed(2)).join(', ')}`;
  console.log(`\n${table}\n\nCPU used, medians in cores: tested side / its peer / rest of the machine (server scenarios: server / wsload; client scenarios: client / echo server; rest includes ~0.2 cores of the benchmark's own softirq network work; more means other work competed):\n\n${cpu}\n`);
  console.log(`Round by round (the runs of a round follow each other, so each ratio compares the two at the same machine speed):\n\n${byRound}\n`);
  console.log(loadNote);

  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const header = `${startedAt.toISOString()} — ${machineLine()}; rounds ${o.rounds}, ${o.time} s per run, nice ${o.nice}; ${loadNote}`;
  writeFileSync(join(OUT, 'last-table.md'), `${header}\n\n${table}\n\n${cpu}\n\n${byRound}\n`);
  writeFileSync(join(OUT, `results-${stamp}.json`), JSON.stringify({ startedAt, options: o, loadBefore, loadAfter, results: all }, null, 2));
  console.log(`saved .bench/last-table.md and .bench/results-${stamp}.json`);
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

main().catch((error) => {
  killAll();
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
