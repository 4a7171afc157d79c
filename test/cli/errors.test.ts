import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { describeError } from '../../src/cli/errors.js';
import { HandshakeError, SockwaveError } from '../../src/errors.js';

const URL_ = 'wss://example.test:8443/chat';

/** An Error carrying an errno-style `code`, as Node's socket and TLS errors do. */
function errno(code: unknown, message = `failed: ${String(code)}`, cause?: unknown): Error {
  const error: Error & { code?: unknown } = new Error(message, cause === undefined ? undefined : { cause });
  error.code = code;
  return error;
}

describe('describeError: an answer other than 101', () => {
  test('status, reason and the first line of the body', () => {
    const error = new HandshakeError(404, 'unexpected server response: 404 Not Found', {}, '  no such route  \nsecond line');
    assert.equal(describeError(error, URL_), `the server answered 404 Not Found instead of upgrading to a WebSocket (${URL_}): no such route`);
  });

  test('without a reason in the message, nor a body: the status alone, no colon', () => {
    const error = new HandshakeError(503, 'the server refused');
    assert.equal(describeError(error, URL_), `the server answered 503 instead of upgrading to a WebSocket (${URL_})`);
  });

  test('a reason of several words is kept whole', () => {
    const error = new HandshakeError(426, 'unexpected server response: 426 Upgrade Required');
    assert.equal(describeError(error, URL_), `the server answered 426 Upgrade Required instead of upgrading to a WebSocket (${URL_})`);
  });

  test('200 is an answer other than 101 (the lowest success status)', () => {
    const error = new HandshakeError(200, 'unexpected server response: 200 OK', {}, '<html>');
    assert.equal(describeError(error, URL_), `the server answered 200 OK instead of upgrading to a WebSocket (${URL_}): <html>`);
  });

  test("the body's first line is cut after 120 characters, with an ellipsis", () => {
    const exact = 'a'.repeat(120);
    const long = 'b'.repeat(121);
    assert.equal(describeError(new HandshakeError(500, 'x', {}, exact), URL_), `the server answered 500 instead of upgrading to a WebSocket (${URL_}): ${exact}`);
    assert.equal(describeError(new HandshakeError(500, 'x', {}, `${long}\nmore`), URL_), `the server answered 500 instead of upgrading to a WebSocket (${URL_}): ${'b'.repeat(120)}…`);
  });

  test('a 101 whose handshake failed, or a status under 200, is not an answer: its own message, naming the URL', () => {
    assert.equal(describeError(new HandshakeError(101, 'bad Sec-WebSocket-Accept'), URL_), `bad Sec-WebSocket-Accept (${URL_})`);
    assert.equal(describeError(new HandshakeError(199, 'unexpected server response: 199 Odd', {}, 'body'), URL_), `unexpected server response: 199 Odd (${URL_})`);
  });

  test('a handshake that timed out (status 0) says so', () => {
    const error = new HandshakeError(0, 'no answer', {}, '', 'SW_HANDSHAKE_TIMEOUT');
    assert.equal(describeError(error, URL_), `timed out waiting for the server to answer (${URL_})`);
  });
});

