import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { parseWebSocketUrl } from '../../src/client/url.js';

describe('parseWebSocketUrl', () => {
  test('parses a ws: URL with the default port 80', () => {
    assert.deepEqual(parseWebSocketUrl('ws://example.com/chat?room=1'), {
      href: 'ws://example.com/chat?room=1',
      secure: false,
      hostname: 'example.com',
      port: 80,
      hostHeader: 'example.com',
      resource: '/chat?room=1',
      shown: 'ws://example.com/chat?room=1',
      basicAuth: undefined,
    });
  });

  test('a user and password: kept in href, left out of shown, and given as Basic credentials', () => {
    const url = parseWebSocketUrl('wss://al%3Aice:p%40ss@example.com/x');
    assert.equal(url.href, 'wss://al%3Aice:p%40ss@example.com/x');
    assert.equal(url.shown, 'wss://example.com/x');
    assert.equal(url.basicAuth, `Basic ${Buffer.from('al:ice:p@ss').toString('base64')}`);
  });

  test('a user alone, or a password alone, is credentials too', () => {
    const user = parseWebSocketUrl('ws://token@example.com/x');
    assert.equal(user.basicAuth, `Basic ${Buffer.from('token:').toString('base64')}`);
    assert.equal(user.shown, 'ws://example.com/x');
    const password = parseWebSocketUrl('ws://:secret@example.com/x');
    assert.equal(password.basicAuth, `Basic ${Buffer.from(':secret').toString('base64')}`);
    assert.equal(password.shown, 'ws://example.com/x');
  });

  test('parses a wss: URL with the default port 443', () => {
    const url = parseWebSocketUrl('wss://example.com/');
    assert.equal(url.secure, true);
    assert.equal(url.port, 443);
    assert.equal(url.hostHeader, 'example.com');
    assert.equal(url.resource, '/');
  });

  test('maps http: to ws: and https: to wss:', () => {
    const plain = parseWebSocketUrl('http://example.com/a');
    assert.equal(plain.secure, false);
    assert.equal(plain.port, 80);
    assert.equal(plain.href, 'ws://example.com/a');
    const secure = parseWebSocketUrl('https://example.com/a');
    assert.equal(secure.secure, true);
    assert.equal(secure.port, 443);
    assert.equal(secure.href, 'wss://example.com/a');
  });

  test('keeps a non-default port in the Host header and drops an explicit default one', () => {
    const custom = parseWebSocketUrl('ws://example.com:8080/x');
    assert.equal(custom.port, 8080);
    assert.equal(custom.hostHeader, 'example.com:8080');
    const explicitDefault = parseWebSocketUrl('wss://example.com:443/x');
    assert.equal(explicitDefault.port, 443);
    assert.equal(explicitDefault.hostHeader, 'example.com');
    const crossed = parseWebSocketUrl('ws://example.com:443/x');
    assert.equal(crossed.port, 443);
    assert.equal(crossed.hostHeader, 'example.com:443');
  });

  test('gives an IPv6 hostname without brackets and the Host header with them (ws://[::1]:9000/x?y=1)', () => {
    const url = parseWebSocketUrl('ws://[::1]:9000/x?y=1');
    assert.equal(url.hostname, '::1');
    assert.equal(url.port, 9000);
    assert.equal(url.hostHeader, '[::1]:9000');
    assert.equal(url.resource, '/x?y=1');
  });

  test('gives an IPv6 Host header with brackets on the default port', () => {
    const url = parseWebSocketUrl('wss://[2001:db8::1]/');
    assert.equal(url.hostname, '2001:db8::1');
    assert.equal(url.port, 443);
    assert.equal(url.hostHeader, '[2001:db8::1]');
  });

  test('makes the resource the path plus the query, "/" for an empty path', () => {
    assert.equal(parseWebSocketUrl('ws://example.com').resource, '/');
    assert.equal(parseWebSocketUrl('ws://example.com?y=1').resource, '/?y=1');
    assert.equal(parseWebSocketUrl('ws://example.com/a/b?c=d&e').resource, '/a/b?c=d&e');
    assert.equal(parseWebSocketUrl('ws://example.com/a b').resource, '/a%20b');
  });

  test('lower-cases scheme and host and leaves credentials out of the Host header', () => {
    const url = parseWebSocketUrl('WS://User:Pass@EXAMPLE.com:81/Path');
    assert.equal(url.secure, false);
    assert.equal(url.hostname, 'example.com');
    assert.equal(url.hostHeader, 'example.com:81');
    assert.equal(url.resource, '/Path');
  });

  test('accepts a URL object', () => {
    assert.equal(parseWebSocketUrl(new URL('wss://example.com:9443/z')).port, 9443);
  });

  test('accepts an encoded "#" in the query', () => {
    assert.equal(parseWebSocketUrl('ws://example.com/?q=%23').resource, '/?q=%23');
  });

  for (const input of ['ftp://x', 'file:///etc/passwd', 'javascript:alert(1)', 'mailto:a@b.c', 'data:text/plain,hi', 'wsx://x']) {
    test(`throws a SyntaxError for the scheme of ${JSON.stringify(input)}`, () => {
      assert.throws(() => parseWebSocketUrl(input), SyntaxError);
    });
  }

  for (const input of ['ws://x/#a', 'ws://x/#', 'wss://x/path?q=1#frag', 'http://x#top']) {
    test(`throws a SyntaxError for the fragment in ${JSON.stringify(input)}`, () => {
      assert.throws(() => parseWebSocketUrl(input), { name: 'SyntaxError', message: /fragment/ });
    });
  }

  for (const input of ['', 'not a url', '//example.com/x', '/relative', 'ws//x', 'ws://exa mple.com/', 'ws://x:99999/']) {
    test(`throws a SyntaxError for the garbage ${JSON.stringify(input)}`, () => {
      assert.throws(() => parseWebSocketUrl(input), SyntaxError);
    });
  }

  for (const input of ['ws://', 'wss://', 'ws://:80/', 'wss://@/x']) {
    test(`throws a SyntaxError for the missing host in ${JSON.stringify(input)}`, () => {
      assert.throws(() => parseWebSocketUrl(input), SyntaxError);
    });
  }
});
