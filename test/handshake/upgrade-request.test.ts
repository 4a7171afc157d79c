import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { parseRequestHead } from '../../src/handshake/http-head.js';
import { head } from '../support/http-heads.js';
import { originForm, parseCookies, toUpgradeRequest } from '../../src/handshake/upgrade-request.js';

const REMOTE = { address: '203.0.113.7', port: 54321, secure: true };

describe('parseCookies', () => {
  test('returns no cookies for a missing or empty header', () => {
    assert.deepEqual({ ...parseCookies(undefined) }, {});
    assert.deepEqual({ ...parseCookies('') }, {});
    // An object like any other result (no prototype), not undefined, which a spread would hide.
    assert.deepEqual(parseCookies(undefined), Object.create(null));
    assert.deepEqual(parseCookies(''), Object.create(null));
  });

  test('splits name=value pairs on ";" and trims them', () => {
    assert.deepEqual({ ...parseCookies('a=1; b=2;c=3 ;  d = 4 ') }, { a: '1', b: '2', c: '3', d: '4' });
  });

  test('strips the double quotes of a quoted value', () => {
    assert.deepEqual({ ...parseCookies('a="hello world"; b=""; c="x') }, { a: 'hello world', b: '', c: '"x' });
    assert.deepEqual({ ...parseCookies('a="; b=2') }, { a: '"', b: '2' }, 'a lone double quote is a value, not an empty quoted one');
  });

  test('percent-decodes values, inside quotes too', () => {
    assert.deepEqual({ ...parseCookies('a=hello%20world; b="%E2%82%AC"; c=%3D%3B') }, { a: 'hello world', b: '€', c: '=;' });
  });

  test('keeps a value that is not valid percent-encoding as sent', () => {
    assert.deepEqual({ ...parseCookies('a=100%; b=%E0%A4%A; c=%ZZ') }, { a: '100%', b: '%E0%A4%A', c: '%ZZ' });
  });

  test('keeps the first occurrence of a name', () => {
    assert.deepEqual({ ...parseCookies('a=first; b=2; a=second') }, { a: 'first', b: '2' });
  });

  test('keeps "=" inside a value', () => {
    assert.deepEqual({ ...parseCookies('token=abc==; q=a=b') }, { token: 'abc==', q: 'a=b' });
  });

  test('ignores junk: pairs without "=", without a name, and empty pairs', () => {
    assert.deepEqual({ ...parseCookies('junk; =nameless; ;;  ; b=2; also junk') }, { b: '2' });
    assert.deepEqual({ ...parseCookies(';;;') }, {});
    assert.deepEqual({ ...parseCookies('   =x') }, {});
  });

  test('keeps an empty value', () => {
    assert.deepEqual({ ...parseCookies('a=; b=2') }, { a: '', b: '2' });
  });

  test('stores names like __proto__ and constructor as plain entries without touching Object.prototype', () => {
    const cookies = parseCookies('__proto__=evil; constructor=c; toString=t; hasOwnProperty=h');
    assert.equal(Object.getPrototypeOf(cookies), null);
    assert.equal(cookies['__proto__'], 'evil');
    assert.equal(cookies['constructor'], 'c');
    assert.equal(cookies['toString'], 't');
    assert.equal(({} as Record<string, unknown>)['evil'], undefined);
    assert.equal(typeof ({} as { toString: unknown }).toString, 'function');
    assert.equal(parseCookies('a=1')['constructor'], undefined);
  });

  test('reads cookies from two Cookie header lines joined by the parser', () => {
    const parsed = parseRequestHead(head('GET / HTTP/1.1', 'Cookie: a=1; b=2', 'Cookie: c=3; a=4'));
    assert.deepEqual({ ...parseCookies(parsed.headers['cookie']) }, { a: '1', b: '2', c: '3' });
  });
});

