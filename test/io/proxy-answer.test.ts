import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { HandshakeError, SockwaveError } from '../../src/errors.js';
import { ProxyAnswer, type ProxyAnswerOutcome } from '../../src/io/proxy-answer.js';

/** A proxy's answer to CONNECT, read chunk by chunk (no sockets: what dial() does with each outcome is in dial.test.ts). */

/** The outcome after `chunks` are pushed one by one (undefined: more needed), each given as text. */
function pushAll(answer: ProxyAnswer, ...chunks: string[]): ProxyAnswerOutcome | undefined {
  let outcome: ProxyAnswerOutcome | undefined;
  for (const chunk of chunks) {
    assert.equal(outcome, undefined, 'an outcome before the last chunk');
    outcome = answer.push(Buffer.from(chunk, 'latin1'));
  }
  return outcome;
}

function refusalOf(outcome: ProxyAnswerOutcome | SockwaveError | undefined): HandshakeError {
  const error = outcome instanceof SockwaveError ? outcome : outcome?.opened === false ? outcome.error : undefined;
  assert.ok(error instanceof HandshakeError && error.code === 'SW_PROXY_REFUSED', String(error));
  return error;
}

test('a 2xx opens the tunnel, with the bytes after it, however the answer is cut; interim 1xx answers before it are skipped', () => {
  const outcome = pushAll(new ProxyAnswer(), 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 Conn', 'ection established\r', '\n\r\nFIRST');
  assert.ok(outcome?.opened === true, String(outcome));
  assert.equal(outcome.rest.toString(), 'FIRST');
});

test("a refusal's body is awaited across reads until its Content-Length or last chunk has come", () => {
  const sized = new ProxyAnswer();
  assert.equal(pushAll(sized, 'HTTP/1.1 403 Forbidden\r\nContent-Length: 13\r\n\r\nblocked', ' by'), undefined);
  assert.equal(sized.refusing, true);
  assert.equal(refusalOf(sized.push(Buffer.from(' IT'))).body, 'blocked by IT');
  const chunked = pushAll(new ProxyAnswer(), 'HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n7\r\nblocked\r\n', '0\r\n\r\n');
  assert.equal(refusalOf(chunked).body, 'blocked');
});

test("end(): the refusal with what came of its body; before any answer, that the proxy closed the connection", () => {
  const partial = new ProxyAnswer();
  assert.equal(pushAll(partial, 'HTTP/1.1 502 Bad Gateway\r\n\r\nno rou'), undefined);
  const refusal = refusalOf(partial.end());
  assert.equal(refusal.status, 502);
  assert.equal(refusal.body, 'no rou');
  const silent = new ProxyAnswer();
  assert.equal(silent.refusing, false);
  assert.equal(pushAll(silent, 'HTTP/1.1 200 Connection'), undefined);
  const closed = silent.end();
  assert.ok(!(closed instanceof HandshakeError) && closed.code === 'SW_SOCKET_ERROR', String(closed));
  assert.match(closed.message, /the proxy closed the connection/);
});

test("a refusal's body is not buffered without bound: a chunked body that never finishes a chunk line ends at 16 KiB", () => {
  const answer = new ProxyAnswer();
  assert.equal(pushAll(answer, 'HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n5;ext='), undefined);
  let outcome: ProxyAnswerOutcome | undefined;
  for (let i = 0; i < 100 && outcome === undefined; i++) outcome = answer.push(Buffer.alloc(1024, 'a'));
  assert.equal(refusalOf(outcome).body, '');
});

test("a refusal keeps each header line apart in rawHeaders (two Proxy-Authenticate challenges, say)", () => {
  const outcome = pushAll(new ProxyAnswer(), 'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="a, b"\r\nProxy-Authenticate: Negotiate\r\nContent-Length: 0\r\n\r\n');
  const error = refusalOf(outcome);
  assert.deepEqual(error.rawHeaders.filter(([name]) => name === 'proxy-authenticate').map(([, value]) => value), ['Basic realm="a, b"', 'Negotiate']);
});
