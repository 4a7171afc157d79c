/**
 * permessage-deflate in the opening handshake: from the user's option to the header sent and the
 * codec used, in both roles.
 */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { HandshakeError } from '../../../src/errors.js';
import { checkServerDeflateOption, clientDeflate, serverDeflate } from '../../../src/extensions/permessage-deflate/handshake.js';

const MiB = 1024 * 1024;

describe('serverDeflate', () => {
  test('off (undefined, false, or enabled: false) answers nothing whatever the client offers', () => {
    for (const option of [undefined, false, { enabled: false }] as const) {
      assert.equal(serverDeflate(option, 'permessage-deflate', MiB), undefined);
    }
  });

  test('an option that is neither a boolean nor an options object (0, null, "no", 42) is a TypeError, not compression turned on', () => {
    for (const option of [0, null, 'no', 'false', 42, 1]) {
      assert.throws(() => checkServerDeflateOption(option as never), { name: 'TypeError', message: /perMessageDeflate/ }, JSON.stringify(option));
      assert.throws(() => serverDeflate(option as never, 'permessage-deflate', MiB), TypeError, JSON.stringify(option));
    }
  });

  test('on, with no Sec-WebSocket-Extensions header, answers nothing', () => {
    assert.equal(serverDeflate(true, undefined, MiB), undefined);
  });

  test('true answers with server_no_context_takeover by default and builds a server codec', () => {
    const result = serverDeflate(true, 'permessage-deflate; client_max_window_bits', MiB);
    assert.ok(result);
    assert.equal(result.response, 'permessage-deflate; server_no_context_takeover');
    assert.equal(result.codec.outboundNoContextTakeover, true);
    assert.deepEqual(result.codec.params, { serverNoContextTakeover: true, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 });
  });

  test('an option given as undefined keeps its default, as if left out (server and client)', () => {
    const offer = 'permessage-deflate; client_max_window_bits';
    assert.equal(serverDeflate({ serverNoContextTakeover: undefined, level: undefined }, offer, MiB)?.response, serverDeflate({}, offer, MiB)?.response);
    assert.equal(serverDeflate({ serverNoContextTakeover: undefined }, offer, MiB)?.response, 'permessage-deflate; server_no_context_takeover');
    assert.equal(clientDeflate({ clientNoContextTakeover: undefined, clientMaxWindowBits: undefined }, MiB)?.offer, clientDeflate({}, MiB)?.offer);
  });

  test('options are merged over the defaults: serverNoContextTakeover false keeps server context takeover', () => {
    const result = serverDeflate({ serverNoContextTakeover: false }, 'permessage-deflate', MiB);
    assert.ok(result);
    assert.equal(result.response, 'permessage-deflate');
    assert.equal(result.codec.outboundNoContextTakeover, false);
  });

  test('options such as threshold reach the codec', () => {
    const result = serverDeflate({ threshold: 0 }, 'permessage-deflate', MiB);
    assert.ok(result);
    assert.equal(result.codec.threshold, 0);
    assert.equal(result.codec.shouldCompress(0), true);
  });

  test('an offer every element of which is declined answers nothing (the connection goes on without it)', () => {
    assert.equal(serverDeflate(true, 'permessage-deflate; foo, permessage-deflate; server_max_window_bits=20', MiB), undefined);
  });

  test('a header that breaks the extension grammar is refused with HandshakeError 400', () => {
    for (const header of ['permessage-deflate; a="unterminated', 'bad name', 'permessage-deflate; x=a/b']) {
      assert.throws(
        () => serverDeflate(true, header, MiB),
        (error: unknown) => error instanceof HandshakeError && error.status === 400 && /Sec-WebSocket-Extensions/.test(error.message),
        header,
      );
    }
  });

  test('a bad header is not even parsed when deflate is off', () => {
    assert.equal(serverDeflate(false, 'bad name', MiB), undefined);
  });

  test('the maxPayload given limits what the codec inflates', () => {
    const result = serverDeflate(true, 'permessage-deflate', 10);
    assert.ok(result);
    // 11 bytes of 'a', sync-flushed raw deflate without its tail.
    const client = clientDeflate(true, MiB).accept('permessage-deflate; server_no_context_takeover');
    assert.ok(client);
    const wire = client.compressSync(Buffer.alloc(11, 0x61));
    assert.throws(() => result.codec.decompressSync(wire), (error: unknown) => (error as { closeCode?: number }).closeCode === 1009);
  });
});

describe('clientDeflate', () => {
  test('by default (undefined or true) offers client_no_context_takeover and a value-less client_max_window_bits', () => {
    for (const option of [undefined, true] as const) {
      assert.equal(clientDeflate(option, MiB).offer, 'permessage-deflate; client_no_context_takeover; client_max_window_bits');
    }
  });

  test('false or enabled: false offers nothing, and then any extension in the response fails the handshake', () => {
    for (const option of [false, { enabled: false }] as const) {
      const deflate = clientDeflate(option, MiB);
      assert.equal(deflate.offer, undefined);
      assert.equal(deflate.accept(''), undefined);
      assert.throws(() => deflate.accept('permessage-deflate'), HandshakeError);
    }
  });

  test('an option of the wrong type (0, "no", 42) is a TypeError, not an offer', () => {
    for (const option of [0, 'no', 42]) {
      assert.throws(() => clientDeflate(option as never, MiB), { name: 'TypeError', message: /perMessageDeflate/ }, JSON.stringify(option));
    }
  });

  test('options are merged over the defaults', () => {
    assert.equal(clientDeflate({ clientNoContextTakeover: false }, MiB).offer, 'permessage-deflate; client_max_window_bits');
    assert.equal(
      clientDeflate({ serverNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 12 }, MiB).offer,
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12',
    );
  });

  test('an empty response means no extension: no codec', () => {
    assert.equal(clientDeflate(true, MiB).accept(''), undefined);
  });

  test('an acceptable response gives a client codec with the agreed parameters', () => {
    const codec = clientDeflate(true, MiB).accept('permessage-deflate; server_no_context_takeover; server_max_window_bits=10');
    assert.ok(codec);
    assert.deepEqual(codec.params, { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 15 });
    assert.equal(codec.outboundNoContextTakeover, true);
  });

  const refused: Array<[string, string]> = [
    ['another extension', 'x-foo'],
    ['two elements', 'permessage-deflate, permessage-deflate'],
    ['permessage-deflate plus another extension', 'permessage-deflate, x-foo'],
    ['a grammar error', 'permessage-deflate; a="x'],
    ['an unknown parameter', 'permessage-deflate; foo'],
    ['a value-less client_max_window_bits', 'permessage-deflate; client_max_window_bits'],
    ['an invalid window size', 'permessage-deflate; server_max_window_bits=16'],
  ];
  for (const [what, response] of refused) {
    test(`a response with ${what} fails the handshake with HandshakeError`, () => {
      // Status 101: the server did answer with an upgrade; the answer itself is what is refused.
      assert.throws(() => clientDeflate(true, MiB).accept(response), (error: unknown) => error instanceof HandshakeError && error.status === 101);
    });
  }

  test('a response that drops server_no_context_takeover we asked for fails the handshake', () => {
    assert.throws(() => clientDeflate({ serverNoContextTakeover: true }, MiB).accept('permessage-deflate'), (error: unknown) => error instanceof HandshakeError && error.status === 101);
    assert.throws(() => clientDeflate(false, MiB).accept('permessage-deflate'), (error: unknown) => error instanceof HandshakeError && error.status === 101);
  });
});
