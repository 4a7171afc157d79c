/**
 * permessage-deflate negotiation (RFC 7692 §5, §7.1), both roles, sans-I/O.
 */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import {
  acceptDeflateResponse,
  buildDeflateOffer,
  DeflateNegotiationError,
  negotiateDeflate,
  type DeflateParams,
  type PerMessageDeflateOptions,
} from '../../../src/extensions/permessage-deflate/negotiation.js';
import { parseExtensionHeader, type ExtensionOffer } from '../../../src/handshake/extension-header.js';

const DEFAULT_PARAMS: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

function params(overrides: Partial<DeflateParams> = {}): DeflateParams {
  return { ...DEFAULT_PARAMS, ...overrides };
}

/** A parameter list as a sorted list of "name" / "name=value" strings (order does not matter on the wire). */
function paramSet(element: string): string[] {
  const offers = parseExtensionHeader(element);
  assert.equal(offers.length, 1, `one element in ${element}`);
  assert.equal(offers[0]!.name, 'permessage-deflate');
  return offers[0]!.params.map(([name, value]) => (value === true ? name : `${name}=${value}`)).sort();
}

/** Server side: negotiate from a header text. */
function negotiate(header: string, options: PerMessageDeflateOptions = {}): ReturnType<typeof negotiateDeflate> {
  return negotiateDeflate(parseExtensionHeader(header), options);
}

/** Client side: validate a response text against the options the offer was built from. */
function accept(response: string, options: PerMessageDeflateOptions = {}): DeflateParams {
  const elements = parseExtensionHeader(response);
  assert.equal(elements.length, 1);
  return acceptDeflateResponse(elements[0]!, options);
}

const BOOLS: ReadonlyArray<boolean | undefined> = [undefined, false, true];
const SERVER_BITS: ReadonlyArray<number | undefined> = [undefined, 8, 9, 10, 11, 12, 13, 14, 15];
const CLIENT_BITS: ReadonlyArray<number | boolean | undefined> = [undefined, true, false, 8, 9, 10, 11, 12, 13, 14, 15];

describe('buildDeflateOffer (client)', () => {
  /** What the offer must contain, from RFC 7692 §7.1 and the option documentation. */
  function expectedOffer(options: PerMessageDeflateOptions): string[] {
    const out: string[] = [];
    if (options.serverNoContextTakeover) out.push('server_no_context_takeover');
    if (options.clientNoContextTakeover) out.push('client_no_context_takeover');
    if (options.serverMaxWindowBits !== undefined) out.push(`server_max_window_bits=${options.serverMaxWindowBits}`);
    const client = options.clientMaxWindowBits;
    if (client === undefined || client === true) out.push('client_max_window_bits');
    else if (client !== false) out.push(`client_max_window_bits=${client}`);
    return out.sort();
  }

  let count = 0;
  for (const serverNoContextTakeover of BOOLS) {
    for (const clientNoContextTakeover of BOOLS) {
      test(`every window-bits option with serverNoContextTakeover=${serverNoContextTakeover} clientNoContextTakeover=${clientNoContextTakeover} gives the matching offer`, () => {
        for (const serverMaxWindowBits of SERVER_BITS) {
          for (const clientMaxWindowBits of CLIENT_BITS) {
            const options: PerMessageDeflateOptions = { serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits, clientMaxWindowBits };
            const offer = buildDeflateOffer(options);
            assert.deepEqual(paramSet(offer), expectedOffer(options), `offer for ${JSON.stringify(options)}: ${offer}`);
            count++;
          }
        }
      });
    }
  }

  test('all combinations were checked', () => {
    // Guards against the loops above silently running nothing.
    assert.equal(count, BOOLS.length * BOOLS.length * SERVER_BITS.length * CLIENT_BITS.length);
  });

  test('the empty options offer the extension with a value-less client_max_window_bits', () => {
    assert.equal(buildDeflateOffer({}), 'permessage-deflate; client_max_window_bits');
  });

  test('options that only matter for compression (threshold, level, memLevel, concurrency) add nothing', () => {
    assert.equal(buildDeflateOffer({ threshold: 0, level: 9, memLevel: 9, concurrency: 1, clientMaxWindowBits: false }), 'permessage-deflate');
  });

  for (const bad of [7, 16, 0, -1, 9.5, Number.NaN]) {
    test(`window bits ${bad} in the options throw RangeError`, () => {
      assert.throws(() => buildDeflateOffer({ serverMaxWindowBits: bad }), RangeError);
      assert.throws(() => buildDeflateOffer({ clientMaxWindowBits: bad }), RangeError);
    });
  }
});

