import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseWebSocketUrl } from '../client/url.js';
import { isSafeHeaderValue, isToken } from '../handshake/http-head.js';
import { isReservedRequestHeader } from '../handshake/client-handshake.js';
import { resolveProxy } from '../io/proxy.js';
import { ArgumentError, numberOption, parseArgs } from './args.js';
import { encodeLine, EncodingError, type DataMode, type Outgoing } from './message-format.js';

export const CONNECT_USAGE = `Usage: sockwave connect URL [options]

Lines typed (or piped) on stdin (each ended by LF or CR LF) are sent as text messages, in order,
none dropped (bytes that are not UTF-8 become U+FFFD, said on stderr): lines read
before the connection opens (or while --reconnect reconnects) are sent once it does. Messages
received are printed, each followed by a newline. When stdin ends and everything read went out,
waits --wait seconds for replies, closes with 1000 and exits.
On a terminal, the prompt has line editing and history (~/.sockwave_history, or
$SOCKWAVE_HISTORY; empty for none), messages are marked ('<' received, '>' sent, '*' notes)
and coloured (not with --no-color or NO_COLOR), and slash commands work:
  /ping [TEXT]  /close [CODE [REASON]]  /quit  /help  (//TEXT sends '/TEXT')
Piped output has no marks or colours. A message's own line breaks are printed as they are
(not escaped), so a message holding a newline spans several lines (as --json output does).
While stdout's reader is slower than the server, the server is not read (nor the --wait
countdown run) until stdout catches up; everything received is printed before exit.
If stdout is closed by its reader (EPIPE, '| head -n1'), closes with 1000 and exits 0.
Binary messages are printed as their bytes read as UTF-8 when piped (on a terminal: as hex
unless they are UTF-8 text); --hex, --base64 and --binary show them otherwise.
Ctrl-C (SIGINT) closes with 1000 and waits for the server's answer; a second Ctrl-C ends the
session at once (exit 1).

Options:
  --echo               ignore stdin; send every message received back with the same type
  --execute MSG        send MSG (repeatable, in order) instead of reading stdin, wait --wait
                       seconds for replies, then close with 1000 and exit
  --wait SECONDS       after stdin ends (or --execute) and what it read went out, wait this
                       long for replies (default 1)
  --header 'K: V'      add a request header (repeatable)
  --subprotocol P      offer a subprotocol (repeatable)
  --origin URL         send this Origin header
  --deflate            offer permessage-deflate (RFC 7692)
  --ca FILE            trust this PEM certificate authority for wss://
  --insecure           do not check the server's TLS certificate (testing only)
  --proxy URL          go through this HTTP proxy (default: $HTTPS_PROXY / $HTTP_PROXY)
  --no-proxy           ignore the proxy environment variables
  --timeout SECONDS    give up connecting after this long (default 10); with --reconnect, how
                       long to wait for a reconnection once stdin has ended
  --ping SECONDS       send a ping every SECONDS; an unanswered one drops the connection
  --max-payload BYTES  largest message received (a larger one closes with 1009) and longest
                       line read from piped stdin (a longer one ends the session, exit 1;
                       the lines before it are sent) (default 104857600)
  --reconnect          reconnect after an abnormal close (1006: the connection dropped); any
                       other close ends the session; lines typed meanwhile are sent in order
                       once reconnected (lines already sent on the connection that dropped
                       may be lost with it: none is sent twice)
  --binary             send lines as binary messages (their UTF-8 bytes); write binary
                       messages received as their raw bytes when piped
  --base64             lines are base64, sent as binary; binary received is shown as base64
  --hex                lines are hex ('00 ff 10' or '00ff10'), sent as binary; binary received
                       is shown as hex
  --json               pretty-print text messages that are JSON (over several lines)
  --no-color           no colours on a terminal
  --help               show this help

Exit status: 0 after a normal close (1000, 1001 or no status), 1 on a connection error or
an abnormal close (also: a timeout, a session that never connected, lines read that could
not be sent), 2 on a usage error. A close asked for with /close CODE exits 0 when the
server answers it cleanly. Errors are one line on stderr, naming the URL.
`;

