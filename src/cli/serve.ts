import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { type Backplane, type BackplaneEvent } from '../server/backplane.js';
import { WebSocketServer } from '../server/server.js';
import { DEFAULT_RATE_LIMIT } from '../server/options.js';
import { shownRedisUrl } from '../redis/redis-url.js';
import { ArgumentError, numberOption, parseArgs, type ParsedArgs } from './args.js';
import { serveDemoFiles } from './demo-page.js';
import { installDemoRoutes } from './demo-routes.js';

export const SERVE_USAGE = `Usage: sockwave serve [options]

Serves the demo page at /, an echo endpoint at /echo, a broadcast room at /broadcast and the
server's figures (JSON, once a second) at /stats.

Options:
  --port N               TCP port (default 8080; 0 picks a free port)
  --host H               address to listen on (default 127.0.0.1; IPv6 as ::1 or [::1])
  --tls-cert FILE        PEM certificate: serve wss:// and https:// (with --tls-key)
  --tls-key FILE         PEM private key
  --deflate              accept permessage-deflate (RFC 7692)
  --max-payload BYTES    largest message accepted, inflated size included; larger ones close
                         with 1009 (default 104857600)
  --max-fragments N      most frames per message; more close with 1008 (default 1024)
  --rate-limit N         messages (pings included) per second per connection, with 256 MiB of
                         payload per second; past it 1008 (default 0: none, so that /echo and
                         /broadcast take what a client pipes at full speed)
  --max-connections N    most connections at once; past it upgrades get 503 (default 10000)
  --max-per-address N    most connections at once from one address; past it 429 (default 1000)
  --handshake-timeout MS time to complete the upgrade request, or the TLS handshake (default 10000)
  --heartbeat SECONDS    ping every connection this often; one unanswered for as long is dropped
                         (default 0: off)
  --idle-timeout SECONDS close (1001) connections silent this long (default 0: off)
  --subprotocol P        accept subprotocol P when a client offers it (repeatable; the client's
                         order decides)
  --backplane URL        share /broadcast with other serve processes through redis://HOST:PORT
                         (needs the ioredis package)
  --help                 show this help

When ready, prints one line, 'listening on ws://HOST:PORT' (wss:// with TLS), and nothing more on
stdout; 'demo page: URL' goes to stderr.
SIGINT/SIGTERM close every connection with 1001, then exit 0.
Exit status: 0 after SIGINT/SIGTERM, 1 if the server cannot start (port in use...), 2 on a usage error.
`;

const SPEC = {
  port: { type: 'string' },
  host: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'max-payload': { type: 'string' },
  'max-connections': { type: 'string' },
  heartbeat: { type: 'string' },
  'idle-timeout': { type: 'string' },
  'max-fragments': { type: 'string' },
  'rate-limit': { type: 'string' },
  'max-per-address': { type: 'string' },
  'handshake-timeout': { type: 'string' },
  deflate: { type: 'boolean' },
  subprotocol: { type: 'list' },
  backplane: { type: 'string' },
  help: { type: 'boolean' },
} as const;

/** `--backplane redis://HOST:PORT`: sockwave/redis, loaded only then (it needs ioredis). */
async function openBackplane(url: string | undefined): Promise<Backplane | undefined> {
  if (url === undefined) return undefined;
  if (!/^rediss?:\/\/[^/\s]+/.test(url) || !URL.canParse(url)) throw new ArgumentError(`--backplane needs redis://HOST:PORT, not ${JSON.stringify(shownRedisUrl(url))}`);
  let redis: typeof import('../redis/index.js');
  try {
    redis = await import('../redis/index.js');
  } catch (error) {
    throw new ArgumentError(`--backplane needs the ioredis package (npm install ioredis): ${error instanceof Error ? error.message : String(error)}`);
  }
  try {
    return new redis.RedisBackplane({ url, prefix: 'sockwave-serve' });
  } catch (error) {
    // (The URL's checks: its DB, say.)
    throw new ArgumentError(`--backplane: ${error instanceof Error ? error.message.replace(/^RedisBackplane: /, '') : String(error)}`);
  }
}

