import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { connectRequest, resolveProxy } from '../../src/io/proxy.js';

/** The proxy resolved for host:port (ws:// unless `secure`), as its href, or undefined. */
function proxyFor(env: NodeJS.ProcessEnv, host = 'example.com', port = 80, secure = false): string | undefined {
  return resolveProxy(host, port, secure, undefined, env)?.href;
}

describe('resolveProxy: the option', () => {
  test('false means no proxy, whatever the environment says', () => {
    assert.equal(resolveProxy('example.com', 80, false, false, { HTTP_PROXY: 'http://p:3128' }), undefined);
  });

  test('a URL or a string, host:port alone meaning http://', () => {
    assert.equal(resolveProxy('example.com', 80, false, 'http://p:3128', {})?.href, 'http://p:3128/');
    assert.equal(resolveProxy('example.com', 80, false, new URL('https://p:8443'), {})?.href, 'https://p:8443/');
    assert.equal(resolveProxy('example.com', 80, false, 'p:3128', {})?.href, 'http://p:3128/');
    assert.equal(resolveProxy('example.com', 80, false, 'http://p:3128', { NO_PROXY: '*' })?.href, 'http://p:3128/', 'NO_PROXY is for the environment variables');
  });

  test('any other scheme, or an invalid URL, is a TypeError naming the option (without the password)', () => {
    assert.throws(() => resolveProxy('example.com', 80, false, 'socks5://p:1080', {}), { name: 'TypeError', message: 'the proxy option: only http:// and https:// proxies are supported, not socks5://' });
    assert.throws(() => resolveProxy('example.com', 80, false, 'http://user:secret@[bad', {}), (error: Error) => {
      assert.equal(error.name, 'TypeError');
      assert.match(error.message, /^the proxy option: not a valid proxy URL: /);
      assert.doesNotMatch(error.message, /secret/);
      return true;
    });
  });
});

describe('resolveProxy: the environment', () => {
  test('HTTP_PROXY for ws://, HTTPS_PROXY for wss://, the upper-case name first', () => {
    const env = { HTTP_PROXY: 'http://plain:1', HTTPS_PROXY: 'http://secure:2', http_proxy: 'http://lower:3', https_proxy: 'http://lower:4' };
    assert.equal(proxyFor(env), 'http://plain:1/');
    assert.equal(proxyFor(env, 'example.com', 443, true), 'http://secure:2/');
    assert.equal(proxyFor({ http_proxy: 'http://lower:3' }), 'http://lower:3/');
    assert.equal(proxyFor({ https_proxy: 'http://lower:4' }, 'example.com', 443, true), 'http://lower:4/');
    assert.equal(proxyFor({ HTTPS_PROXY: 'http://secure:2' }), undefined, 'ws:// does not take HTTPS_PROXY');
    assert.equal(proxyFor({ HTTP_PROXY: '' }), undefined);
    assert.equal(proxyFor({ HTTP_PROXY: '', http_proxy: 'http://lower:3' }), undefined, 'set empty, the upper-case name still wins');
    assert.equal(proxyFor({}), undefined);
  });

  test('a bad variable is a TypeError naming it', () => {
    assert.throws(() => proxyFor({ HTTP_PROXY: 'ftp://p:21' }), { name: 'TypeError', message: /^HTTP_PROXY: only http/ });
    assert.throws(() => proxyFor({ HTTP_PROXY: 'x9+.-://p:21' }), { name: 'TypeError', message: /, not x9\+\.-:\/\/$/ });
  });

  test('NO_PROXY: "*", a host and its subdomains, a .domain, case-insensitive, in a list', () => {
    const env = (noProxy: string): NodeJS.ProcessEnv => ({ HTTP_PROXY: 'http://p:1', NO_PROXY: noProxy });
    assert.equal(proxyFor(env('*')), undefined);
    assert.equal(proxyFor(env('example.com')), undefined);
    assert.equal(proxyFor(env('example.com'), 'ws.Example.COM'), undefined);
    assert.equal(proxyFor(env('EXAMPLE.com')), undefined);
    assert.equal(proxyFor(env('example.com'), 'badexample.com'), 'http://p:1/');
    assert.equal(proxyFor(env('.example.com')), undefined);
    assert.equal(proxyFor(env('.example.com'), 'a.example.com'), undefined);
    assert.equal(proxyFor(env(' other.org, ,example.com ')), undefined);
    assert.equal(proxyFor(env('other.org example.com')), undefined);
    assert.equal(proxyFor(env('other.org')), 'http://p:1/');
    assert.equal(proxyFor(env('')), 'http://p:1/');
    assert.equal(proxyFor(env(',other.org,'), 'example.com.'), 'http://p:1/', 'an empty entry matches nothing, not every name ending in "."');
    assert.equal(proxyFor({ HTTP_PROXY: 'http://p:1', no_proxy: 'example.com' }), undefined, 'no_proxy too');
    assert.equal(proxyFor({ HTTP_PROXY: 'http://p:1', NO_PROXY: 'other.org', no_proxy: 'example.com' }), 'http://p:1/', 'NO_PROXY first');
  });

  test('NO_PROXY with a port bypasses that port only; IPv6 entries with or without brackets and port', () => {
    const env = (noProxy: string): NodeJS.ProcessEnv => ({ HTTP_PROXY: 'http://p:1', NO_PROXY: noProxy });
    assert.equal(proxyFor(env('example.com:8080'), 'example.com', 8080), undefined);
    assert.equal(proxyFor(env('example.com:8080'), 'example.com', 80), 'http://p:1/');
    assert.equal(proxyFor(env('[::1]:8080'), '::1', 8080), undefined);
    assert.equal(proxyFor(env('[::1]:8080'), '::1', 80), 'http://p:1/');
    assert.equal(proxyFor(env('[::1]'), '::1', 80), undefined);
    assert.equal(proxyFor(env('::1'), '::1', 80), undefined);
    assert.equal(proxyFor(env('::2'), '::1', 80), 'http://p:1/');
  });
});

