import { describe, test } from 'node:test';
import { mulberry32 } from '../support/chunking.js';
import { throwsHandshake } from '../support/handshake-asserts.js';
import { strict as assert } from 'node:assert';
import { HandshakeError } from '../../src/errors.js';
import { findHeadEnd, parseRequestHead, parseResponseHead, type RequestHead } from '../../src/handshake/http-head.js';
import { acceptKey } from '../../src/handshake/keys.js';
import {
  buildAcceptResponse,
  buildRefusalResponse,
  isUpgradeRequest,
  validateUpgradeRequest,
} from '../../src/handshake/server-handshake.js';
import { parseCookies, toUpgradeRequest } from '../../src/handshake/upgrade-request.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

/** The RFC 6455 §1.2 example request, as header lines. */
const VALID_LINES: readonly string[] = [
  'GET /chat HTTP/1.1',
  'Host: server.example.com',
  'Upgrade: websocket',
  'Connection: Upgrade',
  `Sec-WebSocket-Key: ${KEY}`,
  'Origin: http://example.com',
  'Sec-WebSocket-Protocol: chat, superchat',
  'Sec-WebSocket-Version: 13',
];

function bytes(lines: readonly string[]): Buffer {
  return Buffer.from(lines.map((line) => `${line}\r\n`).join('') + '\r\n', 'latin1');
}

/** The valid request with some lines replaced (by header name, case-insensitive; null removes), or added. */
function requestWith(changes: Record<string, string | null> = {}, requestLine = VALID_LINES[0]!): RequestHead {
  const lines = [requestLine];
  const pending = new Map(Object.entries(changes).map(([name, value]) => [name.toLowerCase(), value]));
  for (const line of VALID_LINES.slice(1)) {
    const name = line.slice(0, line.indexOf(':')).toLowerCase();
    if (pending.has(name)) {
      const value = pending.get(name);
      pending.delete(name);
      if (value !== null) lines.push(`${line.slice(0, line.indexOf(':'))}: ${value}`);
    } else {
      lines.push(line);
    }
  }
  for (const [name, value] of pending) if (value !== null) lines.push(`${name}: ${value}`);
  return parseRequestHead(bytes(lines));
}


/** Splits a serialized response into its head text and body bytes. */
function split(response: Buffer): { head: string; body: Buffer } {
  const end = findHeadEnd(response);
  assert.notEqual(end, -1, 'the response has a complete head');
  return { head: response.subarray(0, end).toString('latin1'), body: response.subarray(end) };
}

describe('isUpgradeRequest', () => {
  test('is true when Upgrade lists websocket in any case', () => {
    assert.equal(isUpgradeRequest(requestWith()), true);
    assert.equal(isUpgradeRequest(requestWith({ Upgrade: 'WebSocket' })), true);
    assert.equal(isUpgradeRequest(requestWith({ Upgrade: 'h2c, WEBSOCKET' })), true);
  });

  test('is false without an Upgrade header or with another protocol', () => {
    assert.equal(isUpgradeRequest(requestWith({ Upgrade: null })), false);
    assert.equal(isUpgradeRequest(requestWith({ Upgrade: 'h2c' })), false);
  });
});

