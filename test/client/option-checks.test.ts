/**
 * The clients' options given from plain JavaScript: connect(), createClient() and new WebSocket()
 * throw a TypeError or RangeError naming the option when called, instead of, say, reconnecting
 * every millisecond (a NaN backoff) or accepting any message size (a NaN maxPayload).
 */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { connect, createClient, WebSocket } from '../../src/index.js';
import { checkClientOptions, checkReconnectingOptions } from '../../src/client/option-checks.js';

const URL = 'ws://127.0.0.1:1/';
type Make = (options: Record<string, unknown>) => unknown;
const MAKERS: ReadonlyArray<[string, Make]> = [
  ['connect', (options) => void connect(URL, options).catch(() => {})],
  ['createClient', (options) => createClient(URL, options).close()],
  ['WebSocket', (options) => new WebSocket(URL, options).close()],
];

const SHARED: ReadonlyArray<[Record<string, unknown>, 'TypeError' | 'RangeError']> = [
  [{ maxPayload: NaN }, 'TypeError'],
  [{ maxPayload: -1 }, 'RangeError'],
  [{ connectTimeout: 'soon' }, 'TypeError'],
  [{ closeTimeout: -1 }, 'RangeError'],
  [{ maxRedirects: 1.5 }, 'RangeError'],
  [{ headers: 5 }, 'TypeError'],
  [{ origin: 5 }, 'TypeError'],
  [{ headers: { 'x-n': 123 } }, 'TypeError'],
  [{ headers: { 'x-list': ['a', null] } }, 'TypeError'],
  [{ signal: {} }, 'TypeError'],
  [{ proxy: 123 }, 'TypeError'],
];

const RECONNECTING: ReadonlyArray<[Record<string, unknown>, 'TypeError' | 'RangeError']> = [
  [{ reconnect: 'yes' }, 'TypeError'],
  [{ reconnect: { minDelay: NaN } }, 'TypeError'],
  [{ reconnect: { maxDelay: 'x' } }, 'TypeError'],
  [{ reconnect: { maxRetries: -1 } }, 'RangeError'],
  [{ reconnect: { retryOnCodes: 1001 } }, 'TypeError'],
  [{ outbox: { policy: 'bogus' } }, 'TypeError'],
  [{ outbox: { maxMessages: NaN } }, 'TypeError'],
  [{ pingInterval: 'x' }, 'TypeError'],
];

describe('client options', () => {
  for (const [maker, make] of MAKERS) {
    const cases = maker === 'connect' ? SHARED : [...SHARED, ...RECONNECTING];
    for (const [options, name] of cases) {
      test(`${maker}: ${JSON.stringify(options, (_k, v: unknown) => (typeof v === 'number' && Number.isNaN(v) ? 'NaN' : v))} throws a ${name} naming the option`, () => {
        const option = Object.keys(options)[0]!;
        assert.throws(() => make(options), (error: unknown) => error instanceof Error && error.name === name && error.message.startsWith(`${maker}: ${option}`));
      });
    }
  }

  test("createClient: dataType 'xml' throws; connect: protocols as a string throws a TypeError", () => {
    assert.throws(() => createClient(URL, { dataType: 'xml' as 'text' }), { name: 'TypeError', message: /^createClient: dataType must be one of "text", "binary", "json"/ });
    assert.throws(() => connect(URL, { protocols: 'chat' as unknown as string[] }), { name: 'TypeError', message: /^connect: protocols must be an array of strings/ });
  });

  test('null for signal and proxy is as not given, and a signal from another realm (AbortSignal-like) is taken', () => {
    const foreign = { aborted: false, reason: undefined, addEventListener() {}, removeEventListener() {} };
    for (const [maker, make] of MAKERS) {
      for (const options of [{ signal: null }, { proxy: null }, { signal: foreign }]) {
        assert.doesNotThrow(() => make(options), `${maker}: ${JSON.stringify(options)}`);
      }
    }
  });

  test('valid options pass: Infinity timeouts, reconnect true or an object, outbox policies', () => {
    createClient(URL, { reconnect: { minDelay: 10, maxDelay: Infinity, maxRetries: Infinity, retryOnCodes: [1000] }, outbox: { policy: 'drop-oldest', maxMessages: Infinity }, pingInterval: 0, connectTimeout: Infinity }).close();
    new WebSocket(URL, { reconnect: true, closeTimeout: Infinity }).close();
  });
});

