import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { connect } from '../client/connect.js';
import { type CloseInfo, type Connection } from '../io/connection.js';
import { ArgumentError, numberOption, parseArgs } from './args.js';
import { describeError } from './errors.js';

export const CONNECT_USAGE = `Usage: sockwave connect URL [options]

Lines typed (or piped) on stdin are sent as text messages; messages received are printed,
one per line. When stdin ends, waits --wait seconds for replies, closes with 1000 and exits.

Options:
  --echo               ignore stdin; send every message received back with the same type
  --header 'K: V'      add a request header (repeatable)
  --subprotocol P      offer a subprotocol (repeatable)
  --ca FILE            trust this PEM certificate authority for wss://
  --ping SECONDS       send a ping every SECONDS
  --wait SECONDS       after stdin ends, wait this long for replies (default 1)
  --deflate            offer permessage-deflate (RFC 7692)
  --reconnect          reconnect after an abnormal close (not available yet)
  --help               show this help

Exit status: 0 after a normal close (1000, 1001 or no status), 1 on a connection error or
an abnormal close, 2 on a usage error.
`;

const SPEC = {
  echo: { type: 'boolean' },
  header: { type: 'list' },
  subprotocol: { type: 'list' },
  deflate: { type: 'boolean' },
  ca: { type: 'string' },
  reconnect: { type: 'boolean' },
  ping: { type: 'string' },
  wait: { type: 'string' },
  help: { type: 'boolean' },
} as const;

const NORMAL_CODES = new Set([1000, 1001, 1005]);

export async function connectCommand(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, SPEC);
  if (args.flags['help']) {
    process.stdout.write(CONNECT_USAGE);
    return 0;
  }
  const url = args.positionals[0];
  if (url === undefined) throw new ArgumentError('connect needs a URL');
  if (args.positionals.length > 1) throw new ArgumentError(`unexpected argument ${args.positionals[1]}`);
  if (args.flags['reconnect']) throw new ArgumentError('--reconnect is not available in this version');
  const headers: Record<string, string[]> = {};
  for (const line of args.lists['header'] ?? []) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new ArgumentError(`--header needs 'Name: value', not ${JSON.stringify(line)}`);
    (headers[line.slice(0, colon).trim()] ??= []).push(line.slice(colon + 1).trim());
  }
  const waitSeconds = numberOption(args, 'wait', 1);
  const pingSeconds = numberOption(args, 'ping', 0);
  const ca = args.values['ca'] === undefined ? undefined : await readFile(args.values['ca']);
  const echo = args.flags['echo'] === true;

  let closed!: (info: CloseInfo) => void;
  const closedPromise = new Promise<CloseInfo>((resolve) => (closed = resolve));
  const out = process.stdout;
  let connection: Connection;
  try {
    connection = await connect(url, {
      headers,
      protocols: args.lists['subprotocol'] ?? [],
      tls: ca ? { ca } : undefined,
      perMessageDeflate: args.flags['deflate'] === true,
      handler: {
        onMessage(conn, data, isBinary) {
          if (echo) conn.send(data, { binary: isBinary });
          else out.write(`${typeof data === 'string' ? data : data.toString('utf8')}\n`);
        },
        onClose: (_conn, info) => closed(info),
      },
    });
  } catch (error) {
    process.stderr.write(`sockwave: ${describeError(error, url)}\n`);
    return 1;
  }
  const pinger = pingSeconds > 0 ? setInterval(() => connection.ping(), pingSeconds * 1000) : undefined;

  let stdinDone: Promise<void> | undefined;
  if (!echo) {
    const lines = createInterface({ input: process.stdin, terminal: process.stdin.isTTY === true });
    lines.on('line', (line) => connection.send(line));
    stdinDone = new Promise((resolve) => lines.once('close', () => resolve()));
    void closedPromise.then(() => lines.close());
  }

  let info: CloseInfo;
  if (stdinDone) {
    const first = await Promise.race([closedPromise.then(() => 'closed' as const), stdinDone.then(() => 'stdin' as const)]);
    if (first === 'stdin') {
      await Promise.race([closedPromise, new Promise((resolve) => setTimeout(resolve, waitSeconds * 1000))]);
      if (connection.status === 'open') connection.close(1000);
    }
  }
  info = await closedPromise;
  if (pinger) clearInterval(pinger);
  if (NORMAL_CODES.has(info.code) && (info.wasClean || info.code === 1000)) return 0;
  process.stderr.write(`sockwave: connection closed with ${info.code}${info.reason ? ` (${info.reason})` : ''} (${url})\n`);
  return 1;
}
