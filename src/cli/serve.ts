import { readFile } from 'node:fs/promises';
import { type PlainHttpResponse } from '../server/plain-http.js';
import { WebSocketServer } from '../server/server.js';
import { type Connection } from '../io/connection.js';
import { type Backplane } from '../server/backplane.js';
import { ArgumentError, numberOption, parseArgs, type ParsedArgs } from './args.js';
import { demoPage } from './demo-page.js';

export const SERVE_USAGE = `Usage: sockwave serve [options]

Serves the demo page at /, an echo endpoint at /echo and a broadcast room at /broadcast.

Options:
  --port N             TCP port (default 8080; 0 picks a free port)
  --host H             address to listen on (default 127.0.0.1)
  --tls-cert FILE      PEM certificate: serve wss:// (with --tls-key)
  --tls-key FILE       PEM private key
  --max-payload BYTES  largest message accepted (default 104857600)
  --deflate            accept permessage-deflate (RFC 7692)
  --subprotocol P      accept subprotocol P when a client offers it (repeatable; the client's order decides)
  --backplane URL      share /broadcast with other serve processes through redis://HOST:PORT
                       (needs the ioredis package)
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
  deflate: { type: 'boolean' },
  subprotocol: { type: 'list' },
  backplane: { type: 'string' },
  help: { type: 'boolean' },
} as const;

const BROADCAST_TOPIC = '/broadcast';

/** `--backplane redis://HOST:PORT`: sockwave/redis, loaded only then (it needs ioredis). */
async function openBackplane(url: string | undefined): Promise<Backplane | undefined> {
  if (url === undefined) return undefined;
  if (!/^rediss?:\/\//.test(url)) throw new ArgumentError(`--backplane takes redis://HOST:PORT, not ${JSON.stringify(url)}`);
  let redis: typeof import('../redis/index.js');
  try {
    redis = await import('../redis/index.js');
  } catch (error) {
    throw new ArgumentError(`--backplane needs the ioredis package (npm install ioredis): ${error instanceof Error ? error.message : String(error)}`);
  }
  return new redis.RedisBackplane({ url, prefix: 'sockwave-serve' });
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
  const backplane = await openBackplane(args.values['backplane']);
  const tls = certFile && keyFile ? { cert: await readFile(certFile), key: await readFile(keyFile) } : undefined;

  const server = new WebSocketServer({
    port: numberOption(args, 'port', 8080),
    host: args.values['host'] ?? '127.0.0.1',
    maxPayload: numberOption(args, 'max-payload', 100 * 1024 * 1024),
    perMessageDeflate: args.flags['deflate'] === true,
    protocols: args.lists['subprotocol'] ?? [],
    tls,
    backplane,
    onHttpRequest: (request): PlainHttpResponse => {
      if (request.path === '/' || request.path === '/index.html') {
        return { status: 200, headers: { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }, body: demoPage() };
      }
      return { status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: 'not found\n' };
    },
  });

  if (backplane) {
    // Reported on stderr: a lost Redis, and messages dropped or missed because of it.
    server.on('backplane', (event) => void (event.type !== 'connected' && process.stderr.write(`backplane: ${JSON.stringify(event)}\n`)));
    // Ready when the backplane is (bounded: an unreachable Redis is retried in the background).
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5000);
      server.once('backplane', () => (clearTimeout(timer), resolve()));
    });
  }

  // ws /echo: every message goes back with the same type.
  server.route('/echo', () => ({
    onMessage: (connection: Connection, data: string | Buffer, isBinary: boolean) => {
      connection.send(data, { binary: isBinary });
    },
  }));
  // ws /broadcast: every message goes to every connection on /broadcast (of every process sharing
  // the backplane), the sender included.
  server.route('/broadcast', () => ({
    onOpen: (connection: Connection) => void connection.subscribe(BROADCAST_TOPIC),
    onMessage: (_connection: Connection, data: string | Buffer, isBinary: boolean) => {
      server.publish(BROADCAST_TOPIC, data, { binary: isBinary });
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
