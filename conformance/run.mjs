#!/usr/bin/env node
// Outside-in WebSocket conformance runner modelled on the Autobahn TestSuite.
// Talks to the implementation under test only over real sockets via its CLI.
//
//   node conformance/run.mjs [--mode server|client|both]
//        [--server-cmd "..."] [--server-url ws://host:port/echo]
//        [--client-cmd "..."] [--cases 1.*,6.4.*] [--exclude 6.22.*]
//        [--json out.json] [--concurrency 16] [--reference] [--verbose] [--list]
//
// See conformance/README.md.

import path from 'node:path';
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { selectCases } from './lib/cases.mjs';
import { configureDeflateCases } from './lib/cases-deflate.mjs';
import { PASSING, V, notOpened } from './lib/fuzzer.mjs';
import { FuzzingServer, pool, runCaseAgainstServer, splitCommand } from './lib/modes.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');

const DEFAULTS = {
  mode: 'both',
  serverCmd: 'node dist/cli/main.js serve --port 0 --deflate',
  clientCmd: 'node dist/cli/main.js connect --deflate --echo',
  refServerCmd: `node ${path.join(HERE, 'reference', 'ws-echo-server.mjs')} serve --port 0 --deflate`,
  refClientCmd: `node ${path.join(HERE, 'reference', 'ws-echo-client.mjs')} connect --deflate --echo`,
};

function usage(code) {
  console.log(`usage: node conformance/run.mjs [options]
  --mode server|client|both   which side(s) of the implementation to test (default both)
  --server-cmd "CMD"          command starting the server under test; must print
                              'listening on ws://HOST:PORT' (default: ${DEFAULTS.serverCmd})
  --server-url URL            test an already running echo endpoint instead of --server-cmd
  --client-cmd "CMD"          client under test; the case URL is appended
                              (default: ${DEFAULTS.clientCmd})
  --reference                 use the ws-based reference server/client in conformance/reference
  --cases LIST                comma separated case patterns, e.g. 1.*,6.4.*,12.*,13.1.3 (default all)
  --exclude LIST              comma separated case patterns to skip
  --concurrency N             server-mode cases in flight (default 16)
  --client-concurrency N      client-mode cases (client processes) in flight (default 8)
  --client-timeout S          time limit per client process in seconds (default 10)
  --time-scale F              factor applied to Autobahn case delays (default 1; never below 0.5 s)
  --deflate-full              categories 12/13 with Autobahn's 1000 messages per case
                              (default: reduced counts, see README)
  --cwd DIR                   working directory for the commands (default ${ROOT})
  --json FILE                 write full results as JSON
  --verbose                   print every case, not only failures
  --list                      list the selected cases and exit`);
  process.exit(code);
}

function parseArgs(argv) {
  const o = {
    mode: DEFAULTS.mode, serverCmd: null, serverUrl: null, clientCmd: null, cases: ['*'], exclude: [],
    concurrency: 16, clientConcurrency: 8, clientTimeout: 10, timeScale: 1, cwd: ROOT, json: null, verbose: false, list: false, reference: false, deflateFull: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) { console.error(`missing value for ${a}`); usage(2); }
      return argv[++i];
    };
    switch (a) {
      case '--mode': o.mode = val(); break;
      case '--server-cmd': o.serverCmd = val(); break;
      case '--server-url': o.serverUrl = val(); break;
      case '--client-cmd': o.clientCmd = val(); break;
      case '--cases': o.cases = val().split(',').map((s) => s.trim()).filter(Boolean); break;
      case '--exclude': o.exclude = val().split(',').map((s) => s.trim()).filter(Boolean); break;
      case '--concurrency': o.concurrency = Math.max(1, Number(val())); break;
      case '--client-concurrency': o.clientConcurrency = Math.max(1, Number(val())); break;
      case '--client-timeout': o.clientTimeout = Number(val()); break;
      case '--time-scale': o.timeScale = Number(val()); break;
      case '--cwd': o.cwd = path.resolve(val()); break;
      case '--json': o.json = val(); break;
      case '--verbose': o.verbose = true; break;
      case '--list': o.list = true; break;
      case '--reference': o.reference = true; break;
      case '--deflate-full': o.deflateFull = true; break;
      case '-h': case '--help': usage(0); break;
      default: console.error(`unknown argument ${a}`); usage(2);
    }
  }
  if (!['server', 'client', 'both'].includes(o.mode)) usage(2);
  o.serverCmd ??= o.reference ? DEFAULTS.refServerCmd : DEFAULTS.serverCmd;
  o.clientCmd ??= o.reference ? DEFAULTS.refClientCmd : DEFAULTS.clientCmd;
  return o;
}

// ------------------------------------------------------------ presentation