/**
 * Waits until the backplane is connected, 5 s at most: an unreachable Redis is retried in the
 * background, and said so (/broadcast stays on this node until it connects). Credentials Redis
 * refuses end the command, since retrying cannot fix them. Afterwards, every change (Redis lost or
 * back, messages dropped or missed meanwhile) is reported on stderr, a line each.
 */
async function backplaneReady(server: WebSocketServer, shownUrl: string): Promise<void> {
  let lastError: Error | undefined;
  const outcome = await new Promise<'connected' | 'timeout' | 'refused'>((resolve) => {
    const timer = setTimeout(() => finish('timeout'), 5000);
    const listener = (event: BackplaneEvent): void => {
      if (event.type === 'connected') finish('connected');
      else if (event.type === 'disconnected' && event.error) {
        lastError = event.error;
        if (REFUSED_CREDENTIALS.test(event.error.message)) finish('refused');
      }
    };
    server.on('backplane', listener);
    function finish(how: 'connected' | 'timeout' | 'refused'): void {
      clearTimeout(timer);
      server.off('backplane', listener);
      resolve(how);
    }
  });
  const reason = lastError ? ` (${lastError.message})` : '';
  if (outcome === 'refused') {
    await server.close();
    throw new Error(`the Redis server at ${shownUrl} refused the credentials${reason}`);
  }
  if (outcome === 'timeout') process.stderr.write(`backplane: no connection to ${shownUrl} within 5 s${reason}; retrying in the background (/broadcast stays on this node until then)\n`);
  server.on('backplane', (event) => {
    process.stderr.write(`backplane: ${JSON.stringify(event, (_key, value: unknown) => (value instanceof Error ? value.message : value))}\n`);
  });
}

/** Redis's answers to AUTH (or to a command sent without it) when the credentials are wrong or missing. */
const REFUSED_CREDENTIALS = /^(WRONGPASS|NOAUTH)\b|^ERR (invalid (username-)?password|AUTH)/;

/**
 * The certificate and key, checked as TLS will use them, so that an error names the file at fault
 * (OpenSSL's own message says neither which file nor which option).
 */
function checkedTls(cert: Buffer, key: Buffer, certFile: string, keyFile: string): { cert: Buffer; key: Buffer } {
  const reason = (error: unknown): string => (error instanceof Error ? error.message : String(error));
  try {
    createSecureContext({ cert });
  } catch (error) {
    throw new ArgumentError(`--tls-cert ${certFile} holds no usable PEM certificate (${reason(error)})`);
  }
  try {
    createSecureContext({ key });
  } catch (error) {
    throw new ArgumentError(`--tls-key ${keyFile} holds no usable PEM private key, unencrypted ones only (${reason(error)})`);
  }
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    throw new ArgumentError(`--tls-key ${keyFile} is not the private key of --tls-cert ${certFile} (${reason(error)})`);
  }
  return { cert, key };
}

function integerOption(args: ParsedArgs, name: string): number | undefined {
  if (args.values[name] === undefined) return undefined;
  const value = numberOption(args, name, 0);
  if (!Number.isInteger(value) || value < 1) throw new ArgumentError(`--${name} must be a whole number above 0, not ${JSON.stringify(args.values[name])}`);
  return value;
}