describe('describeError: the proxy failed', () => {
  test("a proxy's refusal is the proxy's, not an answer of the server", () => {
    const refused = new HandshakeError(407, 'the proxy refused the tunnel: 407 Proxy Authentication Required', { 'proxy-authenticate': 'Basic' }, '', 'SW_PROXY_REFUSED');
    assert.equal(describeError(refused, URL_), `the proxy refused the tunnel: 407 Proxy Authentication Required (${URL_})`);
  });

  test("its message, naming the URL once", () => {
    assert.equal(describeError(new SockwaveError('SW_HANDSHAKE_FAILED', 'the proxy answered 407 Proxy Authentication Required'), URL_), `the proxy answered 407 Proxy Authentication Required (${URL_})`);
    const named = `the proxy could not reach ${URL_}`;
    assert.equal(describeError(new SockwaveError('SW_SOCKET_ERROR', named), URL_), named);
  });

  test("a certificate problem along its causes adds that problem's advice", () => {
    const error = new SockwaveError('SW_SOCKET_ERROR', 'the proxy failed', { cause: errno('CERT_HAS_EXPIRED') });
    assert.equal(describeError(error, URL_), `the proxy failed (${URL_}); skip the check with --insecure`);
    const untrusted = new SockwaveError('SW_SOCKET_ERROR', `the proxy failed (${URL_})`, { cause: errno('DEPTH_ZERO_SELF_SIGNED_CERT') });
    assert.equal(describeError(untrusted, URL_), `the proxy failed (${URL_}); trust its authority with --ca FILE, or skip the check with --insecure`);
  });

  test("a proxy whose certificate fails: the problem in sockwave's words, whatever Node's message says", () => {
    for (const nodeMessage of ['self-signed certificate', 'self-signed certificate; if the root CA is installed locally, try running Node.js with --use-system-ca']) {
      const error = new SockwaveError('SW_SOCKET_ERROR', `the proxy 127.0.0.1:3128: TLS error: ${nodeMessage}`, { cause: errno('DEPTH_ZERO_SELF_SIGNED_CERT') });
      assert.equal(describeError(error, URL_), `the proxy 127.0.0.1:3128: its TLS certificate is self-signed (${URL_}); trust its authority with --ca FILE, or skip the check with --insecure`);
      const named = new SockwaveError('SW_SOCKET_ERROR', `the proxy 127.0.0.1:3128: TLS error: ${nodeMessage} (${URL_}/)`, { cause: errno('DEPTH_ZERO_SELF_SIGNED_CERT') });
      assert.equal(describeError(named, URL_), `the proxy 127.0.0.1:3128: its TLS certificate is self-signed (${URL_}/); trust its authority with --ca FILE, or skip the check with --insecure`, 'the URL the client added stays');
    }
    const v6 = new SockwaveError('SW_SOCKET_ERROR', 'the proxy [::1]:3128: TLS error: self-signed certificate', { cause: errno('DEPTH_ZERO_SELF_SIGNED_CERT') });
    assert.equal(describeError(v6, URL_), `the proxy [::1]:3128: its TLS certificate is self-signed (${URL_}); trust its authority with --ca FILE, or skip the check with --insecure`);
    const parenthesised = new SockwaveError('SW_SOCKET_ERROR', 'the proxy 127.0.0.1:3128: TLS error: self-signed certificate (ws://h/room(1))', { cause: errno('DEPTH_ZERO_SELF_SIGNED_CERT') });
    assert.equal(describeError(parenthesised, 'ws://h/room(1)'), 'the proxy 127.0.0.1:3128: its TLS certificate is self-signed (ws://h/room(1)); trust its authority with --ca FILE, or skip the check with --insecure', 'a URL with parentheses stays whole');
    const other = new SockwaveError('SW_SOCKET_ERROR', 'the proxy 127.0.0.1:3128 could not be reached: connect ECONNREFUSED', { cause: errno('ECONNREFUSED') });
    assert.equal(describeError(other, URL_), `the proxy 127.0.0.1:3128 could not be reached: connect ECONNREFUSED (${URL_})`, 'other failures keep their message');
  });

  test('an errno code that is not a certificate problem adds nothing, and is not told as the server refusing', () => {
    const error = new SockwaveError('SW_SOCKET_ERROR', 'the proxy refused the connection', { cause: errno('ECONNREFUSED') });
    assert.equal(describeError(error, URL_), `the proxy refused the connection (${URL_})`);
  });

  test("only a message that starts with 'the proxy ' is the proxy's", () => {
    for (const message of ['via the proxy ', 'the proxying failed']) {
      const error = new SockwaveError('SW_SOCKET_ERROR', message, { cause: errno('ECONNREFUSED') });
      assert.equal(describeError(error, URL_), `connection refused (${URL_}): is the server running?`);
    }
  });
});