function preview(buf) {
  const printable = /^[\x20-\x7e]*$/.test(buf.toString('latin1'));
  if (printable) {
    const s = buf.toString('latin1');
    return JSON.stringify(s.length > 24 ? `${s.slice(0, 24)}...` : s);
  }
  const hex = buf.subarray(0, 12).toString('hex');
  return `0x${hex}${buf.length > 12 ? '...' : ''}`;
}

function fmtEvent(e) {
  if (e[0] === 'message') return `${e[2] ? 'binary' : 'text'}(${e[1].length}B ${preview(e[1])})`;
  if (e[0] === 'pong') return `pong(${e[1].length}B ${preview(e[1])})`;
  return `${e[0]}(${e.slice(1).join(',')})`;
}
const fmtEvents = (list) => `[${list.map(fmtEvent).join(', ')}]`;

function fmtExpected(r) {
  const outcomes = Object.entries(r.expected).map(([k, v]) => `${k}=${fmtEvents(v)}`).join(' or ');
  const ec = r.expectedClose;
  const close = ec.closeCode ? ` close{by ${ec.closedByMe ? 'suite' : 'peer'}, codes ${ec.closeCode.join('/')}${ec.requireClean ? ', clean' : ''}}` : '';
  return `${outcomes || '(none)'}${close}`;
}

function fmtObserved(r) {
  const o = r.observedClose;
  if (!o) return '(connection never opened)';
  const by = o.closedByMe ? 'suite' : (o.remoteCloseCode != null || o.wasClean ? 'peer' : 'peer(TCP drop)');
  const code = o.remoteCloseCode != null ? `peer code ${o.remoteCloseCode}` : (o.wasClean ? 'peer close w/o code' : 'no close frame from peer');
  const extra = [];
  if (o.localCloseCode != null) extra.push(`suite sent ${o.localCloseCode}`);
  if (!o.wasClean) extra.push(`unclean${o.wasNotCleanReason ? `: ${o.wasNotCleanReason}` : ''}`);
  return `${fmtEvents(r.received)} close{by ${by}, ${code}${extra.length ? `, ${extra.join(', ')}` : ''}}`;
}

function failLine(mode, r) {
  const desc = r.description.length > 140 ? `${r.description.slice(0, 137)}...` : r.description;
  const why = [...r.reasons, ...r.notes.filter((n) => !n.startsWith('client process had to be killed'))];
  const clip = (t, n) => (t.length > n ? `${t.slice(0, n - 3)}...` : t);
  const line = `${r.verdict.padEnd(6)} [${mode}] ${r.id} ${desc} | expected: ${clip(fmtExpected(r), 600)} | observed: ${clip(fmtObserved(r), 600)}${why.length ? ` | ${clip(why.join('; '), 600)}` : ''}`;
  return line.replace(/\s+/g, ' ');
}

function toJson(r) {
  const ev = (e) => (e[0] === 'message'
    ? { type: 'message', binary: e[2], length: e[1].length, hex: e[1].subarray(0, 256).toString('hex') }
    : e[0] === 'pong' ? { type: 'pong', length: e[1].length, hex: e[1].toString('hex') } : { type: e[0], tag: e[1] });
  return {
    ...r,
    expected: Object.fromEntries(Object.entries(r.expected).map(([k, v]) => [k, v.map(ev)])),
    received: r.received.map(ev),
  };
}

// ------------------------------------------------------------ processes

