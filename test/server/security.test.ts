/**
 * The security review's checks (see SECURITY.md): no header injection through subprotocols,
 * refusal headers or bodies; nothing internal in what reaches a peer; exact origin matching; TLS
 * 1.2 at least by default. Handshakes run in memory (test/support/fault-injector.ts) except TLS.
 */
import { strict as assert } from 'node:assert';
import { connect as tlsConnect } from 'node:tls';
import { describe, test, type TestContext } from 'node:test';
import { refuse } from '../../src/server/admission.js';
import { type ServerOptions } from '../../src/server/options.js';
import { WebSocketServer } from '../../src/server/server.js';
import { FaultyPeer } from '../support/fault-injector.js';
import { clientFrame } from '../support/frames.js';
import { withTimeout } from '../support/net.js';
import { selfSigned } from '../support/server-kit.js';

function server(t: TestContext, options: ServerOptions): WebSocketServer<unknown> {
  const srv = new WebSocketServer(options);
  srv.on('error', () => {});
  t.after(() => srv.close({ timeout: 100 }));
  return srv;
}

/** The response's header lines (status line excluded), names lower-cased. */
function headerNames(head: string): string[] {
  return head.split('\r\n').slice(1).map((line) => line.slice(0, line.indexOf(':')).toLowerCase());
}

