import { readFile } from 'node:fs/promises';
import { type PlainHttpResponse } from '../server/plain-http.js';
import { WebSocketServer } from '../server/server.js';
import { DEFAULT_RATE_LIMIT } from '../server/options.js';
import { type Connection } from '../io/connection.js';
import { ArgumentError, numberOption, parseArgs, type ParsedArgs } from './args.js';
import { demoPage } from './demo-page.js';

export const SERVE_USAGE = `Usage: sockwave serve [options]

Serves the demo page at /, an echo endpoint at /echo and a broadcast room at /broadcast.

Options:
  --port N             TCP port (default 8080; 0 picks a free port)
  --host H             address to listen on (default 127.0.0.1)
  --tls-cert FILE      PEM certificate: serve wss:// (with --tls-key)
  --tls-key FILE       PEM private key
  --max-payload BYTES  largest message accepted, inflated size included (default 104857600)
  --max-fragments N    most frames per message (default 1024)
  --rate-limit N       messages (pings included) per second per connection; 0 for none (default 50000)
  --max-connections N  connections at once (default 10000)
  --max-per-address N  connections at once from one address (default 1000)
  --handshake-timeout MS  time to complete the upgrade request, or the TLS handshake (default 10000)
  --deflate            accept permessage-deflate (RFC 7692)
  --subprotocol P      accept subprotocol P when a client offers it (repeatable; the client's order decides)
  --backplane URL      share /broadcast through redis://HOST:PORT (not available yet)
  --help               show this help

Prints 'listening on ws://HOST:PORT' when ready. SIGINT/SIGTERM close every connection
with 1001, then exit 0.
`;

const SPEC = {
  port: { type: 'string' },
  host: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'max-payload': { type: 'string' },
  'max-fragments': { type: 'string' },
  'rate-limit': { type: 'string' },
  'max-connections': { type: 'string' },
  'max-per-address': { type: 'string' },
  'handshake-timeout': { type: 'string' },
  deflate: { type: 'boolean' },
  subprotocol: { type: 'list' },
  backplane: { type: 'string' },
  help: { type: 'boolean' },
} as const;

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
  if (args.values['backplane'] !== undefined) throw new ArgumentError('--backplane is not available in this version');
  const tls = certFile && keyFile ? { cert: await readFile(certFile), key: await readFile(keyFile) } : undefined;

  const server = new WebSocketServer({
    port: numberOption(args, 'port', 8080),
    host: args.values['host'] ?? '127.0.0.1',
    maxPayload: numberOption(args, 'max-payload', 100 * 1024 * 1024),
    maxFragments: numberOption(args, 'max-fragments', 1024),
    rateLimit: { ...DEFAULT_RATE_LIMIT, messagesPerSecond: numberOption(args, 'rate-limit', 50_000) },
    maxConnections: numberOption(args, 'max-connections', 10_000),
    maxConnectionsPerAddress: numberOption(args, 'max-per-address', 1000),
    handshakeTimeout: numberOption(args, 'handshake-timeout', 10_000),
    perMessageDeflate: args.flags['deflate'] === true,
    protocols: args.lists['subprotocol'] ?? [],
    tls,
    onHttpRequest: (request): PlainHttpResponse => {
      if (request.path === '/' || request.path === '/index.html') {
        return { status: 200, headers: { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }, body: demoPage() };
      }
      return { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: 'not found\n' };
    },
  });

  // ws /echo: every message goes back with the same type.
  server.route('/echo', () => ({
    onMessage: (connection: Connection, data: string | Buffer, isBinary: boolean) => {
      connection.send(data, { binary: isBinary });
    },
  }));
  // ws /broadcast: every message goes to every connection on /broadcast, the sender included.
  const room = new Set<Connection>();
  server.route('/broadcast', () => ({
    onOpen: (connection: Connection) => void room.add(connection),
    onClose: (connection: Connection) => void room.delete(connection),
    onMessage: (_connection: Connection, data: string | Buffer, isBinary: boolean) => {
      server.broadcast(data, { binary: isBinary, filter: (client) => room.has(client) });
    },
  }));

  // Signal handlers first: a supervisor may send SIGTERM as soon as it reads the line below.
  let stopping = false;
  let stopped!: (code: number) => void;
  const done = new Promise<number>((resolve) => (stopped = resolve));
  const shutdown = (): void => {
    if (stopping) return;
    stopping = true;
    void server.close({ code: 1001, reason: 'server shutting down', timeout: 3000 }).then(() => stopped(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
  const info = await server.listen();
  if (!stopping) process.stdout.write(`listening on ${info.url}\n`);
  return done;
}
