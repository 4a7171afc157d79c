/**
 * A server's options given from plain JavaScript: a wrong type or a value out of range throws at
 * construction (or at listen() for its overrides), naming the option, instead of switching a
 * limit or a check off. Then, over a real socket, that a string `origins` no longer lets a
 * look-alike origin in.
 */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { connect, WebSocketServer, type ServerOptions } from '../../src/index.js';
import { SockwaveError, type UpgradeRequest } from '../../src/index.js';
import {
  chooseSubprotocol,
  connectionSettings,
  DEFAULT_HANDSHAKE_TIMEOUT,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
  DEFAULT_MAX_FRAGMENTS,
  DEFAULT_MAX_HEADER_BYTES,
  DEFAULT_MAX_PAYLOAD,
  DEFAULT_RATE_LIMIT,
} from '../../src/server/options.js';

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
  [{ host: 8080 }, 'TypeError', /host/],
  [{ backlog: 1.5 }, 'RangeError', /backlog/],
  [{ maxFragments: 0 }, 'RangeError', /maxFragments/],
  [{ maxFragments: 2.5 }, 'RangeError', /maxFragments/],
  [{ rateLimit: 'fast' }, 'TypeError', /rateLimit/],
  [{ rateLimit: { bytesPerSecond: 'x' } }, 'TypeError', /rateLimit\.bytesPerSecond/],
  [{ rateLimit: { burst: -1 } }, 'RangeError', /rateLimit\.burst/],
  [{ maxConnectionsPerAddress: 2.5 }, 'RangeError', /maxConnectionsPerAddress/],
  [{ maxHeaderBytes: 100.5 }, 'RangeError', /maxHeaderBytes/],
  [{ closeTimeout: -1 }, 'RangeError', /closeTimeout/],
  [{ highWaterMark: 'big' }, 'TypeError', /highWaterMark/],
  [{ retryAfter: 1.5 }, 'RangeError', /retryAfter/],
  [{ pongTimeout: -5 }, 'RangeError', /pongTimeout/],
  [{ idleTimeout: NaN }, 'TypeError', /idleTimeout/],
  [{ maxBufferedAmount: -1 }, 'RangeError', /maxBufferedAmount/],
  [{ tls: 'cert.pem' }, 'TypeError', /tls/],
  [{ onHttpRequest: 1 }, 'TypeError', /onHttpRequest/],
  [{ backplane: 'redis' }, 'TypeError', /backplane/],
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

  test('the bounds are inclusive, and Infinity passes wherever it means no limit', () => {
    new WebSocketServer({ port: 65535, maxFragments: 1, maxHeaderBytes: 1, handshakeTimeout: 1, slowConsumerCloseCode: 1008, protocols: () => undefined, origins: ['https://a.example'] });
    new WebSocketServer({
      maxFragments: Infinity,
      rateLimit: { messagesPerSecond: Infinity, bytesPerSecond: Infinity, burst: Infinity },
      maxConnectionsPerAddress: Infinity,
      closeTimeout: Infinity,
      highWaterMark: Infinity,
      maxBufferedAmount: Infinity,
      pingInterval: Infinity,
      pongTimeout: Infinity,
      slowConsumerCloseCode: 1013,
    });
  });

  test("listen()'s overrides are checked too", async () => {
    const server = new WebSocketServer({ host: '127.0.0.1' });
    await assert.rejects(server.listen({ port: -5 }), RangeError);
    assert.equal(server.address(), undefined);
  });
});

describe('server option defaults, and the options that reach every connection', () => {
  test('the defaults are the documented ones', () => {
    assert.equal(DEFAULT_MAX_PAYLOAD, 100 * 1024 * 1024, 'maxPayload: 100 MiB');
    assert.equal(DEFAULT_MAX_FRAGMENTS, 1024);
    assert.equal(DEFAULT_HANDSHAKE_TIMEOUT, 10_000);
    assert.equal(DEFAULT_MAX_HEADER_BYTES, 16 * 1024, 'maxHeaderBytes: 16 KiB');
    assert.equal(DEFAULT_MAX_CONNECTIONS, 10_000);
    assert.equal(DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, 1000);
    assert.deepEqual(DEFAULT_RATE_LIMIT, { messagesPerSecond: 50_000, bytesPerSecond: 256 * 1024 * 1024, burst: 1 });
    const { maxPayload, maxFragments, autoPong, session, settings } = connectionSettings({});
    assert.deepEqual([maxPayload, maxFragments, autoPong], [100 * 1024 * 1024, 1024, undefined]);
    assert.deepEqual({ ...session }, { role: 'server', maxPayload: 100 * 1024 * 1024, maxFragments: 1024, autoPong: true });
    assert.deepEqual({ ...settings }, {
      closeTimeout: 5000,
      rateLimit: DEFAULT_RATE_LIMIT,
      highWaterMark: 1024 * 1024,
      maxBufferedAmount: 16 * 1024 * 1024,
      slowConsumer: 'close',
      slowConsumerCloseCode: 1013,
    });
  });

  test('the options given are what every connection gets', () => {
    const rateLimit = { messagesPerSecond: 10, bytesPerSecond: 1000, burst: 2 };
    const { maxPayload, maxFragments, autoPong, session, settings } = connectionSettings({
      maxPayload: 1000,
      maxFragments: 3,
      autoPong: false,
      rateLimit,
      closeTimeout: 7,
      highWaterMark: 8,
      maxBufferedAmount: 9,
      slowConsumer: 'drop',
      slowConsumerCloseCode: 1008,
    });
    assert.deepEqual([maxPayload, maxFragments, autoPong], [1000, 3, false]);
    assert.deepEqual({ ...session }, { role: 'server', maxPayload: 1000, maxFragments: 3, autoPong: false });
    assert.deepEqual({ ...settings }, { closeTimeout: 7, rateLimit, highWaterMark: 8, maxBufferedAmount: 9, slowConsumer: 'drop', slowConsumerCloseCode: 1008 });
    assert.equal(connectionSettings({ rateLimit: false }).settings.rateLimit, undefined);
    const empty = connectionSettings({ maxPayload: 0 });
    assert.deepEqual([empty.maxPayload, empty.session.maxPayload], [0, 0], 'maxPayload 0 (empty messages only) is not the default');
  });
});

