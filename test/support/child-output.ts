import { type ChildProcess } from 'node:child_process';
import { Queue } from './net.js';

/** What a child process printed: stdout as complete lines, in order, and both streams whole. */
export interface ChildOutput {
  lines: Queue<string>;
  stdout(): string;
  stderr(): string;
}

/** Collects `child`'s stdout and stderr (both piped) from now on. */
export function captureOutput(child: ChildProcess): ChildOutput {
  let out = '';
  let err = '';
  let partial = '';
  const lines = new Queue<string>();
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    out += chunk;
    partial += chunk;
    let newline: number;
    while ((newline = partial.indexOf('\n')) !== -1) {
      lines.push(partial.slice(0, newline));
      partial = partial.slice(newline + 1);
    }
  });
  child.stderr!.on('data', (chunk: string) => (err += chunk));
  return { lines, stdout: () => out, stderr: () => err };
}
