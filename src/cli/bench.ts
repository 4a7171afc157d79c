import { readFile } from 'node:fs/promises';
import { WebSocketServer } from '../server/server.js';
import { ArgumentError, numberOption, parseArgs } from './args.js';
import { runLoad, percentile, type LoadPlan, type LoadProgress, type LoadResult } from './bench-run.js';
import { installDemoRoutes } from './demo-routes.js';
import { describeError } from './errors.js';
import { oneLine } from './screen.js';

export const BENCH_USAGE = `Usage: sockwave bench [URL] [options]

A small load test: each connection sends a message, waits for it to come back, and sends the
next, for --duration seconds; then prints the throughput and the round-trip percentiles.
URL is a server running 'sockwave serve' (ws://HOST:PORT; /echo or /broadcast is added for
--mode) or any endpoint that echoes (a URL with a path is used as it is). Without a URL, a
sockwave server is started in this process on a free port.

Options:
  --connections N      connections at once (default 10)
  --size BYTES         message size (default 64)
  --duration SECONDS   how long to send (default 5)
  --mode echo|broadcast  echo: each message comes back to its sender; broadcast: each goes to
                       every connection, and the sender times its own (default echo)
  --binary             send binary messages (default text)
  --deflate            offer permessage-deflate (and accept it, for the built-in server)
  --ca FILE            trust this PEM certificate authority for wss://
  --insecure           do not check the server's TLS certificate (testing only)
  --json               print the results as one JSON object
  --help               show this help

While it runs, a progress line is shown on stderr when it is a terminal.
Exit status: 0 when the run completed, 1 if the connections could not be opened or all failed,
2 on a usage error.
`;

