import { execFile } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { throwsHandshake } from '../support/handshake-asserts.js';
import { strict as assert } from 'node:assert';
import { HandshakeError } from '../../src/errors.js';
import {
  findHeadEnd,
  findResponseHeadEnd,
  isSafeHeaderValue,
  isToken,
  listHasToken,
  parseHeaderText,
  parseRequestHead,
  requestTarget,
  parseResponseHead,
  serializeResponse,
  splitList,
  STATUS_TEXT,
} from '../../src/handshake/http-head.js';
import { head } from '../support/http-heads.js';

/** A request head with this request line and header lines. */
function request(requestLine: string, ...headerLines: string[]): Buffer {
  return head(requestLine, ...headerLines);
}

describe('isToken / isSafeHeaderValue', () => {
  test('accepts every RFC 9110 tchar and rejects separators, spaces, controls and non-ASCII', () => {
    assert.ok(isToken("!#$%&'*+-.^_`|~09AZaz"));
    for (const bad of ['', ' ', 'a b', 'a:b', 'a,b', 'a;b', 'a/b', '"a"', '(a)', 'a=b', 'a\tb', 'a\x00', 'a\x7f', 'é', '[a]', '{a}', '@', '?', '\\']) {
      assert.equal(isToken(bad), false, JSON.stringify(bad));
    }
  });

  test('allows visible text, spaces, tabs and obs-text in values but never CR, LF, NUL or other controls', () => {
    for (const good of ['', 'plain', 'a b\tc', '\x80\xff', '"quoted", list; with=params']) {
      assert.ok(isSafeHeaderValue(good), JSON.stringify(good));
    }
    for (const bad of ['\r', '\n', '\x00', 'a\r\nX-Injected: 1', 'a\nb', 'a\rb', 'a\x00b', '\x01', '\x1f', '\x7f', '\u0100', '€']) {
      assert.equal(isSafeHeaderValue(bad), false, JSON.stringify(bad));
    }
  });
});

