/**
 * `sockwave bench`: against a `sockwave serve` child and against its own in-process server,
 * echo and broadcast; the JSON and text reports; the progress line on a terminal (pty); errors.
 */
import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { closedPort } from '../support/net.js';
import { MAIN, run } from '../support/cli-process.js';
import { runInPty } from '../support/pty.js';
import { selfSignedCertificate } from '../interop/support/tls.js';

interface Summary {
  url: string;
  mode: string;
  connections: number;
  size: number;
  sent: number;
  received: number;
  sentPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; samples: number };
  errors: number;
}

function checkLatencies(summary: Summary): void {
  const { p50, p90, p99, max, samples } = summary.latencyMs;
  assert.equal(samples, summary.sent, 'one round trip per message sent');
  assert.ok(p50 > 0 && p50 <= p90 && p90 <= p99 && p99 <= max, JSON.stringify(summary.latencyMs));
}

describe('sockwave bench', { timeout: 60_000 }, () => {
  test('echo against `sockwave serve`: every message comes back; JSON with throughput and percentiles', async (t) => {
    const server = run(t, ['serve', '--port', '0']);
    const base = /^listening on (ws:\/\/\S+)$/.exec(await server.lines.next('the listening line', 10_000))?.[1];
    const cli = run(t, ['bench', base!, '--connections', '3', '--size', '100', '--duration', '1', '--json']);
    assert.deepEqual(await cli.exited(15_000), { code: 0, signal: null }, cli.stderr());
    const summary = JSON.parse(cli.stdout()) as Summary;
    assert.equal(summary.url, `${base}/echo`);
    assert.deepEqual([summary.mode, summary.connections, summary.size, summary.errors], ['echo', 3, 100, 0]);
    assert.ok(summary.sent > 0);
    assert.equal(summary.received, summary.sent);
    checkLatencies(summary);
    assert.equal(cli.stderr(), '', 'no progress line when stderr is not a terminal');
  });

  test('broadcast with its own server: each message reaches every connection', async (t) => {
    const cli = run(t, ['bench', '--mode', 'broadcast', '--connections', '4', '--duration', '1', '--binary', '--deflate', '--json']);
    assert.deepEqual(await cli.exited(15_000), { code: 0, signal: null }, cli.stderr());
    const summary = JSON.parse(cli.stdout()) as Summary;
    assert.match(summary.url, /^ws:\/\/127\.0\.0\.1:\d+\/broadcast$/);
    assert.equal(summary.received, summary.sent * 4);
    checkLatencies(summary);
  });

  test('the text report, and a progress line on a terminal', async (t) => {
    const program = runInPty(t, process.execPath, [MAIN, 'bench', '--connections', '2', '--duration', '2.5'], { TERM: 'xterm-256color' });
    await program.waitForLine(/^echo, 2 connections, 64-byte text messages, 2\.\d+ s, ws:\/\/127\.0\.0\.1:\d+\/echo$/, 'the report’s first line', 15_000);
    await program.waitForLine(/^ {2}sent +[\d,]+ messages +[\d,]+\/s +[\d.]+ (B|KiB|MiB)\/s$/, 'the sent line');
    await program.waitForLine(/^ {2}round trip {2}p50 [\d.]+ ms {2}p90 [\d.]+ ms {2}p99 [\d.]+ ms {2}max [\d.]+ ms {2}\([\d,]+ samples\)$/, 'the percentiles');
    assert.equal(await program.exited(), 0);
    assert.match(program.raw(), /\r\x1b\[Kbench 1\/3 s {2}sent [\d,]+ \([\d,]+\/s\) {2}received [\d,]+ {2}median round trip [\d.]+ ms/, 'a progress line while it ran');
  });

  test('wss:// with a self-signed certificate: --insecure runs, without it one line names the problem', async (t) => {
    const certificate = await selfSignedCertificate(t);
    const server = run(t, ['serve', '--port', '0', '--tls-cert', certificate.cert, '--tls-key', certificate.key]);
    const base = /^listening on (wss:\/\/\S+)$/.exec(await server.lines.next('the listening line', 10_000))?.[1];
    const secure = run(t, ['bench', base!, '--connections', '2', '--duration', '0.5', '--insecure', '--json']);
    assert.deepEqual(await secure.exited(15_000), { code: 0, signal: null }, secure.stderr());
    assert.ok((JSON.parse(secure.stdout()) as Summary).sent > 0);
    const refused = run(t, ['bench', base!, '--duration', '0.5']);
    assert.equal((await refused.exited()).code, 1);
    assert.match(refused.stderr(), /^sockwave: the server's TLS certificate is self-signed \(wss:\/\/127\.0\.0\.1:\d+\/echo\)/);
  });

  test('a server that is not there: exit 1 with one line', async (t) => {
    const port = await closedPort();
    const cli = run(t, ['bench', `ws://127.0.0.1:${port}`, '--duration', '1']);
    assert.equal((await cli.exited()).code, 1);
    assert.equal(cli.stderr(), `sockwave: connection refused (ws://127.0.0.1:${port}/echo): is the server running?\n`);
  });

  test('a refusal whose body holds control characters: exit 1 with one line, the controls escaped', async (t) => {
    const server = createNetServer((socket) => {
      socket.on('error', () => {});
      socket.resume();
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 22\r\nConnection: close\r\n\r\nno\x1b[31m red\rOVERWRITE\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const cli = run(t, ['bench', `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, '--duration', '1']);
    assert.equal((await cli.exited()).code, 1);
    const stderr = cli.stderr();
    assert.equal(stderr.split('\n').length, 2, `one line: ${JSON.stringify(stderr)}`);
    assert.doesNotMatch(stderr, /[\x1b\r]/, 'a control character reached stderr');
    assert.match(stderr, /403/);
  });

  for (const args of [['--mode', 'fanout'], ['--connections', '0'], ['--duration', '0'], ['http://127.0.0.1:1'], ['ws://a', 'ws://b']]) {
    test(`bad usage \`bench ${args.join(' ')}\` exits 2`, async (t) => {
      const cli = run(t, ['bench', ...args]);
      assert.deepEqual(await cli.exited(), { code: 2, signal: null });
      assert.match(cli.stderr(), /^sockwave: /);
    });
  }
});
