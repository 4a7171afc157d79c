/**
 * A server's options given from plain JavaScript: a wrong type or a value out of range throws at
 * construction (or at listen() for its overrides), naming the option, instead of switching a
 * limit or a check off. Then, over a real socket, that a string `origins` no longer lets a
 * look-alike origin in.
 */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { WebSocketServer, type ServerOptions } from '../../src/index.js';

const BAD: ReadonlyArray<[Record<string, unknown>, 'TypeError' | 'RangeError', RegExp]> = [
  [{ origins: 'https://app.example.com' }, 'TypeError', /origins must be an array of strings or a function/],
  [{ protocols: 'chat.v2' }, 'TypeError', /protocols must be an array of strings or a function/],
  [{ maxPayload: NaN }, 'TypeError', /maxPayload must be a number, not NaN/],
  [{ maxPayload: '1024' }, 'TypeError', /maxPayload must be a number/],
  [{ maxPayload: -1 }, 'RangeError', /maxPayload must be a finite number at least 0/],
  [{ maxConnections: 1.5 }, 'RangeError', /maxConnections must be a whole number/],
  [{ pingInterval: 'abc' }, 'TypeError', /pingInterval/],
  [{ handshakeTimeout: -1 }, 'RangeError', /handshakeTimeout/],
  [{ handshakeTimeout: 0 }, 'RangeError', /handshakeTimeout must be a finite number at least 1 \(or Infinity\), not 0/],
  [{ maxHeaderBytes: 0 }, 'RangeError', /maxHeaderBytes/],
  [{ slowConsumer: 'bogus' }, 'TypeError', /slowConsumer must be one of "drop", "close", "wait"/],
  [{ slowConsumerCloseCode: 1000 }, 'TypeError', /slowConsumerCloseCode/],
  [{ rateLimit: { messagesPerSecond: -1 } }, 'RangeError', /rateLimit\.messagesPerSecond/],
  [{ rateLimit: { burst: 0 } }, 'RangeError', /rateLimit\.burst must be above 0/],
  [{ port: 70000 }, 'RangeError', /port must be a whole number from 0 to 65535/],
  [{ path: 123 }, 'TypeError', /path must be an array of strings/],
  [{ onConnection: 'yes' }, 'TypeError', /onConnection must be a function/],
  [{ autoPong: 'no' }, 'TypeError', /autoPong must be a boolean/],
];

describe('server options', () => {
  for (const [options, name, message] of BAD) {
    test(`${JSON.stringify(options)} throws a ${name} at construction`, () => {
      assert.throws(() => new WebSocketServer(options as ServerOptions), (error: unknown) => error instanceof Error && error.name === name && /^WebSocketServer: /.test(error.message) && message.test(error.message));
    });
  }

  test('valid options, Infinity where it means no limit or never, and a function for origins and protocols pass', () => {
    new WebSocketServer({ maxPayload: Infinity, maxConnections: Infinity, idleTimeout: Infinity, handshakeTimeout: Infinity, closeTimeout: 0, origins: () => true, protocols: ['chat'], rateLimit: false, path: ['/a', '/b'] });
  });

  test("listen()'s overrides are checked too", async () => {
    const server = new WebSocketServer({ host: '127.0.0.1' });
    await assert.rejects(server.listen({ port: -5 }), RangeError);
    assert.equal(server.address(), undefined);
  });
});