export async function serve(argv: readonly string[]): Promise<number> {
  const args: ParsedArgs = parseArgs(argv, SPEC);
  if (args.flags['help']) {
    process.stdout.write(SERVE_USAGE);
    return 0;
  }
  if (args.positionals.length > 0) throw new ArgumentError(`unexpected argument ${args.positionals[0]}`);
  const certFile = args.values['tls-cert'];
  const keyFile = args.values['tls-key'];
  if ((certFile === undefined) !== (keyFile === undefined)) throw new ArgumentError('--tls-cert and --tls-key go together');
  const port = numberOption(args, 'port', 8080);
  if (!Number.isInteger(port) || port > 65535) throw new ArgumentError(`--port must be 0–65535, not ${JSON.stringify(args.values['port'])}`);
  const heartbeat = numberOption(args, 'heartbeat', 0) * 1000;
  const deflate = args.flags['deflate'] === true;
  const readPem = (file: string): Promise<Buffer> =>
    readFile(file).catch((error: NodeJS.ErrnoException) => {
      throw new ArgumentError(`cannot read ${file}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
    });
  const tls = certFile && keyFile ? checkedTls(await readPem(certFile), await readPem(keyFile), certFile, keyFile) : undefined;
  const backplane = await openBackplane(args.values['backplane']);

  // An IPv6 address may be given as URLs write it, in brackets: listen() takes it bare.
  const host = (args.values['host'] ?? '127.0.0.1').replace(/^\[(.*:.*)\]$/, '$1');
  // (listen() takes an empty host for every interface: a `--host "$HOST"` with HOST unset must not.)
  if (host.trim() === '') throw new ArgumentError('--host needs an address (0.0.0.0 or :: for every interface)');
  const maxPayload = integerOption(args, 'max-payload') ?? 100 * 1024 * 1024;
  const rateLimit = numberOption(args, 'rate-limit', 0);
  const server = new WebSocketServer({
    port,
    host,
    maxPayload,
    // /echo and /broadcast send back what they receive: a message as large as maxPayload must fit
    // in a connection's buffer, with room for the default 16 MiB of others (a slow reader's limit).
    maxBufferedAmount: maxPayload + 16 * 1024 * 1024,
    maxFragments: integerOption(args, 'max-fragments') ?? 1024,
    rateLimit: rateLimit === 0 ? false : { ...DEFAULT_RATE_LIMIT, messagesPerSecond: rateLimit },
    maxConnections: integerOption(args, 'max-connections') ?? 10_000,
    maxConnectionsPerAddress: integerOption(args, 'max-per-address') ?? 1000,
    handshakeTimeout: integerOption(args, 'handshake-timeout') ?? 10_000,
    pingInterval: heartbeat,
    pongTimeout: heartbeat > 0 ? heartbeat : undefined,
    idleTimeout: numberOption(args, 'idle-timeout', 0) * 1000,
    perMessageDeflate: deflate,
    protocols: args.lists['subprotocol'] ?? [],
    tls,
    backplane,
    onHttpRequest: serveDemoFiles,
  });
  // Signal handlers first: a supervisor may send SIGTERM as soon as it reads the line below, or
  // while the backplane is awaited. Every signal is handled (a second one during the shutdown
  // must not kill the process with the signal's default action); only the first acts.
  let stopping = false;
  let routes: { stop(): void } | undefined;
  let stopped!: (code: number) => void;
  const done = new Promise<number>((resolve) => (stopped = resolve));
  const shutdown = (): void => {
    if (stopping) return;
    stopping = true;
    routes?.stop();
    void server.close({ code: 1001, reason: 'server shutting down', timeout: 3000 }).then(() => stopped(0));
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  if (backplane) await Promise.race([backplaneReady(server, shownRedisUrl(args.values['backplane']!)), done]);
  if (stopping) return done;
  const demoRoutes = installDemoRoutes(server, { deflate });
  routes = demoRoutes;
  const info = await server.listen().catch((error: NodeJS.ErrnoException) => {
    demoRoutes.stop();
    const where = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    if (error.code === 'EADDRINUSE') throw new Error(`port ${port} is in use (${where}); try --port 0 for a free one`);
    if (error.code === 'EACCES') throw new Error(`not allowed to listen on ${where}`);
    if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND' || error.code === 'EINVAL') throw new Error(`cannot listen on ${where}: no such local address`);
    throw error;
  });
  if (!stopping) {
    const page = new URL(info.url);
    page.protocol = tls ? 'https:' : 'http:';
    // The contract's one line on stdout (tools read it); the page's address is for people: stderr.
    // A reader that has gone (EPIPE) does not stop the server: what it would have read is lost.
    for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
    process.stdout.write(`listening on ${info.url}\n`);
    process.stderr.write(`demo page: ${page.href}\n`);
  }
  return done;
}
