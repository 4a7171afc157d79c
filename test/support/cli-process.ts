import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { captureOutput } from './child-output.js';
import { deferred, withTimeout, type Queue } from './net.js';

/** The sockwave CLI as a child process, for the CLI tests. */

/** build/test/support/ → the package root's dist/cli/main.js. */
export const MAIN = fileURLToPath(new URL('../../../dist/cli/main.js', import.meta.url));

export interface Cli {
  child: ChildProcess;
  /** Complete stdout lines, in order. */
  lines: Queue<string>;
  /** Complete stderr lines, in order. */
  errLines: Queue<string>;
  stdout(): string;
  stderr(): string;
  /** The exit, within `ms` (fails the test otherwise). */
  exited(ms?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs the CLI; the child is killed (by its PID) after the test if still running. */
export function run(t: TestContext, args: readonly string[], stdin: 'pipe' | 'ignore' = 'ignore'): Cli {
  assert.ok(existsSync(MAIN), `${MAIN} is missing: run 'npm run build' first`);
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: [stdin, 'pipe', 'pipe'] });
  const output = captureOutput(child);
  const { lines, errLines } = output;
  child.stdin?.on('error', () => {});
  const exit = deferred<{ code: number | null; signal: NodeJS.Signals | null }>();
  child.once('exit', (code, signal) => exit.resolve({ code, signal }));
  child.once('error', (error) => exit.reject(error));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      process.kill(child.pid, 'SIGKILL');
      await withTimeout(exit.promise, 'the killed child to exit').catch(() => undefined);
    }
  });
  return {
    child,
    lines,
    errLines,
    stdout: output.stdout,
    stderr: output.stderr,
    exited: (ms = 10_000) => withTimeout(exit.promise, `sockwave ${args.join(' ')} to exit (stderr: ${output.stderr().trim()})`, ms),
  };
}