describe('negotiateDeflate (server): single parameters', () => {
  test('a bare offer is accepted with the RFC defaults and a bare response', () => {
    const result = negotiate('permessage-deflate');
    assert.ok(result);
    assert.equal(result.response, 'permessage-deflate');
    assert.deepEqual(result.params, params());
  });

  test('server_no_context_takeover is accepted and echoed', () => {
    const result = negotiate('permessage-deflate; server_no_context_takeover');
    assert.ok(result);
    assert.deepEqual(paramSet(result.response), ['server_no_context_takeover']);
    assert.deepEqual(result.params, params({ serverNoContextTakeover: true }));
  });

  test('server_no_context_takeover is echoed even when the server option says false (the client asked for it)', () => {
    const result = negotiate('permessage-deflate; server_no_context_takeover', { serverNoContextTakeover: false });
    assert.ok(result);
    assert.deepEqual(paramSet(result.response), ['server_no_context_takeover']);
    assert.equal(result.params.serverNoContextTakeover, true);
  });

  test('client_no_context_takeover is accepted and reported in the response', () => {
    const result = negotiate('permessage-deflate; client_no_context_takeover');
    assert.ok(result);
    assert.deepEqual(paramSet(result.response), ['client_no_context_takeover']);
    assert.deepEqual(result.params, params({ clientNoContextTakeover: true }));
  });

  for (let bits = 8; bits <= 15; bits++) {
    test(`server_max_window_bits=${bits} is accepted and answered with ${bits}`, () => {
      const result = negotiate(`permessage-deflate; server_max_window_bits=${bits}`);
      assert.ok(result);
      assert.deepEqual(paramSet(result.response), [`server_max_window_bits=${bits}`]);
      assert.deepEqual(result.params, params({ serverMaxWindowBits: bits }));
    });

    test(`client_max_window_bits=${bits} is accepted and answered with ${bits}`, () => {
      const result = negotiate(`permessage-deflate; client_max_window_bits=${bits}`);
      assert.ok(result);
      assert.deepEqual(paramSet(result.response), [`client_max_window_bits=${bits}`]);
      assert.deepEqual(result.params, params({ clientMaxWindowBits: bits }));
    });
  }

  test('a value-less client_max_window_bits is accepted and not answered (the client keeps a 15-bit window)', () => {
    const result = negotiate('permessage-deflate; client_max_window_bits');
    assert.ok(result);
    assert.equal(result.response, 'permessage-deflate');
    assert.deepEqual(result.params, params());
  });

  test('window bits given as a quoted string are accepted like the token', () => {
    const result = negotiate('permessage-deflate; server_max_window_bits="10"; client_max_window_bits="9"');
    assert.ok(result);
    assert.deepEqual(result.params, params({ serverMaxWindowBits: 10, clientMaxWindowBits: 9 }));
  });

  for (const value of ['7', '16', '08', '1x', '0', '-9', '+9', '9.0', '015', '99', 'ten']) {
    test(`server_max_window_bits=${value} declines the offer`, () => {
      assert.equal(negotiate(`permessage-deflate; server_max_window_bits=${value}`), undefined);
    });
    test(`client_max_window_bits=${value} declines the offer`, () => {
      assert.equal(negotiate(`permessage-deflate; client_max_window_bits=${value}`), undefined);
    });
  }

  test('a value-less server_max_window_bits declines the offer', () => {
    assert.equal(negotiate('permessage-deflate; server_max_window_bits'), undefined);
  });

  test('a context-takeover flag with a value declines the offer', () => {
    assert.equal(negotiate('permessage-deflate; server_no_context_takeover=1'), undefined);
    assert.equal(negotiate('permessage-deflate; client_no_context_takeover=true'), undefined);
  });

  test('an unknown parameter declines the offer', () => {
    assert.equal(negotiate('permessage-deflate; unknown_param'), undefined);
    assert.equal(negotiate('permessage-deflate; server_max_window_bits=10; x=1'), undefined);
  });

  for (const param of ['server_no_context_takeover', 'client_no_context_takeover', 'server_max_window_bits=10', 'client_max_window_bits=10', 'client_max_window_bits']) {
    test(`a duplicated ${param} declines the offer`, () => {
      assert.equal(negotiate(`permessage-deflate; ${param}; ${param}`), undefined);
    });
  }

  test('client_max_window_bits given both with and without a value counts as duplicated', () => {
    assert.equal(negotiate('permessage-deflate; client_max_window_bits; client_max_window_bits=10'), undefined);
  });

  test('no permessage-deflate element (other extensions only, or none) gives undefined', () => {
    assert.equal(negotiateDeflate([], {}), undefined);
    assert.equal(negotiate('x-webkit-deflate-frame, foo; bar'), undefined);
  });
});

