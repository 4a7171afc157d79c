import { readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { clearLine, createInterface, cursorTo, type Interface } from 'node:readline';
import { type Rendered } from './message-format.js';
import { StdinLines } from './stdin-lines.js';

/**
 * Where `sockwave connect` writes. On a terminal, messages are marked ('<' received, '>' sent,
 * '*' notes) and coloured, and printed above the prompt; on a pipe, only the messages received
 * are written, each followed by a newline, with no marks or colours (scripts parse them). A
 * message's own line breaks are written as they are: escaping them would change the bytes of
 * every message that holds a backslash.
 */
export interface ScreenOptions {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  /** false: no colours even on a terminal (--no-color, or NO_COLOR set). */
  colour: boolean;
}

const STYLE = { in: '36', out: '32', note: '33', error: '31', dim: '2' } as const;
type Style = keyof typeof STYLE;

/** The history file of the interactive prompt: $SOCKWAVE_HISTORY, or ~/.sockwave_history ('' for none). */
export function historyFile(): string | undefined {
  const configured = process.env['SOCKWAVE_HISTORY'];
  if (configured !== undefined) return configured === '' ? undefined : configured;
  return join(homedir(), '.sockwave_history');
}

export class Screen {
  /** stdout is a terminal: marks and colours, notes on stdout. */
  readonly tty: boolean;
  private readonly colour: boolean;
  private prompt: Interface | undefined;
  /** The plain line reader (stdin not a terminal); undefined once stopped or ended. */
  private lineReader: StdinLines | undefined;
  /** stdout failed (EPIPE: its reader went away): nothing more is written to it. */
  private outputBroken = false;
  private outputError: (error: NodeJS.ErrnoException) => void = () => {};

  constructor(private readonly options: ScreenOptions) {
    this.tty = options.stdout.isTTY === true;
    this.colour = this.tty && options.colour;
    // Without a listener, a write to a closed pipe (`sockwave connect URL | head -n1`) throws an
    // unhandled 'error' event with a stack trace. The first error is passed on once; later ones
    // (writes already under way) are swallowed.
    options.stdout.on('error', (error: NodeJS.ErrnoException) => {
      if (this.outputBroken) return;
      this.outputBroken = true;
      this.outputError(error);
    });
  }

  /** What to do when writing to stdout fails (EPIPE when its reader went away). Called once. */
  onOutputError(handler: (error: NodeJS.ErrnoException) => void): void {
    this.outputError = handler;
  }

  /** Whether lines come from a person at a terminal (line editing, history, slash commands). */
  get interactive(): boolean {
    return this.options.stdin.isTTY === true && this.tty;
  }

  /**
   * Reads lines from stdin: with line editing, a '> ' prompt and a history kept across sessions
   * when interactive; plain lines otherwise (see {@link StdinLines}: a line that is not valid
   * UTF-8 is sent with U+FFFD in place of its bad bytes, and the first one is reported on stderr).
   * `onEnd` runs when stdin ends (Ctrl-D on a terminal). Piped, a line longer than
   * `maxLineBytes` stops the reading: `onOverlong` is told its number, and `onEnd` never runs.
   */
  readLines(onLine: (line: string) => void, onEnd: () => void, onInterrupt: () => void, maxLineBytes = Infinity, onOverlong: (lineNumber: number) => void = () => {}): void {
    if (!this.interactive) {
      let count = 0;
      let reported = false;
      this.lineReader = new StdinLines(this.options.stdin, {
        line: (text, utf8) => {
          count++;
          if (!utf8 && !reported) {
            reported = true;
            this.warn(`line ${count} of stdin is not valid UTF-8: it is sent with U+FFFD in place of the bad bytes (later such lines are not reported)`);
          }
          onLine(text);
        },
        end: () => {
          this.lineReader = undefined;
          onEnd();
        },
        overlong: () => {
          this.lineReader = undefined;
          onOverlong(count + 1);
        },
      }, maxLineBytes);
      return;
    }
    const file = historyFile();
    const history = file === undefined ? [] : readHistory(file);
    const prompt = createInterface({
      input: this.options.stdin,
      output: this.options.stdout,
      terminal: true,
      history,
      historySize: 500,
      removeHistoryDuplicates: true,
      prompt: this.paint('out', '> '),
    });
    this.prompt = prompt;
    prompt.on('history', (lines: string[]) => {
      if (file !== undefined) saveHistory(file, lines);
    });
    prompt.on('line', (line) => {
      onLine(line);
      if (this.prompt) prompt.prompt();
    });
    prompt.on('SIGINT', onInterrupt);
    prompt.once('close', () => {
      // Ctrl-D: the prompt goes away, so that what follows starts on a clean line.
      if (this.prompt) {
        clearLine(this.options.stdout, 0);
        cursorTo(this.options.stdout, 0);
      }
      this.prompt = undefined;
      onEnd();
    });
    prompt.prompt();
  }

  /**
   * Stops reading stdin for now (piped input only: a person at the prompt is not held up). Lines
   * already read from the current chunk may still be passed on.
   */
  pauseInput(): void {
    this.lineReader?.pause();
  }

  resumeInput(): void {
    this.lineReader?.resume();
  }

  /** Stops reading stdin (the prompt disappears); no more lines are passed on. */
  stopReading(): void {
    const reader = this.lineReader;
    this.lineReader = undefined;
    reader?.close();
    const prompt = this.prompt;
    if (!prompt) return;
    this.prompt = undefined;
    clearLine(this.options.stdout, 0);
    cursorTo(this.options.stdout, 0);
    prompt.close();
  }

  /**
   * A message received. false: stdout holds more than its buffer (its reader is slower than the
   * peer); {@link whenOutputDrains} says when it has caught up.
   */
  incoming(rendered: Rendered): boolean {
    if (this.outputBroken) return true;
    if (!this.tty) {
      const out = this.options.stdout;
      if (rendered.raw) {
        out.write(rendered.raw);
        return out.write('\n');
      }
      return out.write(`${rendered.text}\n`);
    }
    const tag = rendered.tag ? `${this.paint('dim', `(${rendered.tag})`)} ` : '';
    return this.print(`${this.paint('in', '<')} ${tag}${indent(rendered.text)}`);
  }

  /** Calls `then` once stdout has written what it holds (at once if it holds nothing), or has failed. */
  whenOutputDrains(then: () => void): void {
    const out = this.options.stdout;
    if (this.outputBroken || !out.writableNeedDrain) {
      then();
      return;
    }
    const done = (): void => {
      out.off('drain', done);
      out.off('error', done);
      out.off('close', done);
      then();
    };
    out.on('drain', done);
    out.on('error', done);
    out.on('close', done);
  }

  /** A message sent that is not already on screen (typed lines are). */
  outgoing(text: string, tag?: string): void {
    if (!this.tty) return;
    this.print(`${this.paint('out', '>')} ${tag ? `${this.paint('dim', `(${tag})`)} ` : ''}${indent(text)}`);
  }

  /** A note for a person (connected, pong, closed): the terminal only, never a pipe's stdout. */
  note(text: string): void {
    if (this.tty) this.print(this.paint('note', `* ${text}`));
    else if (this.options.stderr.isTTY) this.options.stderr.write(`* ${text}\n`);
  }

  /** A problem that does not end the session (a line that could not be sent...): on stderr. */
  warn(text: string): void {
    if (this.prompt && this.options.stderr.isTTY) {
      this.print(this.paint('error', `sockwave: ${text}`));
      return;
    }
    this.options.stderr.write(`sockwave: ${text}\n`);
  }

  /** The error that ends the session: one line on stderr (see {@link oneLine}). */
  fatal(text: string): void {
    this.stopReading();
    const line = `sockwave: ${oneLine(text)}`;
    this.options.stderr.write(`${this.options.stderr.isTTY && this.options.colour ? `\x1b[${STYLE.error}m${line}\x1b[0m` : line}\n`);
  }

  /** Writes a line above the prompt, then puts the prompt (and what was typed) back. false: stdout is full. */
  private print(text: string): boolean {
    if (this.outputBroken) return true;
    const out = this.options.stdout;
    if (!this.prompt) return out.write(`${text}\n`);
    clearLine(out, 0);
    cursorTo(out, 0);
    const room = out.write(`${text}\n`);
    this.prompt.prompt(true);
    return room && !out.writableNeedDrain;
  }

  private paint(style: Style, text: string): string {
    return this.colour ? `\x1b[${STYLE[style]}m${text}\x1b[0m` : text;
  }
}

/** Continuation lines of a multi-line message line up under its first line. */
function indent(text: string): string {
  return text.replace(/\n/g, '\n  ');
}

function readHistory(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter((line) => line !== '').reverse().slice(0, 500);
  } catch {
    return [];
  }
}

function saveHistory(file: string, newestFirst: readonly string[]): void {
  try {
    writeFileSync(file, `${[...newestFirst].reverse().join('\n')}\n`, { mode: 0o600 });
  } catch {
    // A history that cannot be saved is not worth interrupting the session for.
  }
}

const ESCAPED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * `text` as one line, safe for a terminal: surrounding whitespace trimmed, and control characters
 * (line breaks, escape sequences, from a peer's close reason or an OpenSSL message) written as
 * escapes (`\n`, `\u001b`).
 */
export function oneLine(text: string): string {
  return text.trim().replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => ESCAPED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