/** Why a header value cannot go into the request: the handshake's head is Latin-1 bytes. */
const UNSENDABLE = 'may hold only tabs and characters from U+0020 to U+00FF (no control characters; the request head is Latin-1)';

const SPEC = {
  echo: { type: 'boolean' },
  execute: { type: 'list' },
  wait: { type: 'string' },
  header: { type: 'list' },
  subprotocol: { type: 'list' },
  origin: { type: 'string' },
  deflate: { type: 'boolean' },
  ca: { type: 'string' },
  insecure: { type: 'boolean' },
  proxy: { type: 'string' },
  'no-proxy': { type: 'boolean' },
  timeout: { type: 'string' },
  reconnect: { type: 'boolean' },
  ping: { type: 'string' },
  'max-payload': { type: 'string' },
  binary: { type: 'boolean' },
  base64: { type: 'boolean' },
  hex: { type: 'boolean' },
  json: { type: 'boolean' },
  'no-color': { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

/** Everything `sockwave connect` was asked to do, checked. */
export interface ConnectConfig {
  url: string;
  /** The URL as messages show it: without a user and password, if it had any. */
  shownUrl: string;
  echo: boolean;
  /** --execute: the messages to send, encoded; undefined to read stdin. */
  execute: Outgoing[] | undefined;
  waitSeconds: number;
  pingSeconds: number;
  timeoutSeconds: number;
  /** --max-payload: the largest message received, and the longest line read from piped stdin. */
  maxPayload: number;
  headers: Record<string, string[]>;
  subprotocols: string[];
  origin: string | undefined;
  deflate: boolean;
  ca: Buffer | undefined;
  /** The --ca file's name, for advice when the server's certificate is still not trusted. */
  caFile: string | undefined;
  insecure: boolean;
  /** A proxy URL, false for none, undefined for the environment's. */
  proxy: string | false | undefined;
  reconnect: boolean;
  mode: DataMode;
  json: boolean;
  colour: boolean;
}

/** Parses the arguments; undefined when --help was asked for (and printed). */
export async function readConnectConfig(argv: readonly string[]): Promise<ConnectConfig | undefined> {
  const args = parseArgs(argv, SPEC);
  if (args.flags['help']) {
    process.stdout.write(CONNECT_USAGE);
    return undefined;
  }
  const url = args.positionals[0];
  if (url === undefined) throw new ArgumentError('connect needs a URL');
  if (args.positionals.length > 1) throw new ArgumentError(`unexpected argument ${args.positionals[1]}`);
  let shownUrl: string;
  try {
    const parsed = parseWebSocketUrl(url);
    shownUrl = parsed.basicAuth === undefined ? url : parsed.shown;
  } catch (error) {
    throw new ArgumentError(`${error instanceof Error ? error.message : String(error)}`);
  }
  const headers: Record<string, string[]> = {};
  for (const line of args.lists['header'] ?? []) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new ArgumentError(`--header needs 'Name: value', not ${JSON.stringify(line)}`);
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    // Checked here, as usage errors (exit 2), rather than failing the connection (exit 1).
    if (!isToken(name)) throw new ArgumentError(`--header: ${JSON.stringify(name)} is not a valid header name`);
    if (/[\r\n\0]/.test(value)) throw new ArgumentError(`--header: the value of ${name} may not hold CR, LF or NUL`);
    if (!isSafeHeaderValue(value)) throw new ArgumentError(`--header: the value of ${name} ${UNSENDABLE}`);
    if (isReservedRequestHeader(name)) throw new ArgumentError(`--header: ${name} cannot be set: the handshake sets it, or it would give the request a body${name.toLowerCase() === 'origin' ? ' (use --origin)' : ''}`);
    (headers[name] ??= []).push(value);
  }
  const subprotocols = args.lists['subprotocol'] ?? [];
  subprotocols.forEach((protocol, index) => {
    if (!isToken(protocol)) throw new ArgumentError(`--subprotocol: ${JSON.stringify(protocol)} is not a valid subprotocol name (an HTTP token)`);
    if (subprotocols.indexOf(protocol) !== index) throw new ArgumentError(`--subprotocol: ${protocol} is given twice`);
  });
  const origin = args.values['origin'];
  if (origin !== undefined && !isSafeHeaderValue(origin)) throw new ArgumentError(`--origin ${UNSENDABLE}`);
  const modes = (['binary', 'base64', 'hex'] as const).filter((mode) => args.flags[mode]);
  if (modes.length > 1) throw new ArgumentError(`--${modes[0]} and --${modes[1]} do not go together`);
  const mode: DataMode = modes[0] ?? 'text';
  const echo = args.flags['echo'] === true;
  const executeLines = args.lists['execute'];
  if (echo && executeLines) throw new ArgumentError('--echo and --execute do not go together');
  const execute = executeLines?.map((line) => {
    try {
      return encodeLine(line, mode);
    } catch (error) {
      throw error instanceof EncodingError ? new ArgumentError(`--execute: ${error.message}`) : error;
    }
  });
  if (args.values['proxy'] !== undefined && args.flags['no-proxy']) throw new ArgumentError('--proxy and --no-proxy do not go together');
  if (args.values['proxy'] !== undefined) {
    try {
      resolveProxy('localhost', 80, false, args.values['proxy']);
    } catch (error) {
      throw new ArgumentError(`--proxy: ${(error as Error).message.replace(/^the proxy option: /, '')}`);
    }
  }
  const maxPayload = numberOption(args, 'max-payload', 100 * 1024 * 1024);
  if (!Number.isInteger(maxPayload) || maxPayload < 1) throw new ArgumentError(`--max-payload must be a whole number above 0, not ${JSON.stringify(args.values['max-payload'])}`);
  const timeoutSeconds = numberOption(args, 'timeout', 10);
  if (timeoutSeconds <= 0) throw new ArgumentError('--timeout must be above 0');
  const caFile = args.values['ca'];
  const ca = caFile === undefined ? undefined : checkAuthorities(caFile, await readFile(caFile).catch((error: NodeJS.ErrnoException) => {
    throw new ArgumentError(`cannot read ${caFile}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
  }));
  return {
    url,
    shownUrl,
    echo,
    execute,
    waitSeconds: numberOption(args, 'wait', 1),
    pingSeconds: numberOption(args, 'ping', 0),
    timeoutSeconds,
    maxPayload,
    headers,
    subprotocols,
    origin,
    deflate: args.flags['deflate'] === true,
    ca,
    caFile,
    insecure: args.flags['insecure'] === true,
    proxy: args.flags['no-proxy'] ? false : args.values['proxy'],
    reconnect: args.flags['reconnect'] === true,
    mode,
    json: args.flags['json'] === true,
    colour: !args.flags['no-color'] && !process.env['NO_COLOR'],
  };
}

/**
 * The --ca file's bytes, if they hold PEM certificates that all parse: Node's TLS would ignore a
 * file without one (DER, a key, an empty file) and then report the server's certificate as
 * untrusted, as if --ca had not been given.
 */
function checkAuthorities(file: string, pem: Buffer): Buffer {
  const blocks = pem.toString('latin1').match(/-----BEGIN CERTIFICATE-----[^-]*-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new ArgumentError(`--ca ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  for (const block of blocks) {
    try {
      new X509Certificate(block);
    } catch (error) {
      throw new ArgumentError(`--ca ${file} holds a certificate that cannot be read: ${(error as Error).message}`);
    }
  }
  return pem;
}