describe('negotiateDeflate (server): combined parameters and fallback offers', () => {
  test('all four parameters together are accepted', () => {
    const result = negotiate('permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11');
    assert.ok(result);
    assert.deepEqual(paramSet(result.response), [
      'client_max_window_bits=11',
      'client_no_context_takeover',
      'server_max_window_bits=10',
      'server_no_context_takeover',
    ]);
    assert.deepEqual(result.params, { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 11 });
  });

  test('parameters in any order give the same result', () => {
    const a = negotiate('permessage-deflate; client_max_window_bits=9; server_max_window_bits=12; client_no_context_takeover');
    const b = negotiate('permessage-deflate; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=9');
    assert.ok(a && b);
    assert.deepEqual(a.params, b.params);
    assert.deepEqual(paramSet(a.response), paramSet(b.response));
  });

  test('other extensions before the offer are skipped', () => {
    const result = negotiate('x-foo; a=1, permessage-deflate; server_max_window_bits=9');
    assert.ok(result);
    assert.equal(result.params.serverMaxWindowBits, 9);
  });

  test('an offer with a duplicated parameter is declined and the NEXT offer is accepted', () => {
    const result = negotiate('permessage-deflate; server_max_window_bits=10; server_max_window_bits=10, permessage-deflate; client_no_context_takeover');
    assert.ok(result);
    assert.deepEqual(paramSet(result.response), ['client_no_context_takeover']);
    assert.deepEqual(result.params, params({ clientNoContextTakeover: true }));
  });

  test('several invalid offers are skipped in order until a valid one (the first valid wins, not a later one)', () => {
    const header = [
      'permessage-deflate; server_no_context_takeover; server_no_context_takeover',
      'permessage-deflate; mystery',
      'permessage-deflate; client_max_window_bits=16',
      'permessage-deflate; server_max_window_bits=11',
      'permessage-deflate; server_max_window_bits=12',
      'permessage-deflate',
    ].join(', ');
    const result = negotiate(header);
    assert.ok(result);
    assert.deepEqual(paramSet(result.response), ['server_max_window_bits=11']);
    assert.deepEqual(result.params, params({ serverMaxWindowBits: 11 }));
  });

  test('the first valid offer wins over a later, simpler one', () => {
    const result = negotiate('permessage-deflate; client_max_window_bits=10, permessage-deflate');
    assert.ok(result);
    assert.equal(result.params.clientMaxWindowBits, 10);
  });

  test('when every offer is invalid the extension is declined', () => {
    assert.equal(negotiate('permessage-deflate; a, permessage-deflate; server_max_window_bits=7, permessage-deflate; client_no_context_takeover; client_no_context_takeover'), undefined);
  });
});