describe('validateUpgradeRequest', () => {
  test('accepts the RFC 6455 example request and returns the key, target, offered protocols and extensions', () => {
    const offer = validateUpgradeRequest(requestWith());
    assert.deepEqual(offer, { key: KEY, target: '/chat', protocols: ['chat', 'superchat'], extensions: undefined });
  });

  test('returns the target of an absolute-form request line in origin form (path and query)', () => {
    assert.equal(validateUpgradeRequest(requestWith({}, 'GET http://server.example.com/chat?room=1 HTTP/1.1')).target, '/chat?room=1');
    assert.equal(validateUpgradeRequest(requestWith({}, 'GET wss://server.example.com:8443/chat HTTP/1.1')).target, '/chat');
    assert.equal(validateUpgradeRequest(requestWith({}, 'GET /chat?room=1 HTTP/1.1')).target, '/chat?room=1');
  });

  for (const target of ['*', 'server.example.com:80', '/chat#frag', 'http://server.example.com/chat#frag', 'ftp://server.example.com/chat']) {
    test(`answers 400 to the request target ${JSON.stringify(target)}`, () => {
      throwsHandshake(() => validateUpgradeRequest(requestWith({}, `GET ${target} HTTP/1.1`)), 400, /request target/);
    });
  }

  test('returns no protocols when none are offered and passes Sec-WebSocket-Extensions through raw', () => {
    const offer = validateUpgradeRequest(
      requestWith({ 'Sec-WebSocket-Protocol': null, 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' }),
    );
    assert.deepEqual(offer.protocols, []);
    assert.equal(offer.extensions, 'permessage-deflate; client_max_window_bits');
  });

  test('accepts a minimal request without Origin or subprotocols', () => {
    const head = parseRequestHead(
      bytes(['GET / HTTP/1.1', 'Host: x', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Key: ${KEY}`, 'Sec-WebSocket-Version: 13']),
    );
    assert.equal(validateUpgradeRequest(head).key, KEY);
  });

  test('accepts tokens and header names in any case (Upgrade: WebSocket, Connection: keep-alive, Upgrade)', () => {
    assert.doesNotThrow(() => validateUpgradeRequest(requestWith({ Upgrade: 'WebSocket', Connection: 'keep-alive, Upgrade' })));
    assert.doesNotThrow(() => validateUpgradeRequest(requestWith({ Upgrade: 'WEBSOCKET', Connection: 'UPGRADE' })));
    assert.doesNotThrow(() => validateUpgradeRequest(requestWith({ Connection: 'upgrade,keep-alive' })));
    const head = parseRequestHead(
      bytes(['GET / HTTP/1.1', 'HOST: x', 'upgrade: websocket', 'CONNECTION: upgrade', `sec-websocket-key: ${KEY}`, 'SEC-WEBSOCKET-VERSION: 13']),
    );
    assert.equal(validateUpgradeRequest(head).key, KEY);
  });

  test('accepts Connection and Upgrade tokens sent on separate header lines', () => {
    const head = parseRequestHead(
      bytes([
        'GET / HTTP/1.1',
        'Host: x',
        'Upgrade: websocket',
        'Connection: keep-alive',
        'Connection: Upgrade',
        `Sec-WebSocket-Key: ${KEY}`,
        'Sec-WebSocket-Version: 13',
      ]),
    );
    assert.doesNotThrow(() => validateUpgradeRequest(head));
  });

  test('accepts a version above HTTP/1.1', () => {
    assert.doesNotThrow(() => validateUpgradeRequest(requestWith({}, 'GET /chat HTTP/2.0')));
  });

  test('answers 400 to a POST', () => {
    throwsHandshake(() => validateUpgradeRequest(requestWith({}, 'POST /chat HTTP/1.1')), 400, /GET/);
  });

  test('answers 400 to a lower-case get (methods are case-sensitive)', () => {
    throwsHandshake(() => validateUpgradeRequest(requestWith({}, 'get /chat HTTP/1.1')), 400, /GET/);
  });

  test('answers 400 to HTTP/1.0 and HTTP/0.9', () => {
    throwsHandshake(() => validateUpgradeRequest(requestWith({}, 'GET /chat HTTP/1.0')), 400, /HTTP\/1\.1/);
    throwsHandshake(() => validateUpgradeRequest(requestWith({}, 'GET /chat HTTP/0.9')), 400, /HTTP\/1\.1/);
  });

  test('answers 400 to a missing Host', () => {
    throwsHandshake(() => validateUpgradeRequest(requestWith({ Host: null })), 400, /Host/);
  });

  test('answers 400 to an empty Host', () => {
    throwsHandshake(() => validateUpgradeRequest(requestWith({ Host: '' })), 400, /Host/);
  });

  test('answers 400 to two Host header lines (RFC 9112 §3.2)', () => {
    const head = parseRequestHead(bytes([...VALID_LINES, 'Host: evil.example']));
    throwsHandshake(() => validateUpgradeRequest(head), 400, /Host/);
  });

  for (const upgrade of [null, 'h2c', 'websockets', 'web socket', '']) {
    test(`answers 400 to Upgrade: ${JSON.stringify(upgrade)}`, () => {
      throwsHandshake(() => validateUpgradeRequest(requestWith({ Upgrade: upgrade })), 400, /Upgrade/);
    });
  }

  for (const connection of [null, 'keep-alive', 'close', 'upgraded', 'keep-alive upgrade', '']) {
    test(`answers 400 to Connection: ${JSON.stringify(connection)} (no upgrade token)`, () => {
      throwsHandshake(() => validateUpgradeRequest(requestWith({ Connection: connection })), 400, /Connection/);
    });
  }

  test('answers 400 to a missing Sec-WebSocket-Key', () => {
    throwsHandshake(() => validateUpgradeRequest(requestWith({ 'Sec-WebSocket-Key': null })), 400, /Sec-WebSocket-Key/);
  });

  for (const key of ['', 'dGhlIHNhbXBsZSBub25jZQ', 'c2hvcnQ=', 'dGhlIHNhbXBsZSBub25jZQ==AA', 'dGhlIHNhbXBsZSBub25jZ-==', '!!!!!!!!!!!!!!!!!!!!!!==']) {
    test(`answers 400 to the invalid key ${JSON.stringify(key)}`, () => {
      throwsHandshake(() => validateUpgradeRequest(requestWith({ 'Sec-WebSocket-Key': key })), 400, /Sec-WebSocket-Key/);
    });
  }

  test('answers 400 to a Sec-WebSocket-Key sent twice', () => {
    const head = parseRequestHead(bytes([...VALID_LINES, `Sec-WebSocket-Key: ${KEY}`]));
    throwsHandshake(() => validateUpgradeRequest(head), 400, /Sec-WebSocket-Key/);
  });

  test('answers 426 with Sec-WebSocket-Version: 13 to version 8', () => {
    const error = throwsHandshake(() => validateUpgradeRequest(requestWith({ 'Sec-WebSocket-Version': '8' })), 426, /13/);
    assert.deepEqual(error.headers, { 'Sec-WebSocket-Version': '13' });
  });

  test('answers 426 with Sec-WebSocket-Version: 13 to a missing version', () => {
    const error = throwsHandshake(() => validateUpgradeRequest(requestWith({ 'Sec-WebSocket-Version': null })), 426);
    assert.deepEqual(error.headers, { 'Sec-WebSocket-Version': '13' });
  });

  for (const version of ['12', '14', '013', 'thirteen', '']) {
    test(`answers 426 to Sec-WebSocket-Version: ${JSON.stringify(version)}`, () => {
      throwsHandshake(() => validateUpgradeRequest(requestWith({ 'Sec-WebSocket-Version': version })), 426);
    });
  }

  test('answers 426 rather than 400 to version 8 with a bad key, so the client learns the version', () => {
    throwsHandshake(() => validateUpgradeRequest(requestWith({ 'Sec-WebSocket-Version': '8', 'Sec-WebSocket-Key': 'bad' })), 426);
  });

  for (const protocols of ['chat room', 'a/b', 'chat;q=1', '"chat"']) {
    test(`answers 400 to the malformed Sec-WebSocket-Protocol ${JSON.stringify(protocols)}`, () => {
      throwsHandshake(() => validateUpgradeRequest(requestWith({ 'Sec-WebSocket-Protocol': protocols })), 400, /subprotocol/);
    });
  }

  test('answers 400 to a duplicate subprotocol, in one line or across two', () => {
    throwsHandshake(() => validateUpgradeRequest(requestWith({ 'Sec-WebSocket-Protocol': 'chat, superchat, chat' })), 400, /twice/);
    const head = parseRequestHead(bytes([...VALID_LINES, 'Sec-WebSocket-Protocol: chat']));
    throwsHandshake(() => validateUpgradeRequest(head), 400, /twice/);
  });
});

describe('buildAcceptResponse', () => {
  test('writes the RFC 6455 example 101 response byte for byte', () => {
    assert.equal(
      buildAcceptResponse(KEY).toString('latin1'),
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${ACCEPT}\r\n\r\n`,
    );
  });

  test('has no Sec-WebSocket-Protocol or Sec-WebSocket-Extensions unless given', () => {
    const { head, body } = split(buildAcceptResponse(KEY));
    assert.doesNotMatch(head, /Sec-WebSocket-Protocol/i);
    assert.doesNotMatch(head, /Sec-WebSocket-Extensions/i);
    assert.equal(body.length, 0);
  });

  test('adds the selected protocol, the extensions answer and extra headers (arrays repeated)', () => {
    const response = buildAcceptResponse(KEY, {
      protocol: 'chat',
      extensions: 'permessage-deflate; server_no_context_takeover',
      headers: { 'X-Server': 'sockwave', 'Set-Cookie': ['a=1', 'b=2'] },
    });
    const { head, body } = split(response);
    assert.equal(body.length, 0);
    const parsed = parseResponseHead(Buffer.from(head, 'latin1'));
    assert.equal(parsed.status, 101);
    assert.equal(parsed.statusText, 'Switching Protocols');
    assert.equal(parsed.headers['upgrade'], 'websocket');
    assert.equal(parsed.headers['connection'], 'Upgrade');
    assert.equal(parsed.headers['sec-websocket-accept'], ACCEPT);
    assert.equal(parsed.headers['sec-websocket-protocol'], 'chat');
    assert.equal(parsed.headers['sec-websocket-extensions'], 'permessage-deflate; server_no_context_takeover');
    assert.equal(parsed.headers['x-server'], 'sockwave');
    assert.deepEqual(parsed.rawHeaders.filter(([name]) => name === 'set-cookie'), [['set-cookie', 'a=1'], ['set-cookie', 'b=2']]);
  });

  test('the answer without extra headers is byte for byte the one built with an empty header object', () => {
    for (const options of [{}, { protocol: 'chat' }, { extensions: 'permessage-deflate; server_no_context_takeover' }, { protocol: 'v2.chat', extensions: 'permessage-deflate' }]) {
      assert.equal(buildAcceptResponse(KEY, options).toString('latin1'), buildAcceptResponse(KEY, { ...options, headers: {} }).toString('latin1'), JSON.stringify(options));
    }
  });

  test('computes the accept hash of the key it is given', () => {
    const key = 'AAAAAAAAAAAAAAAAAAAAAA==';
    const parsed = parseResponseHead(buildAcceptResponse(key));
    assert.equal(parsed.headers['sec-websocket-accept'], acceptKey(key));
  });

  const injections: Array<[string, () => unknown]> = [
    ['a protocol with CR LF', () => buildAcceptResponse(KEY, { protocol: 'chat\r\nX-Injected: 1' })],
    ['extensions with a bare LF', () => buildAcceptResponse(KEY, { extensions: 'permessage-deflate\nX-Injected: 1' })],
    ['an extra header value with CR LF', () => buildAcceptResponse(KEY, { headers: { 'X-A': 'ok\r\nSet-Cookie: evil=1' } })],
    ['an extra header value with a bare CR', () => buildAcceptResponse(KEY, { headers: { 'X-A': 'a\rb' } })],
    ['an extra header value with NUL', () => buildAcceptResponse(KEY, { headers: { 'X-A': 'a\x00b' } })],
    ['an array element with CR LF', () => buildAcceptResponse(KEY, { headers: { 'X-A': ['fine', 'bad\r\nX: 1'] } })],
    ['a non-Latin-1 value', () => buildAcceptResponse(KEY, { headers: { 'X-A': '€' } })],
    ['a header name with a space', () => buildAcceptResponse(KEY, { headers: { 'X A': 'v' } })],
    ['a header name with a colon', () => buildAcceptResponse(KEY, { headers: { 'X:A': 'v' } })],
    ['a header name with CR LF', () => buildAcceptResponse(KEY, { headers: { 'X\r\nY': 'v' } })],
    ['an empty header name', () => buildAcceptResponse(KEY, { headers: { '': 'v' } })],
  ];
  for (const [what, build] of injections) {
    test(`throws a TypeError for ${what}`, () => {
      assert.throws(build, TypeError);
    });
  }
});

describe('buildRefusalResponse', () => {
  test('writes the status line, Connection: close, a text Content-Type and the body', () => {
    const { head, body } = split(buildRefusalResponse(403, {}, 'forbidden'));
    assert.match(head, /^HTTP\/1\.1 403 Forbidden\r\n/);
    const parsed = parseResponseHead(Buffer.from(head, 'latin1'));
    assert.equal(parsed.headers['connection'], 'close');
    assert.equal(parsed.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(parsed.headers['content-length'], '9');
    assert.equal(body.toString(), 'forbidden');
  });

  test('sets Content-Length to the UTF-8 byte length of the body', () => {
    const text = 'héllo € 😀 日本';
    const { head, body } = split(buildRefusalResponse(400, {}, text));
    const parsed = parseResponseHead(Buffer.from(head, 'latin1'));
    assert.equal(Number(parsed.headers['content-length']), Buffer.byteLength(text, 'utf8'));
    assert.equal(body.length, Buffer.byteLength(text, 'utf8'));
    assert.equal(body.toString('utf8'), text);
  });

  test('sends Content-Length: 0 and no body for an empty body', () => {
    const { head, body } = split(buildRefusalResponse(400));
    assert.match(head, /\r\nContent-Length: 0\r\n/);
    assert.equal(body.length, 0);
  });

  test('a 304 carries no content: no body, no Content-Length, no Content-Type (RFC 9110 §15.4.5), whatever body is given', () => {
    const { head, body } = split(buildRefusalResponse(304, { ETag: '"v1"' }, 'ignored'));
    const parsed = parseResponseHead(Buffer.from(head, 'latin1'));
    assert.equal(parsed.status, 304);
    assert.equal(parsed.headers['etag'], '"v1"');
    assert.equal(parsed.headers['connection'], 'close');
    assert.equal(parsed.headers['content-length'], undefined);
    assert.equal(parsed.headers['content-type'], undefined);
    assert.equal(body.length, 0);
  });

  test('adds Upgrade: websocket and Sec-WebSocket-Version: 13 to a 426', () => {
    const parsed = parseResponseHead(Buffer.from(split(buildRefusalResponse(426, {}, 'upgrade')).head, 'latin1'));
    assert.equal(parsed.status, 426);
    assert.equal(parsed.statusText, 'Upgrade Required');
    assert.equal(parsed.headers['upgrade'], 'websocket');
    assert.equal(parsed.headers['sec-websocket-version'], '13');
    // RFC 9110 §7.8: a sender of Upgrade lists "upgrade" in Connection too.
    assert.equal(parsed.headers['connection'], 'Upgrade, close');
  });

  test('answers a HEAD with the headers a GET would get, Content-Length included, and no body', () => {
    for (const status of [400, 403, 426]) {
      const get = buildRefusalResponse(status, { 'X-Reason': 'why' }, 'not here');
      const head = buildRefusalResponse(status, { 'X-Reason': 'why' }, 'not here', 'HEAD');
      assert.equal(head.toString('latin1'), split(get).head, String(status));
      assert.match(head.toString('latin1'), /\r\nContent-Length: 8\r\n/);
      assert.equal(split(head).body.length, 0);
    }
  });

  test('sends Sec-WebSocket-Version once when given the headers of a 426 HandshakeError', () => {
    const error = throwsHandshake(() => validateUpgradeRequest(requestWith({ 'Sec-WebSocket-Version': '8' })), 426);
    const parsed = parseResponseHead(Buffer.from(split(buildRefusalResponse(error.status, error.headers, error.message)).head, 'latin1'));
    assert.deepEqual(parsed.rawHeaders.filter(([name]) => name === 'sec-websocket-version'), [['sec-websocket-version', '13']]);
  });

  test('does not add Upgrade or Sec-WebSocket-Version to other statuses', () => {
    const { head } = split(buildRefusalResponse(400, {}, 'bad'));
    assert.doesNotMatch(head, /Upgrade/i);
    assert.doesNotMatch(head, /Sec-WebSocket-Version/i);
  });

  test('includes the caller headers, repeating array values', () => {
    const parsed = parseResponseHead(
      Buffer.from(split(buildRefusalResponse(401, { 'WWW-Authenticate': 'Bearer', 'X-Reason': ['a', 'b'] }, 'who?')).head, 'latin1'),
    );
    assert.equal(parsed.headers['www-authenticate'], 'Bearer');
    assert.equal(parsed.headers['x-reason'], 'a, b');
  });

  test('keeps Connection: close and the real Content-Length over caller headers of the same name', () => {
    const { head, body } = split(buildRefusalResponse(400, { Connection: 'keep-alive', 'Content-Length': '999' }, 'abc'));
    const parsed = parseResponseHead(Buffer.from(head, 'latin1'));
    assert.equal(parsed.headers['connection'], 'close');
    assert.equal(parsed.headers['content-length'], '3');
    assert.equal(body.toString(), 'abc');
  });

  test(
    'sends exactly one Connection and one Content-Length even when the caller passes them in lower case',
    () => {
      const { head } = split(buildRefusalResponse(400, { connection: 'keep-alive', 'content-length': '0' }, 'abc'));
      const parsed = parseResponseHead(Buffer.from(head, 'latin1'));
      assert.equal(parsed.headers['connection'], 'close');
      assert.equal(parsed.headers['content-length'], '3');
    },
  );

  const injections: Array<[string, Record<string, string | readonly string[]>]> = [
    ['a value with CR LF', { 'X-Reason': 'nope\r\nSet-Cookie: evil=1' }],
    ['a value with a bare LF', { 'X-Reason': 'nope\nX: 1' }],
    ['a value with NUL', { 'X-Reason': 'a\x00' }],
    ['an array element with CR LF', { 'X-Reason': ['ok', '\r\nX: 1'] }],
    ['a name with CR LF', { 'X-Reason\r\nSet-Cookie': 'evil=1' }],
    ['a name with a space', { 'X Reason': 'v' }],
  ];
  for (const [what, headers] of injections) {
    test(`throws a TypeError for a header injection via ${what}`, () => {
      assert.throws(() => buildRefusalResponse(400, headers, 'body'), TypeError);
    });
  }

  test('throws a RangeError for a status outside 100-599', () => {
    assert.throws(() => buildRefusalResponse(600), RangeError);
    assert.throws(() => buildRefusalResponse(42), RangeError);
  });
});

// ---------------------------------------------------------------------------------------------
// Property-style: random input never escapes as anything but a HandshakeError 400/426/431.


const INTERESTING = Buffer.from(' :\r\n\t,;=/?"\x00\x7f\x80\xffGETHTPwebsocketUpgradeConnection13');

function randomByte(rng: () => number): number {
  return rng() < 0.5 ? INTERESTING[Math.floor(rng() * INTERESTING.length)]! : Math.floor(rng() * 256);
}

function mutate(rng: () => number, input: Buffer): Buffer {
  const out = [...input];
  const steps = 1 + Math.floor(rng() * 4);
  for (let s = 0; s < steps; s++) {
    const at = Math.floor(rng() * (out.length + 1));
    switch (Math.floor(rng() * 7)) {
      case 0: // replace a byte
        if (out.length > 0) out[Math.min(at, out.length - 1)] = randomByte(rng);
        break;
      case 1: // insert a byte
        out.splice(at, 0, randomByte(rng));
        break;
      case 2: // delete a run
        out.splice(at, 1 + Math.floor(rng() * 8));
        break;
      case 3: // truncate
        out.length = at;
        break;
      case 4: // flip the case of a letter
        if (out.length > 0) out[Math.min(at, out.length - 1)]! ^= 0x20;
        break;
      case 5: { // duplicate a run
        const len = 1 + Math.floor(rng() * 30);
        out.splice(at, 0, ...out.slice(at, at + len));
        break;
      }
      default: { // swap two lines
        const text = Buffer.from(out).toString('latin1').split('\r\n');
        const i = Math.floor(rng() * text.length);
        const j = Math.floor(rng() * text.length);
        [text[i], text[j]] = [text[j]!, text[i]!];
        out.splice(0, out.length, ...Buffer.from(text.join('\r\n'), 'latin1'));
      }
    }
  }
  return Buffer.from(out);
}

function checkOutcome(input: Buffer, stats: { accepted: number; refused: Map<number, number> }): void {
  try {
    const head = parseRequestHead(input);
    const offer = validateUpgradeRequest(head);
    // Whatever is accepted must also be usable downstream without throwing.
    toUpgradeRequest(head, offer.protocols, { address: '127.0.0.1', port: 1, secure: false });
    parseCookies(head.headers['cookie']);
    buildAcceptResponse(offer.key);
    stats.accepted++;
  } catch (error) {
    if (!(error instanceof HandshakeError) || ![400, 426, 431].includes(error.status)) {
      assert.fail(`unexpected ${String(error)} for input ${JSON.stringify(input.toString('latin1'))}`);
    }
    stats.refused.set(error.status, (stats.refused.get(error.status) ?? 0) + 1);
  }
}

describe('parseRequestHead + validateUpgradeRequest on random input', () => {
  const valid = bytes([...VALID_LINES, 'Cookie: a=1; b="x%20y"', 'Sec-WebSocket-Extensions: permessage-deflate']);

  test('random bytes either pass or are refused with a HandshakeError 400/426/431', () => {
    const rng = mulberry32(0x5eed);
    const stats = { accepted: 0, refused: new Map<number, number>() };
    for (let i = 0; i < 2000; i++) {
      const length = Math.floor(rng() * 300);
      const input = Buffer.alloc(length);
      for (let j = 0; j < length; j++) input[j] = randomByte(rng);
      checkOutcome(input, stats);
      const end = findHeadEnd(input);
      if (end !== -1) checkOutcome(input.subarray(0, end), stats);
    }
    assert.ok((stats.refused.get(400) ?? 0) > 0);
  });

  test('random mutations of a valid request either pass or are refused with a HandshakeError 400/426/431', () => {
    checkOutcome(valid, { accepted: 0, refused: new Map() });
    for (const seed of [1, 2, 3]) {
      const rng = mulberry32(seed);
      const stats = { accepted: 0, refused: new Map<number, number>() };
      for (let i = 0; i < 1500; i++) checkOutcome(mutate(rng, valid), stats);
      // The mutations are mild enough that some survive and some are refused.
      assert.ok(stats.accepted > 0, `seed ${seed}: nothing accepted`);
      assert.ok((stats.refused.get(400) ?? 0) > 0, `seed ${seed}: nothing refused`);
    }
  });
});
