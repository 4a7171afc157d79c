import { describe, test } from 'node:test';
import { throwsHandshake } from '../support/handshake-asserts.js';
import { strict as assert } from 'node:assert';
import { HandshakeError } from '../../src/errors.js';
import { buildUpgradeRequest, validateUpgradeResponse, type UpgradeRequestOptions } from '../../src/handshake/client-handshake.js';
import { findHeadEnd, parseRequestHead, parseResponseHead, type ResponseHead } from '../../src/handshake/http-head.js';
import { acceptKey, generateKey } from '../../src/handshake/keys.js';
import { buildAcceptResponse, validateUpgradeRequest } from '../../src/handshake/server-handshake.js';
import { toUpgradeRequest } from '../../src/handshake/upgrade-request.js';
import { connect } from '../../src/index.js';
import { RawClient, startSilentServer } from '../support/net.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

const BASE: UpgradeRequestOptions = { host: 'server.example.com', path: '/chat', key: KEY };

function build(extra: Partial<UpgradeRequestOptions> = {}): string {
  return buildUpgradeRequest({ ...BASE, ...extra }).toString('latin1');
}

function response(...lines: string[]): ResponseHead {
  return parseResponseHead(Buffer.from(lines.map((line) => `${line}\r\n`).join('') + '\r\n', 'latin1'));
}