describe('toUpgradeRequest', () => {
  test('splits the target into path and query, and carries headers, cookies, origin, protocols and the remote end', () => {
    const parsed = parseRequestHead(
      head('GET /chat/room%201?room=1&name=a%20b&flag HTTP/1.1', 'Host: x', 'Origin: https://example.com', 'Cookie: session=abc; theme="dark"', 'X-Rep: 1', 'x-rep: 2'),
    );
    const request = toUpgradeRequest(parsed, ['chat'], REMOTE);
    assert.equal(request.method, 'GET');
    assert.equal(request.url, '/chat/room%201?room=1&name=a%20b&flag');
    assert.equal(request.path, '/chat/room%201', 'the path is left percent-encoded');
    assert.equal(request.query.get('room'), '1');
    assert.equal(request.query.get('name'), 'a b');
    assert.equal(request.query.get('flag'), '');
    assert.equal(request.origin, 'https://example.com');
    assert.deepEqual({ ...request.cookies }, { session: 'abc', theme: 'dark' });
    assert.deepEqual(request.protocols, ['chat']);
    assert.equal(request.headers['x-rep'], '1, 2');
    assert.deepEqual(request.rawHeaders, parsed.rawHeaders);
    assert.equal(request.remoteAddress, '203.0.113.7');
    assert.equal(request.remotePort, 54321);
    assert.equal(request.secure, true);
  });

  test('uses the whole target as path when there is no query', () => {
    const request = toUpgradeRequest(parseRequestHead(head('GET /plain HTTP/1.1', 'Host: x')), [], { ...REMOTE, secure: false });
    assert.equal(request.path, '/plain');
    assert.equal([...request.query].length, 0);
    assert.equal(request.secure, false);
  });

  test('splits at the first "?" and handles an empty query', () => {
    assert.equal(toUpgradeRequest(parseRequestHead(head('GET /p? HTTP/1.1')), [], REMOTE).path, '/p');
    assert.equal([...toUpgradeRequest(parseRequestHead(head('GET /p? HTTP/1.1')), [], REMOTE).query].length, 0);
    const twice = toUpgradeRequest(parseRequestHead(head('GET /p?a=1?b=2 HTTP/1.1')), [], REMOTE);
    assert.equal(twice.path, '/p');
    assert.equal(twice.query.get('a'), '1?b=2');
  });

  test('keeps a "?" that starts the query in the first name, as a URL\'s searchParams do', () => {
    const request = toUpgradeRequest(parseRequestHead(head('GET /p??a=1&b=2 HTTP/1.1')), [], REMOTE);
    assert.equal(request.path, '/p');
    assert.deepEqual([...request.query], [...new URL('http://x/p??a=1&b=2').searchParams]);
    assert.deepEqual([...request.query], [['?a', '1'], ['b', '2']]);
  });

  test('is a plain object of data properties: a spread or JSON copy shows every field', () => {
    const parsed = parseRequestHead(head('GET /r?x=1 HTTP/1.1', 'Host: x', 'Cookie: a=1'));
    const request = toUpgradeRequest(parsed, [], REMOTE);
    const accessors = Object.entries(Object.getOwnPropertyDescriptors(request)).filter(([, d]) => !('value' in d));
    assert.deepEqual(accessors.map(([name]) => name), [], 'no getters (an object literal with getters costs about 1 µs per upgrade)');
    const copy = { ...request };
    assert.equal(copy.query.get('x'), '1');
    assert.deepEqual({ ...copy.cookies }, { a: '1' });
    assert.deepEqual(copy.rawHeaders, [['host', 'x'], ['cookie', 'a=1']]);
    assert.deepEqual(JSON.parse(JSON.stringify(request)).rawHeaders, [['host', 'x'], ['cookie', 'a=1']]);
  });

  test('has no origin and no cookies when those headers are absent', () => {
    const request = toUpgradeRequest(parseRequestHead(head('GET / HTTP/1.1', 'Host: x')), [], REMOTE);
    assert.equal(request.origin, undefined);
    assert.deepEqual({ ...request.cookies }, {});
    assert.deepEqual(request.protocols, []);
  });
});

describe('originForm', () => {
  test('keeps an origin-form target as it is', () => {
    for (const target of ['/', '/chat', '/chat?room=1&x=%20', '/a//b?', '//double']) assert.equal(originForm(target), target, target);
  });

  test('takes the path and query of an absolute http, https, ws or wss URI, in any case', () => {
    assert.equal(originForm('http://127.0.0.1:8080/chat?room=1'), '/chat?room=1');
    assert.equal(originForm('https://example.com/a/b'), '/a/b');
    assert.equal(originForm('ws://example.com/live?x=1&y=2'), '/live?x=1&y=2');
    assert.equal(originForm('WSS://Example.COM:443/secure'), '/secure');
    assert.equal(originForm('http://example.com'), '/', 'an empty path is "/"');
    assert.equal(originForm('http://user:pw@example.com/p?q'), '/p?q');
  });

  test('refuses the asterisk and authority forms, other schemes, and any target with a fragment', () => {
    for (const target of ['*', 'example.com:80', '127.0.0.1:8080', 'chat', '', 'ftp://example.com/chat', 'http:/chat', 'http://[bad/chat', '/chat#frag', '/chat?q=1#', 'http://example.com/chat#frag']) {
      assert.equal(originForm(target), undefined, JSON.stringify(target));
    }
  });
});