describe('options given as undefined', () => {
  test('a server with every option given as undefined serves as one given none: the defaults hold', async (t) => {
    // (Typed so that an option added later and left out here fails to compile.)
    const none: { [K in keyof Required<ServerOptions>]: undefined } = {
      port: undefined, host: undefined, backlog: undefined, path: undefined, maxPayload: undefined, maxFragments: undefined, rateLimit: undefined,
      maxConnectionsPerAddress: undefined, handshakeTimeout: undefined, maxHeaderBytes: undefined, protocols: undefined, autoPong: undefined,
      closeTimeout: undefined, highWaterMark: undefined, perMessageDeflate: undefined, maxConnections: undefined, retryAfter: undefined,
      origins: undefined, pingInterval: undefined, pongTimeout: undefined, idleTimeout: undefined, maxBufferedAmount: undefined,
      slowConsumer: undefined, slowConsumerCloseCode: undefined, tls: undefined, onConnection: undefined, backplane: undefined, onHttpRequest: undefined,
    };
    const server = new WebSocketServer(none);
    assert.deepEqual(connectionSettings(none), connectionSettings({}));
    server.route('/echo', () => ({ onMessage: (connection, data, isBinary) => void connection.send(data, { binary: isBinary }) }));
    const info = await server.listen({ host: '127.0.0.1', port: 0 });
    t.after(() => server.close({ timeout: 100 }));
    assert.equal(info.url, `ws://127.0.0.1:${info.port}`);
    const client = await connect(`${info.url}/echo`, { perMessageDeflate: false });
    t.after(() => client.terminate());
    client.send('hello');
    assert.deepEqual(await client.nextMessage({ timeout: 5000 }), { data: 'hello', isBinary: false });
  });
});

describe('chooseSubprotocol', () => {
  const offering = (...protocols: string[]): UpgradeRequest => ({ protocols }) as unknown as UpgradeRequest;

  test("the one onConnection chose wins over the server's protocols, if the client offered it", () => {
    assert.equal(chooseSubprotocol('b', offering('a', 'b'), ['a', 'b']), 'b');
    assert.equal(chooseSubprotocol('b', offering('a', 'b'), () => 'a'), 'b');
    assert.throws(
      () => chooseSubprotocol('c', offering('a', 'b'), ['a', 'b', 'c']),
      (error: unknown) => error instanceof SockwaveError && error.code === 'SW_INVALID_ARGUMENT' && /did not offer/.test(error.message),
    );
  });

  test("otherwise the server's list picks the client's most preferred it supports, or none", () => {
    assert.equal(chooseSubprotocol(undefined, offering('x', 'b', 'a'), ['a', 'b']), 'b');
    assert.equal(chooseSubprotocol(undefined, offering('x'), ['a', 'b']), undefined);
    assert.equal(chooseSubprotocol(undefined, offering('a'), undefined), undefined);
  });

  test('a function gets the offered list and the request, and must answer one offered; it is not asked when nothing is offered', () => {
    const calls: unknown[][] = [];
    const pick = (offered: readonly string[], request: UpgradeRequest): string | undefined => {
      calls.push([offered, request]);
      return offered.at(-1);
    };
    const request = offering('a', 'b');
    assert.equal(chooseSubprotocol(undefined, request, pick), 'b');
    assert.deepEqual(calls, [[['a', 'b'], request]]);
    assert.equal(chooseSubprotocol(undefined, offering(), pick), undefined);
    assert.equal(calls.length, 1, 'asked though the client offered nothing');
    assert.throws(() => chooseSubprotocol(undefined, offering('a'), () => 'z'), SockwaveError);
  });
});