function startServer(o) {
  return new Promise((resolve) => {
    const [cmd, ...args] = splitCommand(o.serverCmd);
    const child = spawn(cmd, args, { cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let done = false;
    const finish = (v) => { if (!done) { done = true; clearTimeout(t); resolve(v); } };
    const t = setTimeout(() => finish({ child, error: `no 'listening on ws://...' line within 10 s; stderr: ${err.trim().slice(-300)}` }), 10000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (wss?:\/\/\S+)/.exec(out);
      if (m) finish({ child, url: m[1].replace(/\/$/, '') });
    });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', (e) => finish({ child: null, error: `cannot start server: ${e.message}` }));
    child.on('exit', (code, sig) => finish({ child: null, error: `server exited (code ${code}, signal ${sig}) before listening; stderr: ${err.trim().slice(-300)}` }));
    child.exitPromise = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
  });
}

async function stopServer(child) {
  if (!child || child.exitCode != null || child.signalCode != null) return null;
  try { process.kill(child.pid, 'SIGTERM'); } catch { return null; }
  let ex = await Promise.race([child.exitPromise, new Promise((r) => setTimeout(() => r(null), 5000))]);
  if (!ex) {
    try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
    ex = await child.exitPromise;
    return `server did not exit within 5 s of SIGTERM (killed)`;
  }
  if (ex.code !== 0) return `server exited with code ${ex.code}${ex.signal ? ` (signal ${ex.signal})` : ''} after SIGTERM (expected 0)`;
  return null;
}

// ------------------------------------------------------------ modes

/**
 * Run the cases in two phases: first categories 1-10 (several of them are
 * timing sensitive: chopped writes, killAfter 1 s), then the compression
 * categories 12/13, whose compression work on the suite's event loop would
 * otherwise delay the timers and writes of concurrently running cases.
 * Results keep the case order.
 */
async function phased(cases, limit, worker) {
  const out = new Array(cases.length);
  let n = 0;
  for (const inPhase of [(c) => !c.deflate, (c) => !!c.deflate]) {
    const idx = cases.map((c, i) => i).filter((i) => inPhase(cases[i]));
    const res = await pool(idx.map((i) => cases[i]), limit, (c) => worker(c, n++));
    idx.forEach((i, k) => { out[i] = res[k]; });
  }
  return out;
}

async function serverMode(o, cases) {
  const t0 = Date.now();
  let url = o.serverUrl;
  let child = null;
  const warnings = [];
  if (!url) {
    const s = await startServer(o);
    child = s.child;
    if (s.error) {
      if (child) await stopServer(child);
      return { results: cases.map((c) => notOpened(c, s.error)), warnings: [s.error], seconds: (Date.now() - t0) / 1000, target: o.serverCmd };
    }
    url = `${s.url}/echo`;
  }
  const opts = { timeScale: o.timeScale, hardTimeout: 30 };
  const results = await phased(cases, o.concurrency, (c) => runCaseAgainstServer(c, url, opts));
  if (child) {
    const w = await stopServer(child);
    if (w) warnings.push(w);
  }
  return { results, warnings, seconds: (Date.now() - t0) / 1000, target: o.serverUrl || `${o.serverCmd} (${url})` };
}

async function clientMode(o, cases) {
  const t0 = Date.now();
  const fs_ = new FuzzingServer({ clientCmd: o.clientCmd, cwd: o.cwd, timeScale: o.timeScale, hardTimeout: 30, clientTimeout: o.clientTimeout });
  await fs_.listen();
  const results = await phased(cases, o.clientConcurrency, (c, i) => fs_.runCase(c, i + 1));
  await fs_.close();
  return { results, warnings: [], seconds: (Date.now() - t0) / 1000, target: o.clientCmd };
}

// ------------------------------------------------------------ main

async function main() {
  const o = parseArgs(process.argv.slice(2));
  configureDeflateCases({ full: o.deflateFull });
  const cases = selectCases(o.cases, o.exclude);
  if (o.list) {
    for (const c of cases) console.log(`${c.id}\t${c.description}`);
    console.log(`${cases.length} cases`);
    return 0;
  }
  if (!cases.length) {
    console.error('no cases selected');
    return 2;
  }
  const t0 = Date.now();
  const modes = o.mode === 'both' ? ['server', 'client'] : [o.mode];
  // modes run one after the other: client mode is CPU heavy (one process per
  // case) and would otherwise disturb the timing of server-mode cases
  const runs = [];
  for (const m of modes) runs.push(m === 'server' ? await serverMode(o, cases) : await clientMode(o, cases));
  const out = {};
  let passed = 0;
  let failed = 0;
  const summaries = [];
  modes.forEach((m, i) => {
    const run = runs[i];
    out[m] = run;
    const counts = {};
    for (const r of run.results) {
      counts[r.verdict] = (counts[r.verdict] || 0) + 1;
      if (PASSING.has(r.verdict)) passed++; else failed++;
      if (o.verbose || !PASSING.has(r.verdict)) console.log(failLine(m, r));
    }
    for (const w of run.warnings) console.log(`WARNING [${m}] ${w}`);
    const order = [V.OK, V.NON_STRICT, V.INFORMATIONAL, V.UNIMPLEMENTED, V.FAILED];
    const parts = order.filter((k) => counts[k]).map((k) => `${counts[k]} ${k}`);
    const modePassed = run.results.filter((r) => PASSING.has(r.verdict)).length;
    summaries.push(`${m} mode (${m === 'server' ? 'suite is client, testing server' : 'suite is server, testing client'}): ${run.results.length} cases, ${modePassed} passed, ${run.results.length - modePassed} failed [${parts.join(', ')}] in ${run.seconds.toFixed(1)}s`);
  });
  for (const s of summaries) console.log(s);
  if (o.json) {
    const json = {
      generated: new Date().toISOString(),
      seconds: (Date.now() - t0) / 1000,
      modes: Object.fromEntries(Object.entries(out).map(([m, run]) => [m, { target: run.target, seconds: run.seconds, warnings: run.warnings, results: run.results.map(toJson) }])),
      passed,
      failed,
    };
    fs.writeFileSync(o.json, JSON.stringify(json, null, 2));
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

main().then((code) => process.exit(code), (e) => {
  console.error(e.stack || e);
  process.exit(2);
});