describe('negotiateDeflate (server): server options', () => {
  test('serverNoContextTakeover adds server_no_context_takeover though the client did not ask', () => {
    const result = negotiate('permessage-deflate', { serverNoContextTakeover: true });
    assert.ok(result);
    assert.deepEqual(paramSet(result.response), ['server_no_context_takeover']);
    assert.equal(result.params.serverNoContextTakeover, true);
  });

  test('serverNoContextTakeover false leaves context takeover on when the client did not ask', () => {
    const result = negotiate('permessage-deflate', { serverNoContextTakeover: false });
    assert.ok(result);
    assert.equal(result.response, 'permessage-deflate');
    assert.equal(result.params.serverNoContextTakeover, false);
  });

  test('clientNoContextTakeover asks the client to reset its context', () => {
    const result = negotiate('permessage-deflate', { clientNoContextTakeover: true });
    assert.ok(result);
    assert.deepEqual(paramSet(result.response), ['client_no_context_takeover']);
    assert.equal(result.params.clientNoContextTakeover, true);
  });

  test('serverMaxWindowBits limits our window and is announced though the client offered no limit', () => {
    const result = negotiate('permessage-deflate', { serverMaxWindowBits: 10 });
    assert.ok(result);
    assert.deepEqual(paramSet(result.response), ['server_max_window_bits=10']);
    assert.equal(result.params.serverMaxWindowBits, 10);
  });

  test('serverMaxWindowBits 15 (the default) is not announced', () => {
    const result = negotiate('permessage-deflate', { serverMaxWindowBits: 15 });
    assert.ok(result);
    assert.equal(result.response, 'permessage-deflate');
    assert.equal(result.params.serverMaxWindowBits, 15);
  });

  for (const [offered, ours, agreed] of [[12, 10, 10], [9, 10, 9], [10, 10, 10], [15, 8, 8]] as const) {
    test(`server_max_window_bits=${offered} offered with serverMaxWindowBits ${ours} agrees on the smaller, ${agreed}`, () => {
      const result = negotiate(`permessage-deflate; server_max_window_bits=${offered}`, { serverMaxWindowBits: ours });
      assert.ok(result);
      assert.deepEqual(paramSet(result.response), [`server_max_window_bits=${agreed}`]);
      assert.equal(result.params.serverMaxWindowBits, agreed);
    });
  }

  test('clientMaxWindowBits is answered when the client offered a value-less client_max_window_bits', () => {
    const result = negotiate('permessage-deflate; client_max_window_bits', { clientMaxWindowBits: 10 });
    assert.ok(result);
    assert.deepEqual(paramSet(result.response), ['client_max_window_bits=10']);
    assert.equal(result.params.clientMaxWindowBits, 10);
  });

  for (const [offered, ours, agreed] of [[12, 10, 10], [9, 10, 9], [15, 15, 15]] as const) {
    test(`client_max_window_bits=${offered} offered with clientMaxWindowBits ${ours} is answered with ${agreed}`, () => {
      const result = negotiate(`permessage-deflate; client_max_window_bits=${offered}`, { clientMaxWindowBits: ours });
      assert.ok(result);
      assert.deepEqual(paramSet(result.response), [`client_max_window_bits=${agreed}`]);
      assert.equal(result.params.clientMaxWindowBits, agreed);
    });
  }

  test('clientMaxWindowBits is NOT answered when the client did not offer client_max_window_bits (RFC 7692 §7.1.2.2)', () => {
    const result = negotiate('permessage-deflate', { clientMaxWindowBits: 10 });
    assert.ok(result);
    assert.equal(result.response, 'permessage-deflate');
    assert.equal(result.params.clientMaxWindowBits, 15);
  });

  test('every server option together', () => {
    const result = negotiate('permessage-deflate; client_max_window_bits', {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 12,
      clientMaxWindowBits: 9,
    });
    assert.ok(result);
    assert.deepEqual(paramSet(result.response), ['client_max_window_bits=9', 'client_no_context_takeover', 'server_max_window_bits=12', 'server_no_context_takeover']);
    assert.deepEqual(result.params, { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 12, clientMaxWindowBits: 9 });
  });
});

