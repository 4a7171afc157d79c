/**
 * `sockwave connect` options, piped (not a terminal): --execute, the data modes (--hex, --base64,
 * --binary, --json), --subprotocol, --origin, --ping, TLS (--ca, --insecure), --proxy, and the
 * one-line errors (unknown host, non-101 answer, certificate, timeout). Child processes
 * (dist/cli/main.js) over real sockets on 127.0.0.1.
 */
import { describe, test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProxy } from '../support/proxy.js';
import { Queue, startSilentServer, startWsServer, type StartedWsServer } from '../support/net.js';
import { run, type Cli } from '../support/cli-process.js';
import { selfSignedCertificate } from '../interop/support/tls.js';

async function wsServer(t: TestContext): Promise<StartedWsServer> {
  const srv = await startWsServer({ handleProtocols: (protocols) => (protocols.has('chat.v2') ? 'chat.v2' : false) });
  t.after(() => srv.close());
  return srv;
}

/** A ws server that records what it receives and answers each message with `answer(...)`. */
async function recordingServer(t: TestContext, answer: (data: Buffer, isBinary: boolean) => Array<{ data: string | Buffer; binary: boolean }>): Promise<{ srv: StartedWsServer; received: Queue<{ data: Buffer; isBinary: boolean }> }> {
  const srv = await wsServer(t);
  const received = new Queue<{ data: Buffer; isBinary: boolean }>();
  srv.wss.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => {
      received.push({ data: data as Buffer, isBinary });
      for (const reply of answer(data as Buffer, isBinary)) socket.send(reply.data, { binary: reply.binary });
    });
  });
  return { srv, received };
}

const echo = (data: Buffer, isBinary: boolean): Array<{ data: Buffer; binary: boolean }> => [{ data, binary: isBinary }];

/** The one line on stderr of a failed run (exit 1), with no stack trace. */
async function failure(cli: Cli): Promise<string> {
  assert.equal((await cli.exited(15_000)).code, 1, `stdout: ${cli.stdout()}`);
  const lines = cli.stderr().split('\n').filter((line) => line !== '');
  assert.equal(lines.length, 1, `one line on stderr: ${cli.stderr()}`);
  assert.doesNotMatch(cli.stderr(), /\n\s+at /);
  return lines[0]!;
}

