// Process plumbing for the benchmark runner: free ports, pinned children, bounded waits, and
// killing exactly the processes we started (by PID, never by name).
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';

/** Children still alive, so that an interrupted run can clean up after itself. */
const live = new Set();

/** A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Scheduling niceness of the processes we start (`--nice`; 0 = as usual, < 0 needs root). */
let niceness = 0;
export function setNiceness(n) {
  niceness = n;
}

/**
 * Starts `argv` pinned to `core` (taskset) with the open-file limit raised to the hard limit.
 * `exec` keeps the PID, so the PID we hold is the real process (wsload samples its CPU and RSS).
 */
export function spawnPinned(core, argv, { env = {}, cwd } = {}) {
  const script = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; n=$1; shift; exec nice -n "$n" taskset -c "$0" "$@"';
  const child = spawn('sh', ['-c', script, String(core), String(niceness), ...argv], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.output = '';
  child.stdout.setEncoding('utf8').on('data', (s) => (child.output += s));
  child.stderr.setEncoding('utf8').on('data', (s) => (child.output += s));
  child.exited = new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  live.add(child);
  child.exited.then(() => live.delete(child));
  return child;
}

/** Resolves once `child` printed a line matching `pattern`; rejects on exit or after `ms`. */
export function waitForOutput(child, pattern, ms) {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (pattern.test(child.output)) finish(resolve);
    };
    const timer = setTimeout(() => finish(() => reject(new Error(`timed out waiting for ${pattern}: ${tail(child.output)}`))), ms);
    const onExit = () => finish(() => reject(new Error(`exited before ${pattern}: ${tail(child.output)}`)));
    const finish = (fn) => {
      clearTimeout(timer);
      child.stdout.off('data', check);
      child.stderr.off('data', check);
      child.off('close', onExit);
      fn();
    };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    child.once('close', onExit);
    check();
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the child is gone. */
export async function stop(child, graceMs = 3000) {
  if (child.exitCode !== null || child.signalCode !== null) return child.exited;
  try {
    process.kill(child.pid, 'SIGTERM');
  } catch {
    return child.exited;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }, graceMs);
  const result = await child.exited;
  clearTimeout(timer);
  return result;
}

/** Runs `argv` pinned to `core` to completion, killed after `ms`; resolves with its output. */
export async function runPinned(core, argv, ms, options) {
  const child = spawnPinned(core, argv, options);
  const timer = setTimeout(() => stop(child, 1000), ms);
  const { code, signal } = await child.exited;
  clearTimeout(timer);
  return { code, signal, output: child.output };
}

/** Kills every child still running (on Ctrl-C or a crash of the runner). */
export function killAll() {
  for (const child of live) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Parses the first `RESULT key=value ...` line of some output. */
export function parseResult(output) {
  const line = output.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) return null;
  const fields = {};
  for (const pair of line.slice(7).trim().split(/\s+/)) {
    const eq = pair.indexOf('=');
    if (eq > 0) {
      const value = pair.slice(eq + 1);
      fields[pair.slice(0, eq)] = Number.isNaN(Number(value)) ? value : Number(value);
    }
  }
  return fields;
}

function tail(text) {
  return text.trim().split('\n').slice(-3).join(' | ').slice(-300);
}
