import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { createClient } from '../client/reconnecting-client.js';
import { parseWebSocketUrl } from '../client/url.js';
import { type CloseInfo } from '../io/connection.js';
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
  --reconnect          reconnect after an abnormal close or a server restart; lines typed
                       meanwhile are sent in order once reconnected
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
  const reconnect = args.flags['reconnect'] === true;
  parseWebSocketUrl(url); // a bad URL is a usage error, reported before anything starts

  // The session ends with the last close (no reconnection after it) or a failure to connect.
  let finish!: (outcome: CloseInfo | Error) => void;
  const finished = new Promise<CloseInfo | Error>((resolve) => (finish = resolve));
  let opened = false;
  const out = process.stdout;
  const client = createClient(url, {
    headers,
    protocols: args.lists['subprotocol'] ?? [],
    tls: ca ? { ca } : undefined,
    perMessageDeflate: args.flags['deflate'] === true,
    // --reconnect: come back after an abnormal close (1006) or a server restart (1001); lines
    // typed meanwhile wait in the outbox and go out in order once reconnected.
    reconnect: reconnect ? { minDelay: 100, maxDelay: 2000 } : false,
    pingInterval: pingSeconds * 1000,
    pongTimeout: Math.max(2000, pingSeconds * 2000),
    onOpen: () => void (opened = true),
    onMessage(c, message, isBinary) {
      if (echo) c.send(message as string | Buffer);
      else out.write(`${isBinary ? (message as Buffer).toString('utf8') : String(message)}\n`);
    },
    onError(_c, info) {
      if (info.waitTime === undefined && !opened) finish(info.error);
      else if (reconnect && info.waitTime !== undefined && process.stderr.isTTY) process.stderr.write(`sockwave: ${info.reason}; retrying in ${info.waitTime} ms\n`);
    },
    onClose(_c, info) {
      if (!info.willReconnect) finish(info);
    },
  });

  if (!echo) {
    const lines = createInterface({ input: process.stdin, terminal: process.stdin.isTTY === true });
    lines.on('line', (line) => {
      try {
        client.send(line);
      } catch (error) {
        process.stderr.write(`sockwave: ${(error as Error).message}\n`);
      }
    });
    lines.once('close', () => {
      // stdin ended: wait for replies, then close normally.
      setTimeout(() => {
        const connected = client.current !== undefined;
        client.close(1000);
        // Not connected (waiting to reconnect): there is no close handshake to wait for.
        if (!connected) finish({ code: 1000, reason: '', wasClean: true, remote: false });
      }, waitSeconds * 1000);
    });
    void finished.then(() => lines.close());
  }

  const outcome = await finished;
  client.close();
  if (outcome instanceof Error) {
    process.stderr.write(`sockwave: ${describeError(outcome, url)}\n`);
    return 1;
  }
  if (NORMAL_CODES.has(outcome.code) && (outcome.wasClean || outcome.code === 1000)) return 0;
  process.stderr.write(`sockwave: connection closed with ${outcome.code}${outcome.reason ? ` (${outcome.reason})` : ''} (${url})\n`);
  return 1;
}
