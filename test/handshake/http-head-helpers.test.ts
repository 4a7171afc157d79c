import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { throwsHandshake } from '../support/handshake-asserts.js';
import {
  FRAMING_HEADERS,
  headerLines,
  linesIfRepeated,
  listHasToken,
  mergeHeaders,
  parseRequestHead,
  parseResponseHead,
  requestHeadOf,
  serializeResponse,
} from '../../src/handshake/http-head.js';
import { head } from '../support/http-heads.js';

/**
 * What http-head.test.ts left open (found by mutation testing): the response header parser's own
 * whitespace stripping, which error a bad request line gets, the fast path of listHasToken, and the
 * helpers the server uses to build responses and to read a request Node already parsed.
 */

describe('parseResponseHead header values', () => {
  test('takes a value straight after the colon whole, and strips spaces and tabs on either side only', () => {
    const parsed = parseResponseHead(head('HTTP/1.1 101 Switching Protocols', 'Upgrade:websocket', 'X-Lead:\t \tv', 'X-Trail:v \t ', 'X-Both: \ta \t b\t ', 'X-Blank: \t '));
    assert.deepEqual({ ...parsed.headers }, { upgrade: 'websocket', 'x-lead': 'v', 'x-trail': 'v', 'x-both': 'a \t b', 'x-blank': '' });
    assert.deepEqual(parsed.rawHeaders[0], ['upgrade', 'websocket']);
  });

  test('joins repeated response cookies with "; " and other repeated headers with ", "', () => {
    const parsed = parseResponseHead(head('HTTP/1.1 101 X', 'Cookie: a=1', 'cookie: b=2', 'X-R: 1', 'x-r: 2'));
    assert.equal(parsed.headers['cookie'], 'a=1; b=2');
    assert.equal(parsed.headers['x-r'], '1, 2');
  });

  test('never ends a line at a bare CR: a value with one is refused, not cut into a second header', () => {
    const error = throwsHandshake(() => parseResponseHead(head('HTTP/1.1 101 X', 'Upgrade: websocket\rX-Injected: 1')), 0, /malformed HTTP response: invalid header value/);
    assert.ok(error.cause instanceof Error);
  });

  for (const statusLine of ['XHTTP/1.1 101 Switching Protocols', 'HTTP/1x1 101 Switching Protocols', 'HTTP/1.1 101X']) {
    test(`rejects the status line ${JSON.stringify(statusLine)}`, () => {
      throwsHandshake(() => parseResponseHead(head(statusLine, 'Upgrade: websocket')), 0, /did not answer with HTTP/);
    });
  }
});

describe('parseRequestHead: what is wrong with a bad request line', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['GET /', 'two parts', /malformed request line/],
    ['GET / HTTP/1.1 x', 'four parts', /malformed request line/],
    ['G@T / HTTP/1.1', 'a method that is not a token', /invalid method/],
    ['GET / HTTP/1.x', 'a bad version', /invalid HTTP version/],
    ['GET / HTTP/11.1', 'a two-digit major version', /invalid HTTP version/],
    ['GET / XHTTP/1.1', 'a version with a prefix', /invalid HTTP version/],
    ['GET /a\x00b HTTP/1.1', 'a NUL in the target', /invalid request target/],
    ['GET /a\x7fb HTTP/1.1', 'a DEL in the target', /invalid request target/],
    ['GET /a\x1fb HTTP/1.1', 'a control character in the target', /invalid request target/],
    ['GET  HTTP/1.1', 'an empty target', /invalid request target/],
  ];
  for (const [line, what, message] of cases) {
    test(`${what}: ${String(message)}`, () => {
      throwsHandshake(() => parseRequestHead(head(line, 'Host: x')), 400, message);
    });
  }
});

describe('listHasToken with a value as long as the token', () => {
  test('does not find the token in another value of the same length', () => {
    assert.equal(listHasToken('upgradx', 'upgrade'), false);
    assert.equal(listHasToken('h2c, h3', 'upgrade'), false);
    assert.equal(listHasToken('UPGRADE', 'upgrade'), true);
  });
});

