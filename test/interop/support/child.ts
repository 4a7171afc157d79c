/**
 * Child processes for the example and interoperability tests. Every wait is bounded, and every
 * process is stopped by its PID (SIGKILL) when the test ends, whatever happened.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { captureOutput } from '../../support/child-output.js';
import { deferred, withTimeout, type Queue } from '../../support/net.js';

/** The package root (this file is build/test/interop/support/child.js once compiled). */
export const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Process {
  child: ChildProcess;
  /** Complete stdout lines, in order. */
  lines: Queue<string>;
  stdout(): string;
  stderr(): string;
  /** The exit, within `ms` (rejects otherwise; the process is left to `kill()`). */
  exited(ms?: number): Promise<Exit>;
  /** Sends SIGTERM (if it still runs) and waits for the exit, within `ms`. */
  terminate(ms?: number): Promise<Exit>;
  /** SIGKILL by PID if it still runs, then waits for the exit (bounded). Never throws. */
  kill(): Promise<void>;
  /** Resolves when the process has exited and its output pipes are closed. */
  closed: Promise<void>;
  /** Resolves at the exit (no deadline: race it with something bounded). */
  exit: Promise<Exit>;
}

/** Starts `command args` in the package root; when `t` is given, it is killed when the test ends. */
export function spawnProcess(command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; t?: TestContext } = {}): Process {
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const label = [command, ...args].join(' ');
  const output = captureOutput(child);
  const { lines } = output;
  const exit = deferred<Exit>();
  exit.promise.catch(() => {});
  let exitInfo: Exit | undefined;
  child.once('exit', (code, signal) => {
    exitInfo = { code, signal };
    exit.resolve(exitInfo);
  });
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  child.once('error', (error) => exit.reject(new Error(`${label} could not be started: ${error.message}`)));

  const exited = (ms = 5000): Promise<Exit> => withTimeout(exit.promise, `${label} to exit`, ms);
  const kill = async (): Promise<void> => {
    if (exitInfo !== undefined || child.pid === undefined) return;
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      return; // already gone
    }
    await withTimeout(exit.promise, `${label} to exit after SIGKILL`, 5000).catch(() => undefined);
  };
  options.t?.after(kill);
  return {
    child,
    lines,
    stdout: output.stdout,
    stderr: output.stderr,
    exited,
    terminate(ms = 5000) {
      if (exitInfo === undefined && child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGTERM');
        } catch {
          // already gone: exited() tells
        }
      }
      return exited(ms);
    },
    kill,
    closed,
    exit: exit.promise,
  };
}

/**
 * The next stdout line of `proc`, within `ms`; fails with its output when the process exits first
 * or the line does not come.
 */
export async function nextLine(proc: Process, label: string, ms = 5000): Promise<string> {
  const line = proc.lines.next(label, ms);
  const exit = proc.exit.then(
    async (info) => {
      // Lines printed just before the exit are still in the queue.
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (proc.lines.pending > 0) return line;
      throw new Error(`exited (${info.code ?? info.signal}) while waiting for ${label}`);
    },
    () => line,
  );
  try {
    return await Promise.race([line, exit]);
  } catch (error) {
    throw new Error(`${error instanceof Error ? error.message : String(error)}\nstdout: ${proc.stdout()}\nstderr: ${proc.stderr()}`);
  } finally {
    line.catch(() => {});
  }
}

export interface ServerProcess extends Process {
  /** The URL of its `listening on URL` line. */
  url: URL;
  port: number;
}

/** Starts a server process and waits (bounded) for its single `listening on URL` line. */
export async function startServerProcess(
  t: TestContext,
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; ms?: number } = {},
): Promise<ServerProcess> {
  const proc = spawnProcess(command, args, { ...options, t });
  const line = await nextLine(proc, `a 'listening on' line from ${[command, ...args].join(' ')}`, options.ms ?? 10_000);
  const match = /^listening on (\S+)$/.exec(line);
  if (!match) {
    await proc.kill();
    throw new Error(`expected 'listening on URL', got ${JSON.stringify(line)}; stderr: ${proc.stderr()}`);
  }
  const url = new URL(match[1]!);
  return Object.assign(proc, { url, port: Number(url.port) });
}

/** Runs a command to its end within `ms` (killed by PID and failed otherwise). */
export async function runCommand(command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; ms: number; t?: TestContext }): Promise<Exit & { stdout: string; stderr: string }> {
  const proc = spawnProcess(command, args, options);
  try {
    const exit = await proc.exited(options.ms);
    // 'exit' may come before the pipes are drained.
    await withTimeout(proc.closed, 'the output pipes to close', 2000).catch(() => undefined);
    return { ...exit, stdout: proc.stdout(), stderr: proc.stderr() };
  } catch (error) {
    await proc.kill();
    throw new Error(`${error instanceof Error ? error.message : String(error)}\nstdout: ${proc.stdout()}\nstderr: ${proc.stderr()}`);
  }
}