/** A good 101 for KEY with these extra lines. */
function good101(...extra: string[]): ResponseHead {
  return response('HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${ACCEPT}`, ...extra);
}


describe('buildUpgradeRequest', () => {
  test('writes the request line and the required headers, ending with a blank line', () => {
    assert.equal(
      build(),
      'GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
  });

  test('keeps the query in the request target and a port in Host', () => {
    const text = build({ path: '/chat?room=1&x=%20', host: 'example.com:8080' });
    assert.match(text, /^GET \/chat\?room=1&x=%20 HTTP\/1\.1\r\n/);
    assert.match(text, /\r\nHost: example\.com:8080\r\n/);
  });

  test('joins the offered protocols with ", " in order', () => {
    assert.match(build({ protocols: ['superchat', 'chat'] }), /\r\nSec-WebSocket-Protocol: superchat, chat\r\n/);
  });

  test('sends a single offered protocol (a list of one is still an offer)', () => {
    assert.match(build({ protocols: ['chat'] }), /\r\nSec-WebSocket-Protocol: chat\r\n/);
  });

  test('sends no Sec-WebSocket-Protocol for no protocols, and no Origin or Extensions unless given', () => {
    const text = build({ protocols: [] });
    assert.doesNotMatch(text, /Sec-WebSocket-Protocol/i);
    assert.doesNotMatch(text, /Origin/i);
    assert.doesNotMatch(text, /Sec-WebSocket-Extensions/i);
  });

  test('sends the extensions offer and the origin', () => {
    const text = build({ extensions: 'permessage-deflate; client_max_window_bits', origin: 'https://example.com' });
    assert.match(text, /\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n/);
    assert.match(text, /\r\nOrigin: https:\/\/example\.com\r\n/);
  });

  test('sends an array header once per element and a string header once', () => {
    const text = build({ headers: { 'X-Multi': ['a', 'b', 'c'], Authorization: 'Bearer t' } });
    assert.equal(text.match(/\r\nX-Multi: /g)?.length, 3);
    assert.match(text, /\r\nX-Multi: a\r\nX-Multi: b\r\nX-Multi: c\r\n/);
    assert.match(text, /\r\nAuthorization: Bearer t\r\n/);
    const parsed = parseRequestHead(Buffer.from(text, 'latin1'));
    assert.equal(parsed.headers['x-multi'], 'a, b, c');
    assert.deepEqual(parsed.rawHeaders.filter(([name]) => name === 'x-multi').map(([, value]) => value), ['a', 'b', 'c']);
  });

  test('sends cookies in one Cookie line (RFC 6265 §5.4), joined with "; ", whatever the case of the names given', () => {
    const text = build({ headers: { Cookie: ['a=1', 'b=2'], 'X-After': 'x', cookie: 'c=3' } });
    assert.equal(text.match(/\r\ncookie: /gi)?.length, 1, text);
    assert.match(text, /\r\nCookie: a=1; b=2; c=3\r\n/);
    assert.match(text, /\r\nX-After: x\r\n/);
    assert.equal(build({ headers: { Cookie: 'session=abc' } }).match(/\r\nCookie: session=abc\r\n/g)?.length, 1);
    assert.doesNotMatch(build({ headers: { Cookie: [] } }), /Cookie/i);
    assert.throws(() => build({ headers: { Cookie: ['a=1', 'b=2\r\nX: 1'] } }), { name: 'TypeError' });
  });

  test('sends no line for an empty array value', () => {
    assert.doesNotMatch(build({ headers: { 'X-None': [] } }), /X-None/);
  });

  for (const name of ['Host', 'host', 'Upgrade', 'CONNECTION', 'Sec-WebSocket-Key', 'sec-websocket-version', 'Sec-WebSocket-Extensions']) {
    test(`throws a TypeError for the reserved header ${name} passed as an extra`, () => {
      assert.throws(() => build({ headers: { [name]: 'x' } }), { name: 'TypeError', message: /set by the handshake/ });
    });
  }

  for (const name of ['Content-Length', 'content-length', 'Transfer-Encoding', 'TRANSFER-ENCODING', 'TE', 'te', 'Trailer', 'trailer']) {
    test(`throws a TypeError for ${name} passed as an extra: it would give the GET a body`, () => {
      assert.throws(() => build({ headers: { [name]: name.toLowerCase() === 'content-length' ? '5' : 'chunked' } }), {
        name: 'TypeError',
        message: /would give the upgrade request a body/,
      });
    });
  }

  const injections: Array<[string, Partial<UpgradeRequestOptions>]> = [
    ['a header value with CR LF', { headers: { 'X-A': 'ok\r\nX-Injected: 1' } }],
    ['a header value with a bare LF', { headers: { 'X-A': 'ok\nX-Injected: 1' } }],
    ['a header value with a bare CR', { headers: { 'X-A': 'a\rb' } }],
    ['a header value with NUL', { headers: { 'X-A': 'a\x00b' } }],
    ['an array element with CR LF', { headers: { 'X-A': ['ok', 'bad\r\nX: 1'] } }],
    ['a header name with CR LF', { headers: { 'X-A\r\nX-Injected': '1' } }],
    ['a header name with a space', { headers: { 'X A': '1' } }],
    ['a header name with a colon', { headers: { 'X:A': '1' } }],
    ['an empty header name', { headers: { '': '1' } }],
    ['a path with CR LF', { path: '/chat\r\nX-Injected: 1' }],
    ['a path with a space', { path: '/chat HTTP/1.0\r\n' }],
    ['a path with a bare LF', { path: '/a\nb' }],
    ['a path with NUL', { path: '/a\x00' }],
    ['a path with DEL', { path: '/a\x7f' }],
    ['a host with CR LF', { host: 'example.com\r\nX-Injected: 1' }],
    ['a host with a bare LF', { host: 'example.com\nX: 1' }],
    ['an origin with CR LF', { origin: 'https://example.com\r\nX-Injected: 1' }],
    ['an origin with NUL', { origin: 'https://example.com\x00' }],
  ];
  for (const [what, options] of injections) {
    test(`throws a TypeError for ${what}`, () => {
      assert.throws(() => build(options), TypeError);
    });
  }

  test('throws a TypeError for an empty path (it would build a malformed request line)', () => {
    assert.throws(() => build({ path: '' }), TypeError);
  });

  test(
    'throws a TypeError for protocols or extensions that would inject lines',
    () => {
      assert.throws(() => build({ protocols: ['chat\r\nX-Injected: 1'] }), TypeError);
      assert.throws(() => build({ extensions: 'permessage-deflate\r\nX-Injected: 1' }), TypeError);
    },
  );

  test('builds a request that parseRequestHead reads and validateUpgradeRequest accepts', () => {
    const key = generateKey();
    const bytes = buildUpgradeRequest({
      host: '[::1]:9000',
      path: '/chat?room=1',
      key,
      protocols: ['v2.chat', 'chat'],
      extensions: 'permessage-deflate',
      origin: 'https://example.com',
      headers: { Cookie: ['a=1', 'b=2'], 'User-Agent': 'sockwave-test' },
    });
    assert.equal(findHeadEnd(bytes), bytes.length);
    const head = parseRequestHead(bytes);
    assert.equal(head.method, 'GET');
    assert.equal(head.target, '/chat?room=1');
    assert.equal(head.version, 'HTTP/1.1');
    assert.equal(head.headers['host'], '[::1]:9000');
    assert.deepEqual(validateUpgradeRequest(head), { key, target: '/chat?room=1', protocols: ['v2.chat', 'chat'], extensions: 'permessage-deflate' });
    const request = toUpgradeRequest(head, ['v2.chat', 'chat'], { address: '::1', port: 50000, secure: false });
    assert.equal(request.path, '/chat');
    assert.equal(request.query.get('room'), '1');
    assert.equal(request.origin, 'https://example.com');
    assert.deepEqual({ ...request.cookies }, { a: '1', b: '2' });
  });

  test('builds requests the server accepts for many generated keys', () => {
    for (let i = 0; i < 200; i++) {
      const key = generateKey();
      assert.equal(validateUpgradeRequest(parseRequestHead(buildUpgradeRequest({ ...BASE, key }))).key, key);
    }
  });
});

describe('connect() with a header that would give the upgrade request a body', () => {
  test('fails with a TypeError without connecting', async (t) => {
    const silent = await startSilentServer();
    t.after(() => silent.close());
    await assert.rejects(async () => connect(`ws://127.0.0.1:${silent.port}/`, { headers: { 'Content-Length': '5' }, connectTimeout: 1000 }), {
      name: 'TypeError',
      message: /Content-Length would give the upgrade request a body/,
    });
    // The first connection the server sees is this probe: connect() dialed nothing.
    const probe = await RawClient.connect(silent.port);
    t.after(() => probe.destroy());
    const first = await silent.sockets.next('the probe connection');
    assert.equal(first.remotePort, probe.socket.localPort);
  });
});

describe('validateUpgradeResponse', () => {
  test('accepts a good 101 and reports no protocol and no extensions', () => {
    assert.deepEqual(validateUpgradeResponse(good101(), KEY, []), { protocol: '', extensions: '' });
  });

  test('accepts the bytes buildAcceptResponse writes, with the selected protocol', () => {
    const key = generateKey();
    const parsed = parseResponseHead(buildAcceptResponse(key, { protocol: 'chat' }));
    assert.deepEqual(validateUpgradeResponse(parsed, key, ['superchat', 'chat']), { protocol: 'chat', extensions: '' });
  });

  test('accepts tokens in any case and in lists (Upgrade: WebSocket, Connection: keep-alive, upgrade)', () => {
    const parsed = response('HTTP/1.1 101 Switching Protocols', 'upgrade: WebSocket', 'CONNECTION: keep-alive, upgrade', `sec-websocket-accept: ${ACCEPT}`);
    assert.deepEqual(validateUpgradeResponse(parsed, KEY, []), { protocol: '', extensions: '' });
  });

  test('a 101 in any HTTP version but 1.1 (or a later 1.x) is refused (RFC 9110 §7.8: upgrades are HTTP/1.1)', () => {
    for (const version of ['HTTP/1.0', 'HTTP/2.0', 'HTTP/0.9']) {
      const parsed = response(`${version} 101 Switching Protocols`, 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${ACCEPT}`);
      throwsHandshake(() => validateUpgradeResponse(parsed, KEY, []), 101, new RegExp(`must be HTTP/1.1, not ${version.replace('.', '\\.')}`));
    }
    for (const version of ['HTTP/1.2', 'HTTP/1.9']) {
      const later = response(`${version} 101 Switching Protocols`, 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${ACCEPT}`);
      assert.deepEqual(validateUpgradeResponse(later, KEY, []), { protocol: '', extensions: '' }, version);
    }
  });

  for (const status of [200, 302, 400, 401, 403, 404, 426, 500, 503]) {
    test(`rejects a ${status} with a HandshakeError carrying that status, the headers and the body`, () => {
      const parsed = response(`HTTP/1.1 ${status} Some Reason`, 'Content-Type: text/plain', 'X-Why: because', 'Sec-WebSocket-Version: 13');
      const error = throwsHandshake(() => validateUpgradeResponse(parsed, KEY, [], 'the body'), status, new RegExp(`${status} Some Reason`));
      assert.equal(error.headers, parsed.headers);
      assert.equal(error.headers['x-why'], 'because');
      assert.equal(error.body, 'the body');
      assert.equal(error.code, 'SW_HANDSHAKE_FAILED');
    });
  }

  test('rejects a 101 without Upgrade, or with another protocol', () => {
    const without = response('HTTP/1.1 101 Switching Protocols', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${ACCEPT}`);
    throwsHandshake(() => validateUpgradeResponse(without, KEY, []), 101, /Upgrade: websocket/);
    const other = response('HTTP/1.1 101 Switching Protocols', 'Upgrade: h2c', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${ACCEPT}`);
    throwsHandshake(() => validateUpgradeResponse(other, KEY, []), 101, /Upgrade: websocket/);
    // RFC 6455 §4.1: the value is "websocket", not a list that holds it (one line or two).
    const list = response('HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket, h2c', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${ACCEPT}`);
    throwsHandshake(() => validateUpgradeResponse(list, KEY, []), 101, /Upgrade: websocket/);
    const twoLines = response('HTTP/1.1 101 Switching Protocols', 'Upgrade: h2c', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${ACCEPT}`);
    throwsHandshake(() => validateUpgradeResponse(twoLines, KEY, []), 101, /Upgrade: websocket/);
    const casing = response('HTTP/1.1 101 Switching Protocols', 'Upgrade: WebSocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${ACCEPT}`);
    assert.doesNotThrow(() => validateUpgradeResponse(casing, KEY, []));
  });

  test('rejects a 101 without a Connection upgrade token', () => {
    const without = response('HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', `Sec-WebSocket-Accept: ${ACCEPT}`);
    throwsHandshake(() => validateUpgradeResponse(without, KEY, []), 101, /Connection: Upgrade/);
    const keepAlive = response('HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: keep-alive', `Sec-WebSocket-Accept: ${ACCEPT}`);
    throwsHandshake(() => validateUpgradeResponse(keepAlive, KEY, []), 101, /Connection: Upgrade/);
  });

  test('rejects a missing Sec-WebSocket-Accept', () => {
    const parsed = response('HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade');
    throwsHandshake(() => validateUpgradeResponse(parsed, KEY, []), 101, /Sec-WebSocket-Accept/);
  });

  for (const accept of [acceptKey('AAAAAAAAAAAAAAAAAAAAAA=='), ACCEPT.toLowerCase(), ACCEPT.slice(0, -1), KEY, `${ACCEPT}, ${ACCEPT}`]) {
    test(`rejects the wrong Sec-WebSocket-Accept ${JSON.stringify(accept)}`, () => {
      const parsed = response('HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${accept}`);
      throwsHandshake(() => validateUpgradeResponse(parsed, KEY, []), 101, /Sec-WebSocket-Accept/);
    });
  }

  test('rejects Sec-WebSocket-Accept sent twice', () => {
    throwsHandshake(() => validateUpgradeResponse(good101(`Sec-WebSocket-Accept: ${ACCEPT}`), KEY, []), 101, /Sec-WebSocket-Accept/);
  });

  test('returns the subprotocol the server chose from those offered', () => {
    assert.deepEqual(validateUpgradeResponse(good101('Sec-WebSocket-Protocol: chat'), KEY, ['superchat', 'chat']), { protocol: 'chat', extensions: '' });
  });

  test('rejects a subprotocol that was not offered', () => {
    throwsHandshake(() => validateUpgradeResponse(good101('Sec-WebSocket-Protocol: mqtt'), KEY, ['chat']), 101, /not offered/);
  });

  test('rejects a subprotocol differing in case from the offer', () => {
    throwsHandshake(() => validateUpgradeResponse(good101('Sec-WebSocket-Protocol: Chat'), KEY, ['chat']), 101, /not offered/);
  });

  test('rejects a subprotocol when none was offered', () => {
    throwsHandshake(() => validateUpgradeResponse(good101('Sec-WebSocket-Protocol: chat'), KEY, []), 101, /not offered/);
  });

  test('rejects two subprotocols, in one line or across two', () => {
    throwsHandshake(() => validateUpgradeResponse(good101('Sec-WebSocket-Protocol: chat, superchat'), KEY, ['chat', 'superchat']), 101);
    throwsHandshake(
      () => validateUpgradeResponse(good101('Sec-WebSocket-Protocol: chat', 'Sec-WebSocket-Protocol: superchat'), KEY, ['chat', 'superchat']),
      101,
    );
  });

  test('rejects a malformed subprotocol answer', () => {
    throwsHandshake(() => validateUpgradeResponse(good101('Sec-WebSocket-Protocol: "chat"'), KEY, ['chat']), 101, /Sec-WebSocket-Protocol/);
  });

  test('rejects an extension when none was offered (allowExtensions false)', () => {
    throwsHandshake(() => validateUpgradeResponse(good101('Sec-WebSocket-Extensions: permessage-deflate'), KEY, []), 101, /extension/);
    throwsHandshake(() => validateUpgradeResponse(good101('Sec-WebSocket-Extensions: permessage-deflate'), KEY, [], '', false), 101, /extension/);
  });

  test('returns the extensions answer when allowExtensions is true', () => {
    const result = validateUpgradeResponse(good101('Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover'), KEY, [], '', true);
    assert.equal(result.extensions, 'permessage-deflate; server_no_context_takeover');
  });

  test('passes the response headers with a validation failure', () => {
    const parsed = good101('Sec-WebSocket-Protocol: mqtt');
    const error = throwsHandshake(() => validateUpgradeResponse(parsed, KEY, ['chat']), 101);
    assert.equal(error.headers['sec-websocket-protocol'], 'mqtt');
  });
});

describe('parseResponseHead + validateUpgradeResponse on random input', () => {
  test('random mutations of a good 101 either pass or throw a HandshakeError', () => {
    let seed = 12345;
    const rng = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 4294967296;
    };
    const good = buildAcceptResponse(KEY, { protocol: 'chat' });
    let accepted = 0;
    for (let i = 0; i < 2000; i++) {
      const bytes = [...good];
      for (let n = 0; n < 1 + Math.floor(rng() * 3); n++) {
        const at = Math.floor(rng() * bytes.length);
        if (rng() < 0.5) bytes[at] = Math.floor(rng() * 256);
        else bytes.splice(at, 1);
      }
      try {
        validateUpgradeResponse(parseResponseHead(Buffer.from(bytes)), KEY, ['chat']);
        accepted++;
      } catch (error) {
        assert.ok(error instanceof HandshakeError, `unexpected ${String(error)}`);
      }
    }
    assert.ok(accepted > 0);
  });
});