describe('acceptDeflateResponse (client)', () => {
  const rejects = (response: string, options: PerMessageDeflateOptions = {}): void => {
    assert.throws(() => accept(response, options), DeflateNegotiationError, `${response} for ${JSON.stringify(options)}`);
  };

  test('a bare response gives the RFC defaults', () => {
    assert.deepEqual(accept('permessage-deflate'), params());
  });

  test('server_no_context_takeover offered and answered is accepted', () => {
    assert.deepEqual(accept('permessage-deflate; server_no_context_takeover', { serverNoContextTakeover: true }), params({ serverNoContextTakeover: true }));
  });

  test('server_no_context_takeover offered and missing from the response is rejected', () => {
    rejects('permessage-deflate', { serverNoContextTakeover: true });
  });

  test('server_no_context_takeover not offered but answered is accepted (the server may reset its context)', () => {
    assert.equal(accept('permessage-deflate; server_no_context_takeover').serverNoContextTakeover, true);
  });

  test('client_no_context_takeover in the response is accepted whether offered or not', () => {
    assert.equal(accept('permessage-deflate; client_no_context_takeover').clientNoContextTakeover, true);
    assert.equal(accept('permessage-deflate; client_no_context_takeover', { clientNoContextTakeover: true }).clientNoContextTakeover, true);
  });

  test('client_no_context_takeover offered but not answered still resets our own context', () => {
    assert.equal(accept('permessage-deflate', { clientNoContextTakeover: true }).clientNoContextTakeover, true);
  });

  for (let offered = 8; offered <= 15; offered++) {
    test(`server_max_window_bits=${offered} offered: any answer up to ${offered} is accepted, above it rejected`, () => {
      for (let answered = 8; answered <= 15; answered++) {
        const response = `permessage-deflate; server_max_window_bits=${answered}`;
        if (answered <= offered) assert.equal(accept(response, { serverMaxWindowBits: offered }).serverMaxWindowBits, answered);
        else rejects(response, { serverMaxWindowBits: offered });
      }
    });
  }

  test('server_max_window_bits offered and missing from the response is rejected (RFC 7692 §7.1.2.1)', () => {
    rejects('permessage-deflate', { serverMaxWindowBits: 10 });
    rejects('permessage-deflate; server_no_context_takeover', { serverMaxWindowBits: 15 });
  });

  test('server_max_window_bits not offered but answered is accepted', () => {
    assert.equal(accept('permessage-deflate; server_max_window_bits=12').serverMaxWindowBits, 12);
  });

  test('client_max_window_bits answered to a value-less offer is accepted with any value', () => {
    for (let bits = 8; bits <= 15; bits++) {
      assert.equal(accept(`permessage-deflate; client_max_window_bits=${bits}`, { clientMaxWindowBits: true }).clientMaxWindowBits, bits);
      assert.equal(accept(`permessage-deflate; client_max_window_bits=${bits}`).clientMaxWindowBits, bits);
    }
  });

  test('client_max_window_bits answered when it was not offered is rejected', () => {
    rejects('permessage-deflate; client_max_window_bits=15', { clientMaxWindowBits: false });
    rejects('permessage-deflate; client_max_window_bits=8', { clientMaxWindowBits: false });
  });

  for (let offered = 8; offered <= 15; offered++) {
    test(`client_max_window_bits=${offered} offered: any answer up to ${offered} is accepted, above it rejected`, () => {
      for (let answered = 8; answered <= 15; answered++) {
        const response = `permessage-deflate; client_max_window_bits=${answered}`;
        if (answered <= offered) assert.equal(accept(response, { clientMaxWindowBits: offered }).clientMaxWindowBits, answered);
        else rejects(response, { clientMaxWindowBits: offered });
      }
    });
  }

  test('client_max_window_bits offered with a value and not answered keeps our window within the offer', () => {
    assert.equal(accept('permessage-deflate', { clientMaxWindowBits: 10 }).clientMaxWindowBits, 10);
  });

  test('a value-less client_max_window_bits in a response is rejected', () => {
    rejects('permessage-deflate; client_max_window_bits');
    rejects('permessage-deflate; client_max_window_bits', { clientMaxWindowBits: true });
  });

  test('duplicated parameters in the response are rejected', () => {
    rejects('permessage-deflate; server_no_context_takeover; server_no_context_takeover', { serverNoContextTakeover: true });
    rejects('permessage-deflate; client_no_context_takeover; client_no_context_takeover');
    rejects('permessage-deflate; server_max_window_bits=10; server_max_window_bits=10', { serverMaxWindowBits: 10 });
    rejects('permessage-deflate; client_max_window_bits=10; client_max_window_bits=10');
  });

  test('unknown parameters in the response are rejected', () => {
    rejects('permessage-deflate; foo');
    rejects('permessage-deflate; server_max_window_bits=10; bar=1', { serverMaxWindowBits: 10 });
  });

  for (const value of ['7', '16', '08', '1x']) {
    test(`window bits ${value} in the response are rejected`, () => {
      rejects(`permessage-deflate; server_max_window_bits=${value}`, { serverMaxWindowBits: 15 });
      rejects(`permessage-deflate; client_max_window_bits=${value}`);
    });
  }

  test('context-takeover flags with a value in the response are rejected', () => {
    rejects('permessage-deflate; server_no_context_takeover=1', { serverNoContextTakeover: true });
    rejects('permessage-deflate; client_no_context_takeover=1');
  });

  test('a rejection is a DeflateNegotiationError (an Error) with a message', () => {
    try {
      accept('permessage-deflate; client_max_window_bits');
      assert.fail('expected a throw');
    } catch (error) {
      assert.ok(error instanceof DeflateNegotiationError);
      assert.ok(error instanceof Error);
      assert.notEqual((error as Error).message, '');
    }
  });
});

