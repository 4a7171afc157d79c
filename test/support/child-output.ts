import { type ChildProcess } from 'node:child_process';
import { Queue } from './net.js';

/** What a child process printed: each stream as complete lines, in order, and whole. */
export interface ChildOutput {
  lines: Queue<string>;
  /** Complete stderr lines, in order. */
  errLines: Queue<string>;
  stdout(): string;
  stderr(): string;
}

/** Collects `child`'s stdout and stderr (both piped) from now on. */
export function captureOutput(child: ChildProcess): ChildOutput {
  let out = '';
  let err = '';
  const lines = new Queue<string>();
  const errLines = new Queue<string>();
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  const splitOut = lineSplitter(lines);
  const splitErr = lineSplitter(errLines);
  child.stdout!.on('data', (chunk: string) => {
    out += chunk;
    splitOut(chunk);
  });
  child.stderr!.on('data', (chunk: string) => {
    err += chunk;
    splitErr(chunk);
  });
  return { lines, errLines, stdout: () => out, stderr: () => err };
}

/** Pushes each complete line of the chunks it is given to `lines`. */
function lineSplitter(lines: Queue<string>): (chunk: string) => void {
  let partial = '';
  return (chunk) => {
    partial += chunk;
    let newline: number;
    while ((newline = partial.indexOf('\n')) !== -1) {
      lines.push(partial.slice(0, newline));
      partial = partial.slice(newline + 1);
    }
  };
}