const SPEC = {
  connections: { type: 'string' },
  size: { type: 'string' },
  duration: { type: 'string' },
  mode: { type: 'string' },
  binary: { type: 'boolean' },
  deflate: { type: 'boolean' },
  ca: { type: 'string' },
  insecure: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

export async function benchCommand(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, SPEC);
  if (args.flags['help']) {
    process.stdout.write(BENCH_USAGE);
    return 0;
  }
  if (args.positionals.length > 1) throw new ArgumentError(`unexpected argument ${args.positionals[1]}`);
  const mode = args.values['mode'] ?? 'echo';
  if (mode !== 'echo' && mode !== 'broadcast') throw new ArgumentError(`--mode is echo or broadcast, not ${JSON.stringify(mode)}`);
  const connections = numberOption(args, 'connections', 10);
  if (!Number.isInteger(connections) || connections < 1 || connections > 10_000) throw new ArgumentError('--connections must be a whole number from 1 to 10000');
  const size = numberOption(args, 'size', 64);
  if (!Number.isInteger(size) || size > 64 * 1024 * 1024) throw new ArgumentError('--size must be a whole number of bytes up to 64 MiB');
  const durationMs = numberOption(args, 'duration', 5) * 1000;
  if (durationMs <= 0) throw new ArgumentError('--duration must be above 0');
  const deflate = args.flags['deflate'] === true;
  const caFile = args.values['ca'];
  const ca = caFile === undefined ? undefined : await readFile(caFile).catch((error: NodeJS.ErrnoException) => {
    throw new ArgumentError(`cannot read ${caFile}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
  });
  const insecure = args.flags['insecure'] === true;

  let local: WebSocketServer | undefined;
  let base = args.positionals[0];
  if (base === undefined) {
    local = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: deflate, maxPayload: 128 * 1024 * 1024 });
    const routes = installDemoRoutes(local, { deflate });
    routes.stop();
    base = (await local.listen()).url;
  }
  const url = targetUrl(base, mode);
  const tls = ca || insecure ? { ...(ca ? { ca } : {}), ...(insecure ? { rejectUnauthorized: false } : {}) } : undefined;
  const plan: LoadPlan = { url, mode, connections, size, binary: args.flags['binary'] === true, durationMs, deflate, tls };
  const tty = process.stderr.isTTY === true;
  if (tty) plan.onProgress = (progress) => process.stderr.write(`\r\x1b[K${progressLine(progress, plan)}`);

  let result: LoadResult;
  try {
    result = await runLoad(plan);
  } catch (error) {
    process.stderr.write(`sockwave: ${oneLine(describeError(error, url, { caFile }))}\n`);
    return 1;
  } finally {
    if (tty) process.stderr.write('\r\x1b[K');
    await local?.close({ code: 1001, timeout: 1000 });
  }
  process.stdout.write(args.flags['json'] ? `${JSON.stringify(summary(result, plan))}\n` : report(result, plan));
  return result.errors >= result.connections ? 1 : 0;
}

/** ws://HOST:PORT gets /echo or /broadcast; a URL with a path is used as it is. */
function targetUrl(base: string, mode: 'echo' | 'broadcast'): string {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new ArgumentError(`not a URL: ${JSON.stringify(base)}`);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new ArgumentError(`the URL must start with ws:// or wss://, not ${url.protocol}//`);
  if (url.pathname === '/' && url.search === '') url.pathname = `/${mode}`;
  return url.href;
}

function progressLine(progress: LoadProgress, plan: LoadPlan): string {
  const seconds = progress.elapsedMs / 1000;
  const rate = seconds > 0 ? Math.round(progress.sent / seconds) : 0;
  const median = progress.median === undefined ? '–' : `${progress.median.toFixed(2)} ms`;
  return `bench ${seconds.toFixed(0)}/${(plan.durationMs / 1000).toFixed(0)} s  sent ${count(progress.sent)} (${count(rate)}/s)  received ${count(progress.received)}  median round trip ${median}`;
}

interface Summary {
  url: string;
  mode: string;
  connections: number;
  size: number;
  seconds: number;
  sent: number;
  received: number;
  sentPerSecond: number;
  receivedPerSecond: number;
  bytesSentPerSecond: number;
  bytesReceivedPerSecond: number;
  latencyMs: { p50: number | null; p90: number | null; p99: number | null; max: number | null; samples: number };
  errors: number;
}

function summary(result: LoadResult, plan: LoadPlan): Summary {
  const seconds = result.elapsedMs / 1000;
  const round = (value: number | undefined): number | null => (value === undefined ? null : Math.round(value * 1000) / 1000);
  return {
    url: plan.url,
    mode: plan.mode,
    connections: result.connections,
    size: plan.size,
    seconds: Math.round(seconds * 100) / 100,
    sent: result.sent,
    received: result.received,
    sentPerSecond: Math.round(result.sent / seconds),
    receivedPerSecond: Math.round(result.received / seconds),
    bytesSentPerSecond: Math.round(result.bytesSent / seconds),
    bytesReceivedPerSecond: Math.round(result.bytesReceived / seconds),
    latencyMs: {
      p50: round(percentile(result.latencies, 0.5)),
      p90: round(percentile(result.latencies, 0.9)),
      p99: round(percentile(result.latencies, 0.99)),
      max: round(percentile(result.latencies, 1)),
      samples: result.latencies.length,
    },
    errors: result.errors,
  };
}

function report(result: LoadResult, plan: LoadPlan): string {
  const s = summary(result, plan);
  const ms = (value: number | null): string => (value === null ? '–' : `${value.toFixed(value < 10 ? 2 : 1)} ms`);
  return [
    `${s.mode}, ${s.connections} connection${s.connections === 1 ? '' : 's'}, ${s.size}-byte ${plan.binary ? 'binary' : 'text'} messages, ${s.seconds} s, ${s.url}`,
    `  sent      ${count(s.sent).padStart(12)} messages  ${count(s.sentPerSecond).padStart(10)}/s  ${bytes(s.bytesSentPerSecond).padStart(11)}/s`,
    `  received  ${count(s.received).padStart(12)} messages  ${count(s.receivedPerSecond).padStart(10)}/s  ${bytes(s.bytesReceivedPerSecond).padStart(11)}/s`,
    `  round trip  p50 ${ms(s.latencyMs.p50)}  p90 ${ms(s.latencyMs.p90)}  p99 ${ms(s.latencyMs.p99)}  max ${ms(s.latencyMs.max)}  (${count(s.latencyMs.samples)} samples)`,
    `  errors    ${s.errors}`,
    '',
  ].join('\n');
}

function count(value: number): string {
  return value.toLocaleString('en-US');
}

function bytes(value: number): string {
  if (value >= 1024 * 1024) return `${(value / 1024 / 1024).toFixed(1)} MiB`;
  if (value >= 1024) return `${(value / 1024).toFixed(1)} KiB`;
  return `${value} B`;
}
