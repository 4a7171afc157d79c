/**
 * A throw-away redis-server for the backplane tests: on a free port, no persistence, killed by
 * its PID when the test ends. It can be killed (SIGKILL, like a crash) and started again on the
 * same port.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { type TestContext } from 'node:test';
import { withTimeout } from './net.js';

/** Whether `redis-server` can run here (.ci/run installs Debian's). */
export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export class RedisServer {
  private child: ChildProcess | undefined;
  private output = '';

  private constructor(
    readonly port: number,
    private readonly password: string | undefined,
    private readonly args: readonly string[],
  ) {}

  /** Without the password, if it has one. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /**
   * Starts one on a free port (asking clients for `password`, if given; with more command-line
   * `args`, such as `--rename-command`); it is killed after the test.
   */
  static async start(t: TestContext, password?: string, args: readonly string[] = []): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), password, args);
    t.after(() => server.kill());
    await server.restart();
    return server;
  }

  /** Starts it (again) on its port, and waits until it accepts commands. */
  async restart(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'];
    if (this.password !== undefined) args.push('--requirepass', this.password);
    args.push(...this.args);
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.output = '';
    const ready = new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        this.output += chunk.toString('utf8');
        if (this.output.includes('Ready to accept connections')) resolve();
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${this.output}`)));
      child.once('error', reject);
    });
    await withTimeout(ready, `redis-server on port ${this.port} to start`, 10_000);
  }

  /**
   * SIGSTOP: the process stops answering while its connections stay open (the kernel still
   * accepts and acknowledges), like a host frozen or cut off without a reset. `thaw()` resumes it.
   */
  freeze(): void {
    if (this.child?.pid !== undefined) process.kill(this.child.pid, 'SIGSTOP');
  }

  thaw(): void {
    if (this.child?.pid !== undefined) process.kill(this.child.pid, 'SIGCONT');
  }

  /** SIGKILL (a crash: nothing is saved), and waits for the exit. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    process.kill(child.pid, 'SIGKILL');
    await withTimeout(exited, 'redis-server to exit', 10_000);
  }
}