describe('security review', () => {
  test('a subprotocol chooser returning CR/LF cannot add a header: the upgrade fails with 500', async (t) => {
    const srv = server(t, { protocols: () => 'chat\r\nX-Injected: 1', onConnection: () => ({}) });
    const peer = await FaultyPeer.connect(srv, { extra: ['Sec-WebSocket-Protocol: chat'] });
    assert.equal(peer.status, 500);
    assert.ok(!headerNames(peer.responseHead).includes('x-injected'), peer.responseHead);
  });

  test('a subprotocol chooser may only pick one the client offered', async (t) => {
    const srv = server(t, { protocols: () => 'admin', onConnection: () => ({}) });
    const peer = await FaultyPeer.connect(srv, { extra: ['Sec-WebSocket-Protocol: chat'] });
    assert.equal(peer.status, 500);
    assert.doesNotMatch(peer.responseHead, /sec-websocket-protocol/i);
  });

  test('a refusal body with CR/LF stays in the body; a refusal header value with CR/LF is not written', async (t) => {
    const body = 'no\r\nX-Injected: 1\r\n\r\n<script>';
    const srv = server(t, { onConnection: (request) => (request.path === '/body' ? refuse(403, { body }) : refuse(401, { headers: { 'WWW-Authenticate': 'Bearer\r\nX-Injected: 1' } })) });
    const first = await FaultyPeer.connect(srv, { path: '/body' });
    assert.equal(first.status, 403);
    assert.ok(!headerNames(first.responseHead).includes('x-injected'));
    assert.match(first.responseHead, new RegExp(`content-length: ${Buffer.byteLength(body)}`, 'i'));
    const second = await FaultyPeer.connect(srv, { path: '/header' });
    assert.equal(second.status, 500);
    assert.ok(!headerNames(second.responseHead).includes('x-injected'), second.responseHead);
  });

  for (const asynchronous of [false, true]) {
    test(`a refusal whose header is invalid (${asynchronous ? 'async' : 'sync'} admission) is counted and reported once, as the 500 the peer gets`, async (t) => {
      const srv = server(t, {
        onConnection: () => {
          const refusal = refuse(401, { headers: { 'X-Why': 'a\r\nInjected: yes' } });
          return asynchronous ? Promise.resolve(refusal) : refusal;
        },
      });
      const refused: Array<[number, string]> = [];
      srv.on('refused', (status, reason) => refused.push([status, reason]));
      const errors: Error[] = [];
      srv.on('error', (error) => errors.push(error));
      const peer = await FaultyPeer.connect(srv);
      await peer.until(() => peer.closed || peer.ended, 'the end of the response');
      assert.equal(peer.status, 500);
      assert.ok(!headerNames(peer.responseHead).includes('injected'), peer.responseHead);
      assert.deepEqual(refused, [[500, 'internal server error']]);
      assert.equal(srv.stats().refused, 1);
      assert.equal(errors.length, 1);
    });
  }

  test('an admission function that throws: the peer gets a bare 500, without the message or a stack', async (t) => {
    const errors: Error[] = [];
    const srv = server(t, {
      onConnection: () => {
        throw new Error('database password is hunter2');
      },
    });
    srv.on('error', (error) => errors.push(error));
    const peer = await FaultyPeer.connect(srv);
    await peer.until(() => peer.closed || peer.ended, 'the end of the response');
    assert.equal(peer.status, 500);
    const all = peer.refusal.toString('latin1');
    assert.match(all, /\r\n\r\ninternal server error$/);
    assert.doesNotMatch(all, /hunter2|at .*\.js/);
    assert.equal(errors.length, 1, 'the error goes to the server, not the peer');
  });

  test('close reasons for protocol errors name the rule broken, nothing internal', async (t) => {
    const srv = server(t, { maxPayload: 1000, onConnection: () => ({}) });
    const attacks = [clientFrame({ opcode: 3 }), clientFrame({ opcode: 1, payload: Buffer.from([0xff]) }), clientFrame({ opcode: 2, length: 5000, payload: '' })];
    for (const attack of attacks) {
      const peer = await FaultyPeer.connect(srv);
      peer.send(attack);
      await peer.until(() => peer.of('close').length === 1, 'the close frame');
      const { reason } = peer.of('close')[0]!;
      assert.ok(reason.length > 0);
      assert.doesNotMatch(reason, /\bat\b.*:\d+|\.js|\.ts|node:|Error/, reason);
    }
  });

  test('origins are matched exactly: look-alikes, other schemes and "null" are refused with 403', async (t) => {
    const srv = server(t, { origins: ['https://app.example'], onConnection: () => ({}) });
    for (const origin of ['https://app.example.evil.test', 'https://evil.test/https://app.example', 'http://app.example', 'HTTPS://APP.EXAMPLE', 'null', 'https://app.example:8443']) {
      const peer = await FaultyPeer.connect(srv, { extra: [`Origin: ${origin}`] });
      assert.equal(peer.status, 403, origin);
    }
    assert.equal((await FaultyPeer.connect(srv, { extra: ['Origin: https://app.example'] })).status, 101);
    assert.equal(srv.stats().refused, 6);
  });

  test('TLS: a client limited to TLS 1.1 is refused by default; TLS 1.2 and 1.3 are accepted', async (t) => {
    const pair = selfSigned();
    if (!pair) return t.skip('openssl is not available');
    const srv = server(t, { tls: pair, host: '127.0.0.1', onConnection: () => ({}) });
    const { port } = await srv.listen();
    const handshake = (options: { minVersion: 'TLSv1' | 'TLSv1.2'; maxVersion: 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3' }): Promise<string> =>
      withTimeout(
        new Promise<string>((resolve) => {
          // SECLEVEL=0 lets this client offer TLS 1.0/1.1 at all: the refusal must come from the server.
          const socket = tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false, ciphers: 'DEFAULT:@SECLEVEL=0', ...options }, () => {
            resolve(socket.getProtocol() ?? 'none');
            socket.destroy();
          });
          socket.on('error', (error: NodeJS.ErrnoException) => resolve(`error ${error.code ?? ''} ${error.message}`));
        }),
        'a TLS handshake',
      );
    assert.match(await handshake({ minVersion: 'TLSv1', maxVersion: 'TLSv1.1' }), /^error .*(protocol version|PROTOCOL_VERSION)/i);
    assert.equal(await handshake({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }), 'TLSv1.2');
    assert.equal(await handshake({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' }), 'TLSv1.3');
  });
});