describe('both roles agree on the parameters', () => {
  const clientOptions: PerMessageDeflateOptions[] = [
    {},
    { serverNoContextTakeover: true },
    { clientNoContextTakeover: true },
    { serverMaxWindowBits: 9 },
    { serverMaxWindowBits: 12 },
    { clientMaxWindowBits: false },
    { clientMaxWindowBits: 9 },
    { clientMaxWindowBits: 13 },
    { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 11 },
  ];
  const serverOptions: PerMessageDeflateOptions[] = [
    {},
    { serverNoContextTakeover: true },
    { serverNoContextTakeover: false },
    { clientNoContextTakeover: true },
    { serverMaxWindowBits: 10 },
    { clientMaxWindowBits: 10 },
    { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 11, clientMaxWindowBits: 12 },
  ];
  for (const client of clientOptions) {
    test(`the server's response to the offer of ${JSON.stringify(client)} is accepted by that client with the same parameters, for every server option set`, () => {
      const offer: ExtensionOffer[] = parseExtensionHeader(buildDeflateOffer(client));
      for (const server of serverOptions) {
        const result = negotiateDeflate(offer, server);
        assert.ok(result, `server ${JSON.stringify(server)} declined`);
        const atClient = accept(result.response, client);
        // Our own context-takeover choice may be stricter than the agreement; everything else is equal.
        assert.deepEqual(
          { ...atClient, clientNoContextTakeover: result.params.clientNoContextTakeover || atClient.clientNoContextTakeover },
          { ...result.params, clientNoContextTakeover: result.params.clientNoContextTakeover || atClient.clientNoContextTakeover },
          `server ${JSON.stringify(server)} answered ${result.response}`,
        );
        if (result.params.clientNoContextTakeover) assert.equal(atClient.clientNoContextTakeover, true);
        if (client.serverMaxWindowBits !== undefined) assert.ok(result.params.serverMaxWindowBits <= client.serverMaxWindowBits);
        if (typeof client.clientMaxWindowBits === 'number') assert.ok(atClient.clientMaxWindowBits <= client.clientMaxWindowBits);
        if (client.serverNoContextTakeover) assert.equal(atClient.serverNoContextTakeover, true);
      }
    });
  }
});
