/**
 * Plain (non-upgrade) HTTP requests answered by onHttpRequest: the message's framing is
 * sockwave's (Connection: close, the body's length), whatever the application's headers say, and a
 * response no HTTP message can be (a 1xx status, a body on a 204 or 304) is an error, answered 500.
 */
import { strict as assert } from 'node:assert';
import { EventEmitter } from 'node:events';
import { get, type IncomingMessage } from 'node:http';
import { type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { type RequestHead } from '../../src/handshake/http-head.js';
import { endAnswered, serializePlainResponse, toPlainRequest, type PlainHttpResponse } from '../../src/server/plain-http.js';
import { RawClient, withTimeout } from '../support/net.js';
import { serve } from '../support/server-kit.js';

/** The head lines of a serialized response (after the status line), as written. */
function headLines(response: PlainHttpResponse, method = 'GET'): string[] {
  const text = serializePlainResponse(response, method).toString('latin1');
  return text.slice(0, text.indexOf('\r\n\r\n')).split('\r\n');
}

/** A GET with Node's own (strict) HTTP parser: status, headers and body. */
function fetchWithNode(port: number, path = '/'): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  return withTimeout(
    new Promise((resolve, reject) => {
      get({ host: '127.0.0.1', port, path }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
        response.on('error', reject);
      }).on('error', reject);
    }),
    'a plain HTTP answer',
  );
}

describe('toPlainRequest', () => {
  test('the path is the target up to its query; the url is the whole target', () => {
    const headers = { host: '127.0.0.1' };
    const head = (target: string): RequestHead => ({ method: 'POST', target, headers }) as unknown as RequestHead;
    assert.deepEqual(toPlainRequest(head('/page?x=1')), { method: 'POST', url: '/page?x=1', path: '/page', headers });
    assert.deepEqual(toPlainRequest(head('/page')), { method: 'POST', url: '/page', path: '/page', headers });
    assert.deepEqual(toPlainRequest(head('/?')), { method: 'POST', url: '/?', path: '/', headers });
  });
});

describe('serializePlainResponse', () => {
  test("the application's framing headers, in any case, give way to sockwave's: one Content-Length, one Connection, no Transfer-Encoding", () => {
    const lines = headLines({
      status: 200,
      headers: { 'content-length': '999', CONNECTION: 'keep-alive', 'Transfer-Encoding': 'chunked', 'Content-Type': 'text/plain' },
      body: 'ok',
    });
    assert.deepEqual(lines, ['HTTP/1.1 200 OK', 'Content-Type: text/plain', 'Content-Length: 2', 'Connection: close']);
  });

  test('a 204 or 304 carries no Content-Length (RFC 9110 §8.6) and has a reason phrase', () => {
    assert.deepEqual(headLines({ status: 204 }), ['HTTP/1.1 204 No Content', 'Connection: close']);
    assert.deepEqual(headLines({ status: 304, headers: { ETag: '"v1"' } }), ['HTTP/1.1 304 Not Modified', 'ETag: "v1"', 'Connection: close']);
  });

  test('a status that is not final (1xx, 101 included) or out of range, and a body on a 204 or 304, are RangeErrors', () => {
    for (const status of [100, 101, 199, 600, 200.5]) assert.throws(() => serializePlainResponse({ status }, 'GET'), RangeError, String(status));
    assert.throws(() => serializePlainResponse({ status: 204, body: 'x' }, 'GET'), RangeError);
    assert.throws(() => serializePlainResponse({ status: 304, body: Buffer.from('x') }, 'GET'), RangeError);
  });

  test('the final statuses reach 599; the body\'s length is in bytes, a string sent as UTF-8', () => {
    assert.equal(headLines({ status: 599 })[0], 'HTTP/1.1 599 ');
    assert.equal(headLines({ status: 200 })[0], 'HTTP/1.1 200 OK');
    const bytes = serializePlainResponse({ status: 200, body: 'héllo wörld' }, 'GET');
    assert.match(bytes.toString('latin1'), /\r\nContent-Length: 13\r\n/);
    assert.deepEqual(bytes.subarray(bytes.length - 13), Buffer.from('héllo wörld', 'utf8'));
  });

  test('HEAD: the length of the body a GET would get, and no body', () => {
    const bytes = serializePlainResponse({ status: 200, body: 'hello' }, 'HEAD').toString('latin1');
    assert.match(bytes, /\r\nContent-Length: 5\r\n/);
    assert.ok(bytes.endsWith('\r\n\r\n'));
  });
});

/** Just what endAnswered() uses of a socket, counting its calls. */
class FakeSocket extends EventEmitter {
  destroyed = false;
  ends = 0;
  destroys = 0;
  end(): void {
    this.ends++;
  }
  destroy(): void {
    this.destroys++;
  }
}

describe('endAnswered', () => {
  test('destroys a socket still open 2 s after its answer', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const socket = new FakeSocket();
    endAnswered(socket as unknown as Socket, Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'));
    assert.equal(socket.ends, 1);
    t.mock.timers.tick(1999);
    assert.equal(socket.destroys, 0);
    t.mock.timers.tick(1);
    assert.equal(socket.destroys, 1);
  });

  test('clears its timer when the socket closes first', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const socket = new FakeSocket();
    endAnswered(socket as unknown as Socket, Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'));
    socket.emit('close', false);
    t.mock.timers.tick(2000);
    assert.equal(socket.destroys, 0, 'no destroy() after the close');
  });
});

describe('onHttpRequest over a real socket', { timeout: 30_000 }, () => {
  test("Node's HTTP parser reads the answer when the application set its own Content-Length and Connection", async (t) => {
    const srv = await serve(t, { onHttpRequest: () => ({ status: 200, headers: { 'content-length': '2', connection: 'keep-alive' }, body: 'ok' }) });
    const answer = await fetchWithNode(srv.port);
    assert.equal(answer.status, 200);
    assert.equal(answer.body, 'ok');
    assert.equal(answer.headers.connection, 'close');
  });

  test('a response no HTTP message can be is answered 500 and reported as an error', async (t) => {
    const srv = await serve(t, { onHttpRequest: () => ({ status: 101 }) });
    const errors: Error[] = [];
    srv.server.on('error', (error) => errors.push(error));
    const answer = await fetchWithNode(srv.port);
    assert.equal(answer.status, 500);
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.message, /status 101/);
  });

  test('without onHttpRequest, a HEAD is answered 426 with the Content-Length a GET would get, and no body', async (t) => {
    const srv = await serve(t);
    const raw = await RawClient.connect(srv.port);
    t.after(() => raw.destroy());
    raw.write('HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await raw.waitClosed('the server to end the answer');
    const text = raw.received.toString('latin1');
    const end = text.indexOf('\r\n\r\n');
    assert.notEqual(end, -1, `a complete head: ${JSON.stringify(text)}`);
    assert.match(text, /^HTTP\/1\.1 426 /);
    assert.ok(Number(/\r\nContent-Length: (\d+)\r\n/i.exec(text)?.[1]) > 0, 'the length of the body a GET would get');
    assert.equal(text.slice(end + 4), '', 'nothing after the head');
  });
});