describe('mergeHeaders', () => {
  test('returns the target unchanged when there is nothing to merge', () => {
    const target = { A: '1' };
    assert.equal(mergeHeaders(target, undefined), target);
    assert.deepEqual(target, { A: '1' });
  });

  test('replaces an entry whose name differs only in case, keeping the new spelling, and adds the others', () => {
    const target = { 'Content-Type': 'text/plain', 'x-keep': 'k', 'x-low': 'old' };
    const merged = mergeHeaders(target, { 'content-type': 'text/html', 'X-LOW': 'new', 'X-New': ['a', 'b'] });
    assert.equal(merged, target);
    assert.deepEqual(merged, { 'x-keep': 'k', 'content-type': 'text/html', 'X-LOW': 'new', 'X-New': ['a', 'b'] });
  });

  test('leaves the reserved names alone, in whatever case the extra headers spell them', () => {
    const merged = mergeHeaders({ Connection: 'close', 'Content-Length': 5 }, { CONNECTION: 'keep-alive', 'content-length': 0, 'Transfer-Encoding': 'chunked', 'X-A': 'a' }, FRAMING_HEADERS);
    assert.deepEqual(merged, { Connection: 'close', 'Content-Length': 5, 'X-A': 'a' });
    assert.deepEqual([...FRAMING_HEADERS].sort(), ['connection', 'content-length', 'transfer-encoding']);
  });
});

describe('headerLines / serializeResponse', () => {
  test('writes "name: value" and CRLF per item, numbers as text', () => {
    assert.equal(headerLines('X-A', 'v'), 'X-A: v\r\n');
    assert.equal(headerLines('X-N', 7), 'X-N: 7\r\n');
    assert.equal(headerLines('X-L', ['1', '2']), 'X-L: 1\r\nX-L: 2\r\n');
    assert.equal(headerLines('X-E', []), '');
  });

  test('accepts the statuses 100 and 599, the ends of the range', () => {
    assert.equal(serializeResponse(100, {}).toString('latin1'), 'HTTP/1.1 100 Continue\r\n\r\n');
    assert.equal(serializeResponse(599, {}).toString('latin1'), 'HTTP/1.1 599 \r\n\r\n');
  });

  test('writes a string body as UTF-8, and a head alone when the body is empty', () => {
    const bytes = serializeResponse(200, {}, 'é€');
    assert.deepEqual(bytes.subarray(bytes.length - 5), Buffer.from('é€', 'utf8'));
    assert.equal(serializeResponse(204, {}, Buffer.alloc(0)).toString('latin1'), 'HTTP/1.1 204 No Content\r\n\r\n');
  });
});

describe('requestHeadOf (a request Node already parsed)', () => {
  test('reads every raw header pair, lower-casing names, joining repeats and spotting a second Host', () => {
    const parsed = requestHeadOf({ method: 'GET', url: '/chat?a=1', httpVersion: '1.1', rawHeaders: ['Host', 'a', 'Cookie', 'x=1', 'HOST', 'b', 'cookie', 'y=2'] });
    assert.equal(parsed.method, 'GET');
    assert.equal(parsed.target, '/chat?a=1');
    assert.equal(parsed.version, 'HTTP/1.1');
    assert.deepEqual({ ...parsed.headers }, { host: 'a, b', cookie: 'x=1; y=2' });
    assert.deepEqual(parsed.rawHeaders, [['host', 'a'], ['cookie', 'x=1'], ['host', 'b'], ['cookie', 'y=2']]);
    assert.equal(parsed.duplicateHost, true);
  });

  test('duplicateHost stays false with one Host, and with none', () => {
    const one = requestHeadOf({ method: 'POST', url: '/', httpVersion: '1.0', rawHeaders: ['X-Host', 'a', 'Cookie', 'x', 'Host', 'b', 'cookie', 'y', 'Hosts', 'c'] });
    assert.equal(one.duplicateHost, false);
    assert.equal(one.method, 'POST');
    const bare = requestHeadOf({ httpVersion: '1.0', rawHeaders: [] });
    assert.deepEqual({ method: bare.method, target: bare.target, version: bare.version, duplicateHost: bare.duplicateHost }, { method: 'GET', target: '/', version: 'HTTP/1.0', duplicateHost: false });
    assert.deepEqual(bare.rawHeaders, []);
  });
});

test('linesIfRepeated: the lines when a name repeats, else undefined (the headers are the lines)', () => {
  const once = { host: 'a', upgrade: 'websocket' };
  assert.equal(linesIfRepeated(once, [['host', 'a'], ['upgrade', 'websocket']]), undefined);
  const lines: Array<[string, string]> = [['set-cookie', 'a=1'], ['host', 'a'], ['set-cookie', 'b=2']];
  assert.equal(linesIfRepeated({ 'set-cookie': 'a=1, b=2', host: 'a' }, lines), lines);
  assert.equal(linesIfRepeated(Object.assign(Object.create(null) as Record<string, string>, once), [['host', 'a'], ['upgrade', 'websocket']]), undefined, 'a header object without a prototype');
});