describe('resolveProxy: NO_PROXY beyond names', () => {
  const env = (noProxy: string): NodeJS.ProcessEnv => ({ HTTP_PROXY: 'http://p:1', NO_PROXY: noProxy });
  const direct = (noProxy: string, host: string, port = 80): boolean => proxyFor(env(noProxy), host, port) === undefined;

  test('an IP address entry matches that address however it is written, never as a text suffix', () => {
    assert.equal(direct('0.0.1', '127.0.0.1'), false, '"0.0.1" is not a suffix of 127.0.0.1');
    assert.equal(direct('.0.0.1', '127.0.0.1'), false);
    assert.equal(direct('0.1', '10.0.0.1'), false);
    assert.equal(direct('127.0.0.1', '127.0.0.1'), true);
    assert.equal(direct('127.0.0.1', '127.0.0.2'), false);
    assert.equal(direct('0:0:0:0:0:0:0:1', '::1'), true, 'the long form of ::1');
    assert.equal(direct('[0:0:0:0:0:0:0:1]:80', '::1'), true);
    assert.equal(direct('[0:0:0:0:0:0:0:1]:81', '::1'), false);
    assert.equal(direct('::1', '[::1]'), true, 'a host given in brackets');
    assert.equal(direct('FD00::AB', 'fd00::ab'), true);
    assert.equal(direct('127.0.0.1:80', '127.0.0.1'), true);
    assert.equal(direct('127.0.0.1:8080', '127.0.0.1'), false);
  });

  test('a name never matches an address, nor an address a name', () => {
    assert.equal(direct('localhost', '127.0.0.1'), false);
    assert.equal(direct('127.0.0.1', 'localhost'), false);
    assert.equal(direct('1', '10.0.0.1'), false);
    assert.equal(direct('127.0.0.0/8', 'localhost'), false);
  });

  test('CIDR blocks, IPv4 and IPv6, a v6 one in brackets or not', () => {
    assert.equal(direct('127.0.0.0/8', '127.0.0.1'), true);
    assert.equal(direct('127.0.0.0/8', '128.0.0.1'), false);
    assert.equal(direct('10.1.0.0/16, 192.168.0.0/16', '192.168.3.4'), true);
    assert.equal(direct('10.1.2.3/32', '10.1.2.3'), true);
    assert.equal(direct('10.1.2.3/32', '10.1.2.4'), false);
    assert.equal(direct('0.0.0.0/0', '203.0.113.9'), true);
    assert.equal(direct('::1/128', '::1'), true);
    assert.equal(direct('fd00::/8', 'fd12:3456::1'), true);
    assert.equal(direct('[fd00::]/8', 'fd12:3456::1'), true);
    assert.equal(direct('fd00::/8', 'fe80::1'), false);
  });

  test('a leading "*." is a leading "."; one trailing dot is ignored on the host and on the entry', () => {
    assert.equal(direct('*.example.com', 'a.example.com'), true);
    assert.equal(direct('*.example.com', 'example.com'), true, 'as ".example.com" does');
    assert.equal(direct('*.example.com', 'badexample.com'), false);
    assert.equal(direct('*.example.com:8080', 'a.example.com', 8080), true);
    assert.equal(direct('example.com', 'example.com.'), true);
    assert.equal(direct('example.com', 'a.example.com.'), true);
    assert.equal(direct('example.com.', 'example.com'), true);
    assert.equal(direct('.example.com.', 'a.example.com.'), true);
    assert.equal(direct('127.0.0.1.', '127.0.0.1'), true);
  });

  test('malformed entries match nothing, and do not stop the ones after them', () => {
    for (const entry of ['.', '*.', ':80', 'example.com:', 'example.com:http', 'example.com:0x50', 'a:80:b', '[::1', '[::1]x', '[::1]:', '127.0.0.0/33', '::/129', '127.0.0.0/x', 'example.com/8', '/8']) {
      assert.equal(direct(entry, 'example.com'), false, entry);
      assert.equal(direct(entry, 'example.com.'), false, `${entry} (host with a trailing dot)`);
      assert.equal(direct(entry, '127.0.0.1'), false, `${entry} (an IPv4 host)`);
      assert.equal(direct(entry, '::1'), false, `${entry} (an IPv6 host)`);
      assert.equal(direct(`${entry},example.com`, 'example.com'), true, `${entry} first in a list`);
    }
  });
});

describe('connectRequest', () => {
  test('names the target as authority and Host, IPv6 in brackets, and ends the head', () => {
    assert.equal(connectRequest(new URL('http://p:1'), 'example.com', 443), 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    assert.equal(connectRequest(new URL('http://p:1'), '::1', 8080), 'CONNECT [::1]:8080 HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n');
  });

  test('sends the proxy URL\'s credentials, percent-decoded, as Basic; a user alone or a password alone too', () => {
    const basic = (text: string): string => `Proxy-Authorization: Basic ${Buffer.from(text).toString('base64')}\r\n`;
    assert.equal(connectRequest(new URL('http://al%3Aice:p%40ss@p:1'), 'h', 1), `CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\n${basic('al:ice:p@ss')}\r\n`);
    assert.ok(connectRequest(new URL('http://user@p:1'), 'h', 1).includes(basic('user:')));
    assert.ok(connectRequest(new URL('http://:secret@p:1'), 'h', 1).includes(basic(':secret')));
  });
});