/** The checks themselves, called directly: each option's bad value, and the edge values each takes. */
describe('checkClientOptions / checkReconnectingOptions', () => {
  const client = (options: Record<string, unknown>) => checkClientOptions('o', options as Parameters<typeof checkClientOptions>[1]);
  const reconnecting = (options: Record<string, unknown>) => checkReconnectingOptions('o', options as Parameters<typeof checkReconnectingOptions>[1]);

  test('each client option of the wrong type or range throws, naming it', () => {
    const cases: ReadonlyArray<[string, unknown, 'TypeError' | 'RangeError']> = [
      ['headers', 5, 'TypeError'],
      ['origin', 5, 'TypeError'],
      ['autoPong', 'yes', 'TypeError'],
      ['highWaterMark', -1, 'RangeError'],
      ['tls', 'x', 'TypeError'],
      ['proxyTls', 'x', 'TypeError'],
      ['socketPath', 5, 'TypeError'],
      ['proxy', true, 'TypeError'],
    ];
    for (const [name, value, error] of cases) {
      assert.throws(() => client({ [name]: value }), { name: error, message: new RegExp(`^o: ${name} `) }, name);
    }
  });

  test('each reconnecting option of the wrong type or range throws, naming it', () => {
    const cases: ReadonlyArray<[Record<string, unknown>, string, 'TypeError' | 'RangeError']> = [
      [{ reconnect: { enabled: 'yes' } }, 'reconnect.enabled', 'TypeError'],
      [{ reconnect: { minUptime: -1 } }, 'reconnect.minUptime', 'RangeError'],
      [{ reconnect: { retryOnCodes: [1000, 1.5] } }, 'reconnect.retryOnCodes', 'TypeError'],
      [{ reconnect: { retryOnCodes: ['1000'] } }, 'reconnect.retryOnCodes', 'TypeError'],
      [{ reconnect: { maxRetries: 1.5 } }, 'reconnect.maxRetries', 'RangeError'],
      [{ reconnect: { minDelay: 1000, maxDelay: 100 } }, 'reconnect.maxDelay', 'RangeError'],
      [{ outbox: 'big' }, 'outbox', 'TypeError'],
      [{ outbox: { maxMessages: 1.5 } }, 'outbox.maxMessages', 'RangeError'],
      [{ outbox: { maxBytes: -1 } }, 'outbox.maxBytes', 'RangeError'],
      [{ pongTimeout: 'x' }, 'pongTimeout', 'TypeError'],
    ];
    for (const [options, name, error] of cases) {
      assert.throws(() => reconnecting(options), { name: error, message: new RegExp(`^o: ${name.replace('.', '\\.')} `) }, name);
    }
  });

  test('the edge values pass: string and string-array headers, Infinity where allowed, every kind of proxy, reconnect true', () => {
    client({ headers: { a: 'x', b: ['y', 'z'], c: [] }, maxPayload: Infinity, highWaterMark: Infinity });
    for (const proxy of [false, 'http://proxy.example:3128', new globalThis.URL('http://proxy.example:3128')]) client({ proxy });
    reconnecting({ reconnect: true });
    reconnecting({ reconnect: false, outbox: { maxMessages: Infinity, maxBytes: Infinity, policy: 'reject' } });
    reconnecting({ reconnect: { maxRetries: Infinity, retryOnCodes: [1000, 4000] } });
    // maxDelay equal to minDelay; a minDelay alone above the default cap (it raises the cap).
    reconnecting({ reconnect: { minDelay: 100, maxDelay: 100 } });
    reconnecting({ reconnect: { minDelay: 60_000 } });
  });
});