describe('sockwave connect options (piped)', { timeout: 60_000 }, () => {
  test('--execute sends each message in order without reading stdin, prints the replies, exits 0', async (t) => {
    const { srv, received } = await recordingServer(t, echo);
    const cli = run(t, ['connect', srv.url, '--execute', 'first', '--execute', 'second ✓', '--wait', '0.5'], 'pipe');
    assert.deepEqual(await cli.exited(), { code: 0, signal: null });
    assert.deepEqual((await received.take(2, 'the two messages')).map((m) => [m.data.toString(), m.isBinary]), [['first', false], ['second ✓', false]]);
    assert.equal(cli.stdout(), 'first\nsecond ✓\n');
    assert.equal(cli.stderr(), '');
  });

  test('--hex sends hex as binary and shows binary received as hex', async (t) => {
    const { srv, received } = await recordingServer(t, () => [{ data: Buffer.from([1, 0xab, 0]), binary: true }, { data: 'text stays text', binary: false }]);
    const cli = run(t, ['connect', srv.url, '--hex', '--execute', '00 ff 41', '--wait', '0.5']);
    assert.deepEqual(await cli.exited(), { code: 0, signal: null });
    const got = await received.next('the message');
    assert.deepEqual([got.data, got.isBinary], [Buffer.from([0, 0xff, 0x41]), true]);
    assert.equal(cli.stdout(), '01 ab 00\ntext stays text\n');
  });

  test('--base64 sends base64 as binary and shows binary received as base64', async (t) => {
    const { srv, received } = await recordingServer(t, echo);
    const cli = run(t, ['connect', srv.url, '--base64', '--execute', 'aGnDqQ==', '--wait', '0.5']);
    assert.deepEqual(await cli.exited(), { code: 0, signal: null });
    const got = await received.next('the message');
    assert.deepEqual([got.data.toString('utf8'), got.isBinary], ['hié', true]);
    assert.equal(cli.stdout(), 'aGnDqQ==\n');
  });

  test('--binary sends lines as binary and writes binary received as its raw bytes', async (t) => {
    const raw = Buffer.from([0, 1, 0xff, 0x80]);
    const { srv, received } = await recordingServer(t, () => [{ data: raw, binary: true }]);
    const cli = run(t, ['connect', srv.url, '--binary', '--wait', '0.5'], 'pipe');
    const bytes: Buffer[] = [];
    cli.child.stdout!.removeAllListeners('data');
    cli.child.stdout!.setEncoding('binary' as BufferEncoding);
    cli.child.stdout!.on('data', (chunk: string) => bytes.push(Buffer.from(chunk, 'latin1')));
    cli.child.stdin!.end('raw line ✓\n');
    assert.deepEqual(await cli.exited(), { code: 0, signal: null });
    const got = await received.next('the message');
    assert.deepEqual([got.data.toString('utf8'), got.isBinary], ['raw line ✓', true]);
    assert.deepEqual(Buffer.concat(bytes), Buffer.concat([raw, Buffer.from('\n')]));
  });

  test('without a mode, binary received is printed as UTF-8, one message per line (the piped contract)', async (t) => {
    const { srv } = await recordingServer(t, () => [{ data: Buffer.from('bytes ✓'), binary: true }]);
    const cli = run(t, ['connect', srv.url, '--execute', 'x', '--wait', '0.5']);
    assert.deepEqual(await cli.exited(), { code: 0, signal: null });
    assert.equal(cli.stdout(), 'bytes ✓\n');
  });

  test('--json pretty-prints JSON text and leaves other text alone', async (t) => {
    const { srv } = await recordingServer(t, () => [{ data: '{"a":1,"b":[true,null]}', binary: false }, { data: 'not json {', binary: false }]);
    const cli = run(t, ['connect', srv.url, '--json', '--execute', 'x', '--wait', '0.5']);
    assert.deepEqual(await cli.exited(), { code: 0, signal: null });
    assert.equal(cli.stdout(), '{\n  "a": 1,\n  "b": [\n    true,\n    null\n  ]\n}\nnot json {\n');
  });

  test('--subprotocol, --origin, --deflate and --ping reach the server', async (t) => {
    const srv = await startWsServer({ perMessageDeflate: true, handleProtocols: (protocols) => (protocols.has('chat.v2') ? 'chat.v2' : false) });
    t.after(() => srv.close());
    const pings = new Queue<string>();
    srv.wss.on('connection', (socket) => socket.on('ping', (payload) => pings.push(payload.toString())));
    const cli = run(t, ['connect', srv.url, '--subprotocol', 'chat.v1', '--subprotocol', 'chat.v2', '--origin', 'https://example.test', '--deflate', '--ping', '0.1', '--execute', 'x', '--wait', '2']);
    const { ws, request } = await srv.connections.next('the connection');
    assert.equal(ws.protocol, 'chat.v2');
    assert.match(ws.extensions, /^permessage-deflate/);
    assert.equal(request.headers['sec-websocket-protocol'], 'chat.v1, chat.v2');
    assert.equal(request.headers['origin'], 'https://example.test');
    await pings.next('a keep-alive ping', 5000);
    assert.deepEqual(await cli.exited(), { code: 0, signal: null });
  });

  test('an https:// proxy: --ca and --insecure hold for it too; its failures name the proxy, not the server', async (t) => {
    const certificate = await selfSignedCertificate(t);
    const proxy = await startProxy(t, undefined, { cert: readFileSync(certificate.cert, 'utf8'), key: readFileSync(certificate.key, 'utf8') });
    const { srv } = await recordingServer(t, echo);
    const refused = await failure(run(t, ['connect', srv.url, '--proxy', proxy.url, '--execute', 'x']));
    assert.equal(refused, `sockwave: the proxy 127.0.0.1:${proxy.port}: its TLS certificate is self-signed (${srv.url}/); trust its authority with --ca FILE, or skip the check with --insecure`);
    for (const option of [['--ca', certificate.cert], ['--insecure']]) {
      const cli = run(t, ['connect', srv.url, '--proxy', proxy.url, ...option, '--execute', 'tunnelled', '--wait', '0.5']);
      assert.deepEqual(await cli.exited(), { code: 0, signal: null }, cli.stderr());
      assert.equal(cli.stdout(), 'tunnelled\n');
    }
    assert.equal(proxy.tunnels.length, 2);
  });

  test('an invalid --proxy is a usage error (exit 2), shown without its password', async (t) => {
    for (const [proxy, expected] of [
      ['http://user:s3cret@[bad', 'not a valid proxy URL: http://***@[bad'],
      ['ftp://proxy.local:21', 'only http:// and https:// proxies are supported, not ftp://'],
    ] as const) {
      const cli = run(t, ['connect', 'ws://127.0.0.1:1/', '--proxy', proxy, '--execute', 'x']);
      assert.deepEqual(await cli.exited(), { code: 2, signal: null });
      assert.equal(cli.stderr(), `sockwave: --proxy: ${expected} (see 'sockwave --help')\n`);
    }
  });

  test('wss:// with a self-signed certificate: one line naming the problem and the fix; --ca and --insecure connect', async (t) => {
    const certificate = await selfSignedCertificate(t);
    const server = run(t, ['serve', '--port', '0', '--tls-cert', certificate.cert, '--tls-key', certificate.key]);
    const url = `${/^listening on (wss:\/\/\S+)$/.exec(await server.lines.next('the listening line', 10_000))?.[1]}/echo`;
    assert.match(url, /^wss:\/\/127\.0\.0\.1:\d+\/echo$/);
    assert.equal(await server.errLines.next('the demo line on stderr'), `demo page: ${url.replace('wss:', 'https:').replace(/echo$/, '')}`);

    const refused = await failure(run(t, ['connect', url, '--execute', 'x']));
    assert.equal(refused, `sockwave: the server's TLS certificate is self-signed (${url}); trust its authority with --ca FILE, or skip the check with --insecure`);
    for (const option of [['--ca', certificate.cert], ['--insecure']]) {
      const cli = run(t, ['connect', url, ...option, '--execute', 'secure ✓', '--wait', '0.5']);
      assert.deepEqual(await cli.exited(), { code: 0, signal: null }, cli.stderr());
      assert.equal(cli.stdout(), 'secure ✓\n');
    }
    // A --ca that holds some other authority: the advice is not to give --ca again.
    const other = await selfSignedCertificate(t);
    const wrong = await failure(run(t, ['connect', url, '--ca', other.cert, '--execute', 'x']));
    assert.equal(wrong, `sockwave: the server's TLS certificate is self-signed (${url}); ${other.cert} does not hold the authority that signed it: give that one with --ca, or skip the check with --insecure`);
  });

  test('--ca with a file that holds no readable PEM certificate (empty, only a key, DER, a cut one) exits 2 naming the file', async (t) => {
    const certificate = await selfSignedCertificate(t);
    const dir = await mkdtemp(join(tmpdir(), 'sockwave-ca-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const pem = readFileSync(certificate.cert, 'utf8');
    const lines = pem.trim().split('\n');
    const files: Record<string, string | Buffer> = {
      'empty.pem': '',
      'key.pem': readFileSync(certificate.key),
      'cert.der': new X509Certificate(pem).raw,
      'cut.pem': [...lines.slice(0, 3), lines.at(-1)!].join('\n'),
    };
    for (const [name, content] of Object.entries(files)) {
      const file = join(dir, name);
      writeFileSync(file, content);
      const cli = run(t, ['connect', 'wss://127.0.0.1:1/', '--ca', file]);
      assert.deepEqual(await cli.exited(), { code: 2, signal: null }, name);
      const reading = name === 'cut.pem' ? 'holds a certificate that cannot be read: ' : 'holds no PEM certificate';
      assert.ok(cli.stderr().startsWith(`sockwave: --ca ${file} ${reading}`), `${name}: ${cli.stderr()}`);
      assert.match(cli.stderr(), /^[^\n]+\n$/, 'one line');
    }
  });

  test('--proxy goes through an HTTP CONNECT proxy', async (t) => {
    const { srv } = await recordingServer(t, echo);
    const { url: proxyUrl, tunnels } = await startProxy(t);
    const cli = run(t, ['connect', srv.url, '--proxy', proxyUrl, '--execute', 'via proxy', '--wait', '0.5']);
    assert.deepEqual(await cli.exited(), { code: 0, signal: null }, cli.stderr());
    assert.equal(cli.stdout(), 'via proxy\n');
    assert.deepEqual(tunnels, [`127.0.0.1:${srv.port}`]);
  });

  test('SIGTERM closes with 1001 and exits 0; stdin still open', async (t) => {
    const srv = await wsServer(t);
    const closes = new Queue<number>();
    srv.wss.on('connection', (socket) => {
      socket.on('message', (data) => socket.send(data));
      socket.on('close', (code) => closes.push(code));
    });
    const cli = run(t, ['connect', srv.url], 'pipe');
    cli.child.stdin!.write('are you there\n');
    assert.equal(await cli.lines.next('the echo'), 'are you there');
    process.kill(cli.child.pid!, 'SIGTERM');
    assert.equal(await closes.next('the close at the server'), 1001);
    assert.deepEqual(await cli.exited(), { code: 0, signal: null });
    assert.equal(cli.stderr(), '');
  });

  test('an unknown host: one line naming the host and the URL', async (t) => {
    const line = await failure(run(t, ['connect', 'ws://no-such-host.invalid/chat', '--execute', 'x']));
    assert.equal(line, 'sockwave: host not found: no-such-host.invalid (ws://no-such-host.invalid/chat)');
  });

  test('a URL with a user and password: the error line shows the URL without them', async (t) => {
    const line = await failure(run(t, ['connect', 'ws://alice:s3cret@no-such-host.invalid/chat', '--execute', 'x']));
    assert.equal(line, 'sockwave: host not found: no-such-host.invalid (ws://no-such-host.invalid/chat)');
  });

  test('a non-101 answer: one line with the status, its reason and the URL', async (t) => {
    const server = run(t, ['serve', '--port', '0']);
    const base = /^listening on (ws:\/\/\S+)$/.exec(await server.lines.next('the listening line', 10_000))?.[1];
    const line = await failure(run(t, ['connect', `${base}/nowhere`, '--execute', 'x']));
    assert.match(line, new RegExp(`^sockwave: the server answered 404 Not Found instead of upgrading to a WebSocket \\(${base}/nowhere\\)`));
  });

  test('a server that never answers: a timeout after --timeout, one line naming the URL', async (t) => {
    const silent = await startSilentServer();
    t.after(() => silent.close());
    const url = `ws://127.0.0.1:${silent.port}/`;
    const line = await failure(run(t, ['connect', url, '--timeout', '0.5', '--execute', 'x']));
    assert.equal(line, `sockwave: timed out waiting for the server to answer (${url})`);
  });

  const BAD: ReadonlyArray<readonly string[]> = [
    ['--hex', '--base64'],
    ['--binary', '--hex'],
    ['--hex', '--execute', 'zz'],
    ['--base64', '--execute', 'not base64!'],
    ['--echo', '--execute', 'x'],
    ['--proxy', 'http://127.0.0.1:1', '--no-proxy'],
    ['--timeout', '0'],
    ['--ca', '/no/such/file.pem'],
    ['--header', 'Host: elsewhere'],
    ['--header', 'origin: https://example.com'],
    ['--header', 'Sec-WebSocket-Key: x'],
    ['--header', 'X-Price: 5 €'],
    ['--header', 'X-Bell: \x07'],
    ['--origin', 'https://example.test\x01'],
    ['--origin', 'https://example.test\r\nX-Injected: 1'],
    ['--subprotocol', 'chat', '--subprotocol', 'chat'],
  ];
  for (const args of BAD) {
    test(`bad usage \`connect URL ${args.map((arg) => (/[\x00-\x1f]/.test(arg) ? JSON.stringify(arg) : arg)).join(' ')}\` exits 2 with one line`, async (t) => {
      const cli = run(t, ['connect', 'ws://127.0.0.1:1/', ...args]);
      assert.deepEqual(await cli.exited(), { code: 2, signal: null });
      assert.match(cli.stderr(), /^sockwave: [^\n]+ \(see 'sockwave --help'\)\n$/);
    });
  }
});
