#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { ArgumentError } from './args.js';
import { benchCommand, BENCH_USAGE } from './bench.js';
import { connectCommand, CONNECT_USAGE } from './connect.js';
import { serve, SERVE_USAGE } from './serve.js';
import { oneLine } from './screen.js';

const USAGE = `Usage: sockwave <command> [options]

Commands:
  serve     run the demo server (/, /echo, /broadcast, /stats)
  connect   connect to a WebSocket URL from the terminal
  bench     a small load test: throughput and round-trip percentiles

Run 'sockwave <command> --help' for a command's options; 'sockwave --version' for the version.
`;

/** The version in the package's package.json (dist/cli/ → ../../package.json). */
function version(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return String(manifest.version);
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'connect':
      return connectCommand(rest);
    case 'bench':
      return benchCommand(rest);
    case '--version':
    case '-v':
      process.stdout.write(`sockwave ${version()}\n`);
      return 0;
    case undefined:
      // A usage error, on stderr as every one; the command list only (--help has every option).
      process.stderr.write(USAGE);
      return 2;
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(`${USAGE}\n${SERVE_USAGE}\n${CONNECT_USAGE}\n${BENCH_USAGE}`);
      return 0;
    default:
      throw new ArgumentError(`unknown command ${command}`);
  }
}

/**
 * Leaves with `code` once stdout and stderr have written what they hold (a pipe whose reader is
 * slow holds what `connect` printed: exiting at once would lose it), even if a handle lingers.
 */
function exit(code: number): void {
  process.exitCode = code;
  let waiting = 2;
  const done = (): void => {
    if (--waiting === 0) setImmediate(() => process.exit(code));
  };
  for (const stream of [process.stdout, process.stderr]) {
    // (A stream that failed or closed, EPIPE, holds nothing that will ever be written.)
    if (stream.writableLength === 0 || stream.destroyed) done();
    else stream.write('', done);
  }
}

main(process.argv.slice(2)).then(exit, (error: unknown) => {
  if (error instanceof ArgumentError) {
    // One line, as every error the CLI ends with.
    process.stderr.write(`sockwave: ${oneLine(error.message)} (see 'sockwave --help')\n`);
    exit(2);
    return;
  }
  process.stderr.write(`sockwave: ${oneLine(error instanceof Error ? error.message : String(error))}\n`);
  exit(1);
});