describe('findHeadEnd', () => {
  const full = request('GET /chat HTTP/1.1', 'Host: example.com', 'Upgrade: websocket');
  const withBody = Buffer.concat([full, Buffer.from('\x81\x85frame bytes\r\n\r\n')]);

  test('returns -1 while the blank line has not arrived', () => {
    assert.equal(findHeadEnd(Buffer.alloc(0)), -1);
    assert.equal(findHeadEnd(full.subarray(0, full.length - 1)), -1);
    assert.equal(findHeadEnd(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n')), -1);
  });

  test('returns the index just past CRLF CRLF, leaving the bytes after the head alone', () => {
    assert.equal(findHeadEnd(full), full.length);
    assert.equal(findHeadEnd(withBody), full.length);
    assert.equal(findHeadEnd(Buffer.from('\r\n\r\n')), 4);
  });

  test('does not take a bare LF LF as the end of the head', () => {
    assert.equal(findHeadEnd(Buffer.from('GET / HTTP/1.1\nHost: x\n\n')), -1);
  });

  test('finds the end when the head is split in two at every byte and searched from the old length', () => {
    for (let cut = 0; cut <= withBody.length; cut++) {
      let buffered = Buffer.from(withBody.subarray(0, cut));
      let end = findHeadEnd(buffered);
      if (end === -1) {
        const searched = buffered.length;
        buffered = Buffer.concat([buffered, withBody.subarray(cut)]);
        end = findHeadEnd(buffered, searched);
      }
      assert.equal(end, full.length, `cut at ${cut}`);
    }
  });

  test('finds the end when the head arrives one byte at a time', () => {
    let buffered = Buffer.alloc(0);
    let end = -1;
    let pushes = 0;
    for (const byte of withBody) {
      const searched = buffered.length;
      buffered = Buffer.concat([buffered, Buffer.from([byte])]);
      pushes++;
      end = findHeadEnd(buffered, searched);
      if (end !== -1) break;
    }
    assert.equal(end, full.length);
    assert.equal(pushes, full.length, 'found as soon as its last byte arrived');
  });

  test('finds the end for every from short of the full head (a CRLF CRLF straddling the old and new bytes)', () => {
    const buffer = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    for (let from = 0; from < buffer.length; from++) {
      assert.equal(findHeadEnd(buffer, from), buffer.length, `from ${from}`);
    }
  });
});

describe('parseRequestHead', () => {
  test('parses the request line and lower-cases header names', () => {
    const parsed = parseRequestHead(
      request('GET /chat?room=1 HTTP/1.1', 'Host: server.example.com', 'UPGRADE: websocket', 'sec-WebSocket-KEY: dGhlIHNhbXBsZSBub25jZQ=='),
    );
    assert.equal(parsed.method, 'GET');
    assert.equal(parsed.target, '/chat?room=1');
    assert.equal(parsed.version, 'HTTP/1.1');
    assert.deepEqual({ ...parsed.headers }, {
      host: 'server.example.com',
      upgrade: 'websocket',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
    });
  });

  test('strips spaces and tabs around values and keeps inner whitespace', () => {
    const parsed = parseRequestHead(request('GET / HTTP/1.1', 'X-A:value', 'X-B: \t spaced  out \t ', 'X-Empty:', 'X-Blank:   '));
    assert.equal(parsed.headers['x-a'], 'value');
    assert.equal(parsed.headers['x-b'], 'spaced  out');
    assert.equal(parsed.headers['x-empty'], '');
    assert.equal(parsed.headers['x-blank'], '');
  });

  test('a value with a long run of inner spaces is trimmed in time linear in its size, by every parser', async () => {
    // 1 MiB of spaces inside a value. Scanned from both ends it takes milliseconds; a backtracking
    // /[ \t]+$/ (the old trim) took 0.3 s for 16 KiB and would take some twenty minutes here: a
    // peer could stall the event loop with one malformed head. Run in a child process, killed
    // after 60 s, so that a regression fails instead of hanging. Three parsers: a well-formed
    // request head, one with a malformed line after the value (the line-by-line parser, 400), and a response.
    const module = fileURLToPath(new URL('../../src/handshake/http-head.js', import.meta.url));
    const script = `
      const { parseRequestHead, parseResponseHead } = await import(${JSON.stringify(module)});
      const value = 'a' + ' '.repeat(1 << 20) + 'b';
      const head = (...lines) => Buffer.from(lines.map((line) => line + '\\r\\n').join('') + '\\r\\n', 'latin1');
      const fast = parseRequestHead(head('GET / HTTP/1.1', 'X-Wide: ' + value + ' \\t')).headers['x-wide'];
      let refused = 0;
      try { parseRequestHead(head('GET / HTTP/1.1', 'X-Wide: ' + value + ' ', 'no colon')); } catch (error) { refused = error.status; }
      const response = parseResponseHead(head('HTTP/1.1 101 Switching Protocols', 'X-Wide:\\t' + value + ' ')).headers['x-wide'];
      console.log(JSON.stringify([fast === value, refused, response === value]));
    `;
    const output = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 60_000 }, (error, stdout) => (error ? reject(error) : resolve(stdout)));
    });
    assert.deepEqual(JSON.parse(output), [true, 400, true]);
  });

  test('cuts a value at the line end only: colons after the first stay in it, tabs around it go', () => {
    const parsed = parseRequestHead(request('GET / HTTP/1.1', 'X-Url:\thttp://a.example:8080/b?c=d:e\t', 'X-Colon::', 'X-Inner: a \t b'));
    assert.equal(parsed.headers['x-url'], 'http://a.example:8080/b?c=d:e');
    assert.equal(parsed.headers['x-colon'], ':');
    assert.equal(parsed.headers['x-inner'], 'a \t b');
    assert.deepEqual(parsed.rawHeaders[0], ['x-url', 'http://a.example:8080/b?c=d:e']);
  });

  test('duplicateHost is set by a second Host line only', () => {
    assert.equal(parseRequestHead(request('GET / HTTP/1.1', 'Host: a', 'X-Host: b', 'Hosts: c')).duplicateHost, false);
    assert.equal(parseRequestHead(request('GET / HTTP/1.1', 'Host: a', 'HOST: b')).duplicateHost, true);
    assert.equal(parseRequestHead(request('GET / HTTP/1.1', 'X: 1', 'host: a', 'host: a')).headers['host'], 'a, a');
  });

  test('requestTarget gives the target parseRequestHead gave for the same head, an absolute one in origin form', () => {
    for (const target of ['/', '/echo', '/chat?room=1&x=%20y', '*']) {
      const parsed = parseRequestHead(request(`GET ${target} HTTP/1.1`, 'Host: x'));
      assert.equal(requestTarget(parsed.text!), parsed.target);
    }
    // (The upgrade was routed by that path and query: a connection's url says the same.)
    assert.equal(requestTarget(parseRequestHead(request('GET http://example.com:80/a?b HTTP/1.1', 'Host: x')).text!), '/a?b');
  });

  test('parseHeaderText gives the headers parseRequestHead gave for the same head', () => {
    const parsed = parseRequestHead(request('GET / HTTP/1.1', 'Host: x', 'Cookie: a=1', 'X-B: \t y ', 'cookie: b=2', 'Accept: 1', 'ACCEPT: 2'));
    assert.deepEqual({ ...parseHeaderText(parsed.text!) }, { ...parsed.headers });
  });

  test('joins repeated headers with ", " and cookies with "; "', () => {
    const parsed = parseRequestHead(
      request('GET / HTTP/1.1', 'Accept: a', 'Cookie: a=1', 'accept: b', 'COOKIE: b=2', 'Accept: c', 'Cookie: c=3'),
    );
    assert.equal(parsed.headers['accept'], 'a, b, c');
    assert.equal(parsed.headers['cookie'], 'a=1; b=2; c=3');
  });

  test('keeps rawHeaders in order, lower-cased, with repeated names apart', () => {
    const parsed = parseRequestHead(request('GET / HTTP/1.1', 'Host: x', 'X-Rep: 1', 'Cookie: a=1', 'x-rep: 2', 'Cookie: b=2'));
    assert.deepEqual(parsed.rawHeaders, [
      ['host', 'x'],
      ['x-rep', '1'],
      ['cookie', 'a=1'],
      ['x-rep', '2'],
      ['cookie', 'b=2'],
    ]);
  });

  test('stores headers named like Object.prototype members as plain entries', () => {
    const parsed = parseRequestHead(request('GET / HTTP/1.1', '__proto__: p', 'Constructor: c'));
    assert.equal(parsed.headers['__proto__'], 'p');
    assert.equal(parsed.headers['constructor'], 'c');
    assert.equal(parseRequestHead(request('GET / HTTP/1.1')).headers['tostring'], undefined);
    assert.equal(parseRequestHead(request('GET / HTTP/1.1')).headers['constructor'], undefined);
    assert.equal(({} as Record<string, unknown>)['p'], undefined);
  });

  test('accepts obs-text (bytes 0x80-0xFF) in values', () => {
    const parsed = parseRequestHead(Buffer.concat([Buffer.from('GET / HTTP/1.1\r\nX-Latin: caf'), Buffer.from([0xe9]), Buffer.from('\r\n\r\n')]));
    assert.equal(parsed.headers['x-latin'], 'caf\xe9');
  });

  test('rejects obsolete line folding (a line starting with a space or a tab) with 400', () => {
    throwsHandshake(() => parseRequestHead(request('GET / HTTP/1.1', 'X-Folded: a', ' b')), 400, /fold/);
    throwsHandshake(() => parseRequestHead(request('GET / HTTP/1.1', 'X-Folded: a', '\tb')), 400, /fold/);
    throwsHandshake(() => parseRequestHead(request('GET / HTTP/1.1', ' Host: x')), 400);
  });

  for (const line of ['Bad Name: x', 'Host : x', 'X(y): z', 'X/Y: z', 'X"Y": z', 'Ä: x', 'X\x00: y', '\x7fX: y', 'X\tY: z']) {
    test(`rejects the header name in ${JSON.stringify(line)} with 400`, () => {
      throwsHandshake(() => parseRequestHead(request('GET / HTTP/1.1', line)), 400);
    });
  }

  for (const line of ['NoColonHere', ': no name']) {
    test(`rejects the malformed header line ${JSON.stringify(line)} with 400`, () => {
      throwsHandshake(() => parseRequestHead(request('GET / HTTP/1.1', line)), 400, /malformed header line/);
    });
  }

  const badValues: Array<[string, string]> = [
    ['a bare CR inside', 'X: a\rb'],
    ['a bare LF inside', 'X: a\nb'],
    ['a NUL inside', 'X: a\x00b'],
    ['a NUL at the start', 'X: \x00ab'],
    ['a NUL at the end', 'X: ab\x00'],
    ['a line injected with a bare LF', 'X: a\nInjected: yes'],
    ['another control character (0x01)', 'X: a\x01b'],
    ['DEL', 'X: a\x7fb'],
  ];
  for (const [what, line] of badValues) {
    test(`rejects a header value with ${what} with 400`, () => {
      throwsHandshake(() => parseRequestHead(request('GET / HTTP/1.1', 'Host: x', line)), 400, /invalid header value/);
    });
  }

  const edgeValues: Array<[string, string]> = [
    ['a bare CR at the end', 'X: ab\r'],
    ['a bare CR at the start', 'X: \rab'],
    ['a bare LF at the end', 'X: ab\n'],
    ['a vertical tab at the end', 'X: ab\x0b'],
  ];
  for (const [what, line] of edgeValues) {
    test(`rejects a header value with ${what} with 400`, () => {
      throwsHandshake(() => parseRequestHead(request('GET / HTTP/1.1', 'Host: x', line)), 400, /invalid header value/);
    });
  }

  const badRequestLines: Array<[string, string]> = [
    ['an empty request line', ''],
    ['two parts', 'GET /'],
    ['four parts', 'GET / HTTP/1.1 extra'],
    ['a trailing space', 'GET / HTTP/1.1 '],
    ['a leading space', ' GET / HTTP/1.1'],
    ['a double space', 'GET  / HTTP/1.1'],
    ['tabs as separators', 'GET\t/\tHTTP/1.1'],
    ['an empty target', 'GET  HTTP/1.1'],
    ['a method that is not a token', 'G@T / HTTP/1.1'],
    ['a NUL in the target', 'GET /a\x00b HTTP/1.1'],
    ['a DEL in the target', 'GET /a\x7fb HTTP/1.1'],
    ['a control character in the target', 'GET /a\x01b HTTP/1.1'],
  ];
  for (const [what, line] of badRequestLines) {
    test(`rejects a request line with ${what} with 400`, () => {
      throwsHandshake(() => parseRequestHead(request(line, 'Host: x')), 400);
    });
  }

  test('rejects a request with bare LF line endings with 400', () => {
    throwsHandshake(() => parseRequestHead(Buffer.from('GET / HTTP/1.1\nHost: x\n\n')), 400);
  });

  test('rejects an empty buffer with 400', () => {
    throwsHandshake(() => parseRequestHead(Buffer.alloc(0)), 400, /request line/);
  });

  for (const version of ['HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/0.9']) {
    test(`parses the version ${version} as sent`, () => {
      assert.equal(parseRequestHead(request(`GET / ${version}`, 'Host: x')).version, version);
    });
  }

  for (const version of ['http/1.1', 'HTTP/1', 'HTTP/11', 'HTTP/1.10', 'HTTP/1.1.1', 'HTTPS/1.1', 'HTTP/a.b', 'HTTP/1,1', 'HTTP/']) {
    test(`rejects the HTTP version ${JSON.stringify(version)} with 400`, () => {
      throwsHandshake(() => parseRequestHead(request(`GET / ${version}`, 'Host: x')), 400, /HTTP version/);
    });
  }

  test('keeps the method case as sent (methods are case-sensitive)', () => {
    assert.equal(parseRequestHead(request('get / HTTP/1.1')).method, 'get');
  });

  test('accepts an absolute-form and an asterisk-form target verbatim', () => {
    assert.equal(parseRequestHead(request('GET http://x/chat?a=1 HTTP/1.1')).target, 'http://x/chat?a=1');
    assert.equal(parseRequestHead(request('OPTIONS * HTTP/1.1')).target, '*');
  });
});

