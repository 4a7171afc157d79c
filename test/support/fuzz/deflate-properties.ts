/**
 * Property-based tests of permessage-deflate's parameter handling (fast-check): any offer the
 * client builds is accepted by the server and the server's answer by the client, with parameters
 * both sides agree on; and any Sec-WebSocket-Extensions text only ever fails with a 400.
 */
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { deflateRawSync } from 'node:zlib';
import { HandshakeError, ProtocolError } from '../../../src/errors.js';
import { parseExtensionHeader } from '../../../src/handshake/extension-header.js';
import { PerMessageDeflate } from '../../../src/extensions/permessage-deflate/codec.js';
import { clientDeflate, serverDeflate } from '../../../src/extensions/permessage-deflate/handshake.js';
import { type PerMessageDeflateOptions } from '../../../src/extensions/permessage-deflate/negotiation.js';

const bitsArb = fc.option(fc.integer({ min: 9, max: 15 }), { nil: undefined });

const optionsArb: fc.Arbitrary<PerMessageDeflateOptions> = fc.record({
  serverNoContextTakeover: fc.boolean(),
  clientNoContextTakeover: fc.boolean(),
  serverMaxWindowBits: bitsArb,
  clientMaxWindowBits: fc.oneof(bitsArb, fc.constant(true), fc.constant(false)),
}).map((options) => Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as PerMessageDeflateOptions);

/** A client offer from any options is accepted, and the answer is accepted by that client. */
export function negotiationRoundTripProperty(): fc.IPropertyWithHooks<[PerMessageDeflateOptions, PerMessageDeflateOptions]> {
  return fc.property(optionsArb, optionsArb, (clientOptions, serverOptions) => {
    const client = clientDeflate(clientOptions, 1 << 20);
    assert.ok(client.offer !== undefined);
    const answer = serverDeflate(serverOptions, client.offer, 1 << 20);
    assert.ok(answer !== undefined, `declined ${client.offer}`);
    const codec = client.accept(answer.response);
    assert.ok(codec !== undefined);
    // Both sides agree on every parameter.
    assert.deepEqual(codec.params, answer.codec.params);
    if (clientOptions.serverNoContextTakeover) assert.equal(codec.params.serverNoContextTakeover, true);
    if (typeof clientOptions.serverMaxWindowBits === 'number') assert.ok(codec.params.serverMaxWindowBits <= clientOptions.serverMaxWindowBits);
  });
}

const PIECES = ['permessage-deflate', 'x-other', ';', ',', '=', '"', '\\', ' ', 'server_no_context_takeover', 'client_no_context_takeover', 'server_max_window_bits', 'client_max_window_bits', '8', '9', '15', '16', '010', 'a'];

/**
 * Any header text: the server answers (with a response the grammar accepts), declines, or refuses
 * with HandshakeError 400; the grammar parser throws nothing but its own error.
 */
export function hostileExtensionHeaderProperty(): fc.IPropertyWithHooks<[string]> {
  const header = fc.oneof(fc.array(fc.constantFrom(...PIECES), { maxLength: 14 }).map((parts) => parts.join('')), fc.string({ maxLength: 80 }));
  return fc.property(header, (text) => {
    try {
      const answer = serverDeflate(true, text, 1 << 20);
      if (answer !== undefined) {
        const [element, ...others] = parseExtensionHeader(answer.response);
        assert.equal(others.length, 0);
        assert.equal(element!.name, 'permessage-deflate');
      }
    } catch (error) {
      if (!(error instanceof HandshakeError)) throw error;
      assert.equal(error.status, 400);
    }
  });
}

const MAX_INFLATED = 4096;

/**
 * Compressed payloads, valid, mutated or random, and bombs: inflating one either gives at most
 * maxPayload bytes (exactly the original, when it was not mutated) or fails with ProtocolError
 * 1007 (corrupt) or 1009 (too big); never anything else, and the codec keeps working.
 */
export function hostileInflateProperty(): fc.IPropertyWithHooks<[Uint8Array, number, Array<[number, number]>, boolean]> {
  const plain = fc.oneof(fc.uint8Array({ maxLength: 3000 }), fc.integer({ min: 0, max: 100_000 }).map((n) => new Uint8Array(n)));
  return fc.property(plain, fc.integer({ min: 0, max: 9 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.boolean(), (data, level, mutations, takeover) => {
    const params = { serverNoContextTakeover: !takeover, clientNoContextTakeover: !takeover, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };
    const codec = new PerMessageDeflate(params, 'server', {}, MAX_INFLATED);
    const compressed = Buffer.from(deflateRawSync(data, { level, finishFlush: 2 }));
    const wire = compressed.subarray(0, Math.max(0, compressed.length - 4));
    for (const [at, value] of mutations) if (wire.length > 0) wire[at % wire.length] = value;
    try {
      const out = codec.decompressSync(Buffer.from(wire));
      assert.ok(out !== null && out.length <= MAX_INFLATED, 'inflated at once, within the limit');
      if (mutations.length === 0) assert.deepEqual(out, Buffer.from(data));
    } catch (error) {
      assert.ok(error instanceof ProtocolError, String(error));
      assert.ok(error.closeCode === 1007 || error.closeCode === 1009, `close code ${error.closeCode}`);
      if (mutations.length === 0) assert.equal(error.closeCode, 1009);
    }
  });
}
