/**
 * Property-based tests of the opening handshake's parsers and writers (fast-check): valid upgrade
 * requests parse to what was written; hostile heads only ever fail with a HandshakeError carrying a
 * 4xx status; and no string given to the response writers can inject a header line.
 */
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { HandshakeError } from '../../../src/errors.js';
import { findHeadEnd, parseRequestHead, serializeResponse } from '../../../src/handshake/http-head.js';
import { buildAcceptResponse, buildRefusalResponse, validateUpgradeRequest } from '../../../src/handshake/server-handshake.js';

const TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const tokenArb = fc.string({ unit: fc.constantFrom(...TOKEN_CHARS), minLength: 1, maxLength: 12 });
/** Header values: visible ASCII and inner spaces, no edge whitespace (the parser trims it). */
const valueArb = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 30 });
const keyArb = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((bytes) => Buffer.from(bytes).toString('base64'));

interface RequestSpec {
  target: string;
  key: string;
  protocols: string[];
  extra: Array<[string, string]>;
}

const requestArb: fc.Arbitrary<RequestSpec> = fc.record({
  target: fc.string({ unit: fc.constantFrom(...'/abcz09?=&%.-_~'), maxLength: 20 }).map((path) => `/${path}`),
  key: keyArb,
  protocols: fc.uniqueArray(tokenArb, { maxLength: 4 }),
  extra: fc.array(fc.tuple(tokenArb.map((name) => `x-${name}`), valueArb), { maxLength: 5 }),
});

function requestText(spec: RequestSpec): string {
  const lines = [`GET ${spec.target} HTTP/1.1`, 'Host: example.test', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Key: ${spec.key}`, 'Sec-WebSocket-Version: 13'];
  if (spec.protocols.length > 0) lines.push(`Sec-WebSocket-Protocol: ${spec.protocols.join(', ')}`);
  for (const [name, value] of spec.extra) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** A valid upgrade request parses and validates to the target, key, subprotocols and headers sent. */
export function validRequestProperty(): fc.IPropertyWithHooks<[RequestSpec]> {
  return fc.property(requestArb, (spec) => {
    const bytes = Buffer.from(requestText(spec), 'latin1');
    assert.equal(findHeadEnd(bytes), bytes.length);
    const head = parseRequestHead(bytes);
    assert.equal(head.target, spec.target);
    const offer = validateUpgradeRequest(head);
    assert.equal(offer.key, spec.key);
    assert.deepEqual(offer.protocols, spec.protocols);
    const extra = head.rawHeaders.filter(([name]) => name.startsWith('x-'));
    assert.deepEqual(extra, spec.extra.map(([name, value]) => [name.toLowerCase(), value]));
  });
}

/** A request head mutated or made of random bytes: parsing succeeds or throws HandshakeError 4xx. */
export function hostileRequestProperty(): fc.IPropertyWithHooks<[Uint8Array]> {
  const mutated = fc
    .tuple(requestArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'insert', 'delete')), { minLength: 1, maxLength: 8 }))
    .map(([spec, mutations]) => {
      const bytes = [...Buffer.from(requestText(spec), 'latin1')];
      for (const [at, value, op] of mutations) {
        const i = at % bytes.length;
        if (op === 'set') bytes[i] = value;
        else if (op === 'insert') bytes.splice(i, 0, value);
        else bytes.splice(i, 1);
      }
      return Uint8Array.from(bytes);
    });
  const hostile = fc.oneof(mutated, fc.uint8Array({ maxLength: 400 }), fc.string({ unit: fc.constantFrom('\r', '\n', ':', ' ', '\t', 'a', 'G', '\0'), maxLength: 200 }).map((text) => new Uint8Array(Buffer.from(text, 'latin1'))));
  return fc.property(hostile, (input) => {
    const buffer = Buffer.from(input);
    const end = findHeadEnd(buffer);
    assert.ok(end === -1 || (end >= 4 && end <= buffer.length));
    try {
      validateUpgradeRequest(parseRequestHead(buffer.subarray(0, end === -1 ? buffer.length : end)));
    } catch (error) {
      if (!(error instanceof HandshakeError)) throw error;
      assert.ok(error.status === 400 || error.status === 426, `status ${error.status}`);
      assert.doesNotMatch(error.message, /\n|\r|at .*\.js/);
    }
  });
}

/** Lines of a serialized head: the status line and one per header, nothing more. */
function headLines(response: Buffer): string[] {
  const text = response.toString('latin1');
  return text.slice(0, text.indexOf('\r\n\r\n')).split('\r\n');
}

/**
 * Any string as a subprotocol, extra header value or refusal body either is refused by the writer
 * (TypeError) or is written without adding a header line: no header injection.
 */
export function responseInjectionProperty(): fc.IPropertyWithHooks<[string, string, string, number]> {
  const anyText = fc.string({ unit: fc.oneof(fc.constantFrom('\r', '\n', '\0', ':', ' '), fc.string({ minLength: 1, maxLength: 1, unit: 'binary' })), maxLength: 40 });
  return fc.property(anyText, anyText, anyText, fc.constantFrom(400, 401, 403, 404, 426, 429, 503), (protocol, value, body, status) => {
    try {
      const accept = buildAcceptResponse('dGhlIHNhbXBsZSBub25jZQ==', { protocol, headers: { 'X-Extra': value } });
      assert.equal(headLines(accept).length, 1 + 5);
    } catch (error) {
      assert.ok(error instanceof TypeError, String(error));
    }
    const refusal = buildRefusalResponse(status, {}, body);
    const lines = headLines(refusal);
    assert.equal(lines.length, status === 426 ? 6 : 4);
    assert.equal(refusal.subarray(refusal.indexOf('\r\n\r\n') + 4).toString('utf8'), body);
    try {
      serializeResponse(status, { 'X-Reason': value });
    } catch (error) {
      assert.ok(error instanceof TypeError, String(error));
    }
  });
}