describe('findResponseHeadEnd (RFC 9112 §2.2: a bare LF ends a line of a response)', () => {
  test('ends at CRLF CRLF, LF LF, or LF CRLF; never at a CR alone; leaves what follows alone', () => {
    const cases: Array<[string, number]> = [
      ['HTTP/1.1 101 X\r\nA: b\r\n\r\nrest', 'HTTP/1.1 101 X\r\nA: b\r\n\r\n'.length],
      ['HTTP/1.1 101 X\nA: b\n\nrest', 'HTTP/1.1 101 X\nA: b\n\n'.length],
      ['HTTP/1.1 101 X\nA: b\n\r\n', 'HTTP/1.1 101 X\nA: b\n\r\n'.length],
      ['HTTP/1.1 101 X\r\nA: b\r\n', -1],
      ['HTTP/1.1 101 X\r\nA: b\r\r', -1],
      ['HTTP/1.1 101 X\r\nA: b\r\n\r', -1],
    ];
    for (const [text, end] of cases) assert.equal(findResponseHeadEnd(Buffer.from(text, 'latin1')), end, JSON.stringify(text));
  });
});

describe('parseResponseHead', () => {
  test('takes bare LF line ends as CRLF ones (RFC 9112 §2.2), and still refuses a bare CR in a value', () => {
    const parsed = parseResponseHead(Buffer.from('HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\r\nConnection: Upgrade\n\n', 'latin1'));
    assert.equal(parsed.status, 101);
    assert.deepEqual({ ...parsed.headers }, { upgrade: 'websocket', connection: 'Upgrade' });
    assert.throws(() => parseResponseHead(Buffer.from('HTTP/1.1 101 X\nA: b\rc\n\n', 'latin1')), HandshakeError);
  });

  test('parses status line and headers of a 101', () => {
    const parsed = parseResponseHead(
      head('HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'CONNECTION: Upgrade', 'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo='),
    );
    assert.equal(parsed.version, 'HTTP/1.1');
    assert.equal(parsed.status, 101);
    assert.equal(parsed.statusText, 'Switching Protocols');
    assert.deepEqual({ ...parsed.headers }, {
      upgrade: 'websocket',
      connection: 'Upgrade',
      'sec-websocket-accept': 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
    });
    assert.deepEqual(parsed.rawHeaders, [
      ['upgrade', 'websocket'],
      ['connection', 'Upgrade'],
      ['sec-websocket-accept', 's3pPLMBiTxaQ9kYGzzhZRbK+xOo='],
    ]);
  });

  test('accepts a status line without a reason phrase, and an empty one', () => {
    const bare = parseResponseHead(head('HTTP/1.1 404'));
    assert.equal(bare.status, 404);
    assert.equal(bare.statusText, '');
    assert.equal(parseResponseHead(head('HTTP/1.1 204 ')).statusText, '');
  });

  test('keeps a reason phrase with spaces', () => {
    assert.equal(parseResponseHead(head('HTTP/1.0 503 Service   Unavailable now')).statusText, 'Service   Unavailable now');
    assert.equal(parseResponseHead(head('HTTP/1.0 503 x')).version, 'HTTP/1.0');
  });

  test('joins repeated response headers and keeps Set-Cookie lines apart in rawHeaders', () => {
    const parsed = parseResponseHead(head('HTTP/1.1 200 OK', 'Set-Cookie: a=1', 'Vary: x', 'Set-Cookie: b=2', 'vary: y'));
    assert.equal(parsed.headers['vary'], 'x, y');
    assert.deepEqual(parsed.rawHeaders.filter(([name]) => name === 'set-cookie'), [['set-cookie', 'a=1'], ['set-cookie', 'b=2']]);
  });

  for (const statusLine of ['', 'SSH-2.0-OpenSSH_9.6', 'HTTP/1.1', 'HTTP/1.1 1010 X', 'HTTP/1.1 10 X', 'HTTP/1.1 abc OK', 'HTTP/1.1  101 X', 'http/1.1 101 X', 'HTTP/11 101 X', '<html>']) {
    test(`rejects the status line ${JSON.stringify(statusLine)} with a status-0 HandshakeError`, () => {
      throwsHandshake(() => parseResponseHead(head(statusLine, 'Upgrade: websocket')), 0, /did not answer with HTTP/);
    });
  }

  for (const line of [' folded', 'Bad Name: x', 'NoColon', 'X: a\x00b', 'X: a\nb']) {
    test(`rejects the header line ${JSON.stringify(line)} with a status-0 HandshakeError caused by the parse error`, () => {
      const error = throwsHandshake(() => parseResponseHead(head('HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', line)), 0, /malformed HTTP response/);
      assert.ok(error.cause instanceof HandshakeError);
    });
  }
});

describe('splitList / listHasToken', () => {
  test('splitList trims elements and drops empty ones', () => {
    assert.deepEqual(splitList(undefined), []);
    assert.deepEqual(splitList(''), []);
    assert.deepEqual(splitList(' ,, ,\t'), []);
    assert.deepEqual(splitList('a'), ['a']);
    assert.deepEqual(splitList('a,b'), ['a', 'b']);
    assert.deepEqual(splitList('  a ,\t b\t, ,, c  '), ['a', 'b', 'c']);
    assert.deepEqual(splitList('keep-alive, Upgrade'), ['keep-alive', 'Upgrade']);
  });

  const yes: Array<[string, string]> = [
    ['keep-alive, Upgrade', 'upgrade'],
    ['upgrade', 'upgrade'],
    ['UPGRADE', 'upgrade'],
    ['Upgrade', 'UPGRADE'],
    ['  \tUpgrade \t ', 'upgrade'],
    ['keep-alive,upgrade', 'upgrade'],
    ['upgrade ,keep-alive', 'upgrade'],
    [',, keep-alive ,,\tUpGrAdE,,', 'upgrade'],
    ['WebSocket', 'websocket'],
    ['h2c, websocket', 'websocket'],
  ];
  for (const [value, token] of yes) {
    test(`listHasToken finds ${token} in ${JSON.stringify(value)}`, () => {
      assert.equal(listHasToken(value, token), true);
    });
  }

  const no: Array<[string | undefined, string]> = [
    [undefined, 'upgrade'],
    ['', 'upgrade'],
    ['keep-alive', 'upgrade'],
    ['upgrades', 'upgrade'],
    ['keep-alive upgrade', 'upgrade'],
    ['Upgrade-Insecure-Requests', 'upgrade'],
    ['websocket2', 'websocket'],
    ['web socket', 'websocket'],
    ['"websocket"', 'websocket'],
  ];
  for (const [value, token] of no) {
    test(`listHasToken does not find ${token} in ${JSON.stringify(value)}`, () => {
      assert.equal(listHasToken(value, token), false);
    });
  }
});

describe('serializeResponse', () => {
  test('writes the status line with the standard reason phrase, each header, the blank line and the body', () => {
    const bytes = serializeResponse(404, { 'Content-Type': 'text/plain', 'Content-Length': 5 }, 'nope!');
    assert.equal(bytes.toString('latin1'), 'HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nnope!');
  });

  test('every registered status has its phrase (451, 422, 511...); one without (418, 599) gets an empty phrase, not a made-up one', () => {
    for (const [status, phrase] of [[402, 'Payment Required'], [422, 'Unprocessable Content'], [451, 'Unavailable For Legal Reasons'], [511, 'Network Authentication Required']] as const) {
      assert.equal(serializeResponse(status, {}).toString('latin1'), `HTTP/1.1 ${status} ${phrase}\r\n\r\n`);
    }
    assert.equal(STATUS_TEXT[418], undefined);
    assert.equal(serializeResponse(418, {}).toString('latin1'), 'HTTP/1.1 418 \r\n\r\n');
    assert.equal(serializeResponse(599, {}).toString('latin1'), 'HTTP/1.1 599 \r\n\r\n');
  });

  test('sends an array value as one header line per element', () => {
    const text = serializeResponse(200, { 'Set-Cookie': ['a=1', 'b=2'] }).toString('latin1');
    assert.equal(text, 'HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n');
  });

  test('writes a Buffer body verbatim', () => {
    const body = Buffer.from([0, 1, 2, 255]);
    const bytes = serializeResponse(200, {}, body);
    assert.deepEqual(bytes.subarray(bytes.length - 4), body);
  });

  for (const status of [99, 600, 1.5, Number.NaN, -200]) {
    test(`throws a RangeError for the status ${status}`, () => {
      assert.throws(() => serializeResponse(status, {}), RangeError);
    });
  }

  for (const name of ['', 'Bad Name', 'X:Y', 'X\r\nY', 'Ä']) {
    test(`throws a TypeError for the header name ${JSON.stringify(name)}`, () => {
      assert.throws(() => serializeResponse(200, { [name]: 'v' }), TypeError);
    });
  }

  for (const value of ['a\r\nX-Injected: 1', 'a\nb', 'a\rb', 'a\x00b', '€', ['ok', 'bad\r\n']]) {
    test(`throws a TypeError for the header value ${JSON.stringify(value)}`, () => {
      assert.throws(() => serializeResponse(200, { 'X-Value': value }), TypeError);
    });
  }

  test('produces a head that parseResponseHead reads back', () => {
    const bytes = serializeResponse(503, { 'Retry-After': 10, Vary: ['a', 'b'] }, 'busy');
    const end = findHeadEnd(bytes);
    assert.equal(bytes.subarray(end).toString(), 'busy');
    const parsed = parseResponseHead(bytes.subarray(0, end));
    assert.equal(parsed.status, 503);
    assert.equal(parsed.statusText, 'Service Unavailable');
    assert.equal(parsed.headers['retry-after'], '10');
    assert.equal(parsed.headers['vary'], 'a, b');
  });
});