describe('describeError: errno codes', () => {
  const certificates: ReadonlyArray<readonly [string, string]> = [
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'is self-signed; trust its authority with --ca FILE, or skip the check with --insecure'],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'has a self-signed certificate in its chain; trust its authority with --ca FILE, or skip the check with --insecure'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'is signed by an authority that is not trusted; trust its authority with --ca FILE, or skip the check with --insecure'],
    ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'is signed by an authority that is not trusted; trust its authority with --ca FILE, or skip the check with --insecure'],
    ['UNABLE_TO_GET_ISSUER_CERT', 'is signed by an authority that is not trusted; trust its authority with --ca FILE, or skip the check with --insecure'],
    ['CERT_HAS_EXPIRED', 'has expired; skip the check with --insecure'],
    ['CERT_NOT_YET_VALID', 'is not valid yet; skip the check with --insecure'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'does not name this host; connect with a name it was issued for, or skip the check with --insecure'],
  ];
  for (const [code, told] of certificates) {
    test(`${code}: what is wrong with the certificate, and the advice`, () => {
      const [problem, advice] = told.split('; ') as [string, string];
      assert.equal(describeError(errno(code), URL_), `the server's TLS certificate ${problem} (${URL_}); ${advice}`);
    });
  }

  test('with a --ca file given, an untrusted certificate gets advice other than --ca; other problems keep theirs', () => {
    const context = { caFile: 'corp-ca.pem' };
    const wrongAuthority = 'corp-ca.pem does not hold the authority that signed it: give that one with --ca, or skip the check with --insecure';
    for (const [code, told] of certificates) {
      const [problem, advice] = told.split('; ') as [string, string];
      const expected = advice.includes('--ca') ? wrongAuthority : advice;
      assert.equal(describeError(errno(code), URL_, context), `the server's TLS certificate ${problem} (${URL_}); ${expected}`, code);
    }
    const proxy = new SockwaveError('SW_SOCKET_ERROR', 'the proxy 127.0.0.1:3128: TLS error: self-signed certificate', { cause: errno('DEPTH_ZERO_SELF_SIGNED_CERT') });
    assert.equal(describeError(proxy, URL_, context), `the proxy 127.0.0.1:3128: its TLS certificate is self-signed (${URL_}); ${wrongAuthority}`);
  });

  test('ECONNREFUSED: is the server running?', () => {
    assert.equal(describeError(errno('ECONNREFUSED'), URL_), `connection refused (${URL_}): is the server running?`);
  });

  test('a refusal whose status line has no reason phrase (HTTP/1.1 404): the status alone, and the URL that answered', () => {
    const answered = 'ws://example.test/moved';
    const error = new HandshakeError(404, `unexpected server response: 404 (${answered})`, {}, '', 'SW_HANDSHAKE_FAILED', { url: answered });
    assert.equal(describeError(error, URL_), `the server answered 404 instead of upgrading to a WebSocket (${answered})`);
    const phrased = new HandshakeError(404, `unexpected server response: 404 Not Found (${answered})`, {}, '', 'SW_HANDSHAKE_FAILED', { url: answered });
    assert.equal(describeError(phrased, URL_), `the server answered 404 Not Found instead of upgrading to a WebSocket (${answered})`);
  });

  test('ERR_SSL_WRONG_VERSION_NUMBER: not a TLS server', () => {
    assert.equal(describeError(errno('ERR_SSL_WRONG_VERSION_NUMBER'), URL_), `the server does not speak TLS (${URL_}): is it a ws:// server?`);
  });

  test('ENOTFOUND and EAI_AGAIN: the host is named', () => {
    assert.equal(describeError(errno('ENOTFOUND'), URL_), `host not found: example.test (${URL_})`);
    assert.equal(describeError(errno('EAI_AGAIN'), URL_), `host not found: example.test (${URL_})`);
  });

  test('an unknown host in a string that is no URL: the string is named as it is', () => {
    assert.equal(describeError(errno('ENOTFOUND'), 'not a url'), 'host not found: not a url (not a url)');
  });

  test('another errno code: the message, naming the URL once', () => {
    assert.equal(describeError(errno('EPIPE', 'write EPIPE'), URL_), `write EPIPE (${URL_})`);
    assert.equal(describeError(errno('ECONNRESET', `reset by ${URL_}`), URL_), `reset by ${URL_}`);
    assert.equal(describeError(new SockwaveError('SW_SOCKET_ERROR', 'socket failed', { cause: errno('EPIPE') }), URL_), `socket failed (${URL_})`);
  });
});

describe('describeError: the cause chain', () => {
  test('a code found on a cause is used', () => {
    const error = new SockwaveError('SW_SOCKET_ERROR', 'socket failed', { cause: errno('ECONNREFUSED') });
    assert.equal(describeError(error, URL_), `connection refused (${URL_}): is the server running?`);
  });

  test('sockwave codes (SW_) along the way are skipped, and so are codes that are not strings', () => {
    const inner = errno('ENOTFOUND');
    const middle = errno(42, 'numeric code', inner);
    const outer = new SockwaveError('SW_HANDSHAKE_FAILED', 'failed', { cause: middle });
    assert.equal(describeError(outer, URL_), `host not found: example.test (${URL_})`);
  });

  test('the first code found wins over a deeper one', () => {
    const error = errno('ECONNREFUSED', 'outer', errno('ENOTFOUND'));
    assert.equal(describeError(error, URL_), `connection refused (${URL_}): is the server running?`);
  });

  test('a code five errors deep is found, one six deep is not', () => {
    const chain = (depth: number): Error => {
      let error: Error = errno('ECONNREFUSED', 'deepest');
      for (let i = 1; i < depth; i++) error = new Error(`level ${depth - i}`, { cause: error });
      return error;
    };
    assert.equal(describeError(chain(5), URL_), `connection refused (${URL_}): is the server running?`);
    assert.equal(describeError(chain(6), URL_), `level 1 (${URL_})`);
  });

  test('a cause that is not an Error ends the search', () => {
    const error = new Error('outer', { cause: { code: 'ECONNREFUSED' } });
    assert.equal(describeError(error, URL_), `outer (${URL_})`);
  });
});

describe('describeError: everything else', () => {
  test('a sockwave timeout of the handshake', () => {
    assert.equal(describeError(new SockwaveError('SW_HANDSHAKE_TIMEOUT', 'timeout'), URL_), `timed out waiting for the server to answer (${URL_})`);
  });

  test('a sockwave error: its message, naming the URL once', () => {
    assert.equal(describeError(new SockwaveError('SW_ABORTED', 'aborted'), URL_), `aborted (${URL_})`);
    assert.equal(describeError(new SockwaveError('SW_ABORTED', `aborted ${URL_}`), URL_), `aborted ${URL_}`);
  });

  test('another Error: its message, naming the URL once', () => {
    assert.equal(describeError(new TypeError('bad'), URL_), `bad (${URL_})`);
    assert.equal(describeError(new TypeError(`bad ${URL_}`), URL_), `bad ${URL_}`);
  });

  test('a value that is not an Error: as a string', () => {
    assert.equal(describeError('plain words', URL_), 'plain words');
    assert.equal(describeError(undefined, URL_), 'undefined');
  });
});
