import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { type TestContext } from 'node:test';
import { deferred, withTimeout } from './net.js';
import { TerminalScreen } from './terminal-screen.js';

/**
 * A program run in a pseudo-terminal, through Python's `pty` module (no native npm addon):
 * what is written to `type()` reaches the program as keystrokes, and what the program writes is
 * played onto a {@link TerminalScreen} the test can read, as a person would see it.
 */
const RELAY = String.raw`
import fcntl, os, pty, select, struct, sys, termios
rows, cols, argv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
    os.execvp(argv[0], argv)
inputs = [fd, 0]
while True:
    ready = select.select(inputs, [], [])[0]
    if fd in ready:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b''
        if not data:
            break
        os.write(1, data)
    if 0 in ready:
        data = os.read(0, 65536)
        if data:
            os.write(fd, data)
        else:
            inputs.remove(0)
status = os.waitpid(pid, 0)[1]
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
`;

export const KEY = { enter: '\r', up: '\x1b[A', down: '\x1b[B', left: '\x1b[D', right: '\x1b[C', ctrlC: '\x03', ctrlD: '\x04', backspace: '\x7f' } as const;

export interface PtyProgram {
  child: ChildProcess;
  screen: TerminalScreen;
  /** Everything the program wrote, escape sequences included. */
  raw(): string;
  /** Sends keystrokes. */
  type(keys: string): void;
  /** Sends keystrokes and waits until the program writes something back (its echo). */
  press(keys: string, what: string): Promise<void>;
  /** Waits until `probe()` holds, checked after each output chunk (bounded). */
  waitFor(probe: () => boolean, what: string, ms?: number): Promise<unknown>;
  /** Waits until the line the cursor is on reads `text` (trailing spaces trimmed). */
  waitForCursorLine(text: string, what: string, ms?: number): Promise<string>;
  /** Waits until the screen shows a line for which `match` holds (bounded); returns that line. */
  waitForLine(match: string | RegExp, what: string, ms?: number): Promise<string>;
  exited(ms?: number): Promise<number | null>;
}

/** Runs `command args` in a pseudo-terminal of `rows`×`cols`; killed by PID after the test. */
export function runInPty(t: TestContext, command: string, args: readonly string[], env: NodeJS.ProcessEnv, size = { rows: 24, cols: 100 }): PtyProgram {
  const child = spawn('/usr/bin/python3', ['-c', RELAY, String(size.rows), String(size.cols), command, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const screen = new TerminalScreen(size.rows, size.cols);
  let raw = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    raw += chunk;
    screen.write(chunk);
    for (const waiter of waiters) waiter();
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => (stderr += chunk));
  child.stdin!.on('error', () => {});
  const exit = deferred<number | null>();
  child.once('exit', (code) => exit.resolve(code));
  child.once('error', (error) => exit.reject(error));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      process.kill(child.pid, 'SIGKILL');
      await withTimeout(exit.promise, 'the pty relay to exit').catch(() => undefined);
    }
  });

  const findLine = (match: string | RegExp): string | undefined =>
    screen.lines().find((line) => (typeof match === 'string' ? line === match : match.test(line)));

  /** Resolves when `probe` returns a value, checked after each output chunk; fails after `ms`. */
  const waitUntil = <T>(probe: () => T | undefined, what: string, ms: number): Promise<T> => {
    const now = probe();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise<T>((resolve, reject) => {
      const check = (): void => {
        const value = probe();
        if (value === undefined) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(value);
      };
      // The message is built at the timeout, so that it shows the screen as it is then.
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out after ${ms} ms waiting for ${what}; the screen shows:\n${screen.lines().join('\n')}\n(relay stderr: ${stderr.trim()})`));
      }, ms);
      waiters.add(check);
    });
  };

  return {
    child,
    screen,
    raw: () => raw,
    type: (keys) => void child.stdin!.write(keys),
    async press(keys, what) {
      const before = raw.length;
      child.stdin!.write(keys);
      await waitUntil(() => (raw.length > before ? true : undefined), `the terminal to answer ${what}`, 5000);
    },
    waitFor: (probe, what, ms = 10_000) => waitUntil(() => (probe() ? true : undefined), what, ms),
    waitForLine: (match, what, ms = 10_000) => waitUntil(() => findLine(match), what, ms),
    waitForCursorLine: (text, what, ms = 10_000) => waitUntil(() => (screen.cursorLine() === text ? text : undefined), what, ms),
    exited: (ms = 10_000) => {
      assert.ok(child.pid !== undefined);
      return withTimeout(exit.promise, `the program in the pty to exit; the screen shows:\n${screen.lines().join('\n')}`, ms);
    },
  };
}
