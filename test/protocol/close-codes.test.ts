import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { CloseCode, decodeClosePayload, encodeClosePayload, isValidWireCloseCode, MAX_CLOSE_REASON_BYTES } from '../../src/protocol/close-codes.js';
import { ProtocolError } from '../../src/errors.js';

/** RFC 6455 §7.4.1/§7.4.2 and the IANA registry, written independently of the source. */
function ruleAllows(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

describe('isValidWireCloseCode', () => {
  test('matches the rule (1000–1003, 1007–1014, 3000–4999) for every code 0–65535', () => {
    const wrong: number[] = [];
    for (let code = 0; code <= 0xffff; code++) if (isValidWireCloseCode(code) !== ruleAllows(code)) wrong.push(code);
    assert.deepStrictEqual(wrong, []);
  });

  test('rejects the reserved codes 1004, 1005, 1006 and 1015', () => {
    for (const code of [1004, 1005, 1006, 1015]) assert.equal(isValidWireCloseCode(code), false, String(code));
  });

  test('accepts the boundaries 1000, 1014, 3000, 3999, 4000 and 4999 and rejects 999, 1016, 2999, 5000', () => {
    for (const code of [1000, 1014, 3000, 3999, 4000, 4999]) assert.equal(isValidWireCloseCode(code), true, String(code));
    for (const code of [999, 1016, 2999, 5000, 65535]) assert.equal(isValidWireCloseCode(code), false, String(code));
  });
});

describe('encodeClosePayload', () => {
  test('is empty when the code is undefined', () => {
    assert.deepStrictEqual(encodeClosePayload(), Buffer.alloc(0));
    assert.deepStrictEqual(encodeClosePayload(undefined, ''), Buffer.alloc(0));
  });

  test('rejects a reason without a code', () => {
    assert.throws(() => encodeClosePayload(undefined, 'bye'), RangeError);
  });

  test('writes the code big-endian followed by the UTF-8 reason', () => {
    assert.deepStrictEqual(encodeClosePayload(1000), Buffer.from([0x03, 0xe8]));
    assert.deepStrictEqual(encodeClosePayload(4999, 'é!'), Buffer.from([0x13, 0x87, 0xc3, 0xa9, 0x21]));
    assert.deepStrictEqual(encodeClosePayload(CloseCode.GoingAway, 'bye'), Buffer.concat([Buffer.from([0x03, 0xe9]), Buffer.from('bye')]));
  });

  test('accepts every valid wire code and rejects every other code', () => {
    for (let code = 0; code <= 0xffff; code++) {
      if (ruleAllows(code)) assert.equal(encodeClosePayload(code).readUInt16BE(0), code);
      else assert.throws(() => encodeClosePayload(code), RangeError, String(code));
    }
  });

  test('rejects non-integer and out-of-range codes', () => {
    for (const code of [1000.5, NaN, Infinity, -1000, 65536 + 1000]) assert.throws(() => encodeClosePayload(code), RangeError, String(code));
  });

  test('accepts a reason of exactly 123 bytes and rejects 124, counting multi-byte characters in bytes', () => {
    assert.equal(MAX_CLOSE_REASON_BYTES, 123);
    assert.equal(encodeClosePayload(1000, 'a'.repeat(123)).length, 125);
    assert.throws(() => encodeClosePayload(1000, 'a'.repeat(124)), RangeError);
    // 41 × "€" (3 bytes each) = 123 bytes; 42 = 126 bytes although only 42 characters.
    assert.equal(encodeClosePayload(1000, '€'.repeat(41)).length, 125);
    assert.throws(() => encodeClosePayload(1000, '€'.repeat(42)), RangeError);
    // 31 × "😀" (4 bytes, 2 UTF-16 units) = 124 bytes but only 62 string units.
    assert.throws(() => encodeClosePayload(1000, '😀'.repeat(31)), RangeError);
    assert.equal(encodeClosePayload(1000, '😀'.repeat(30) + 'abc').length, 125);
  });
});

describe('encodeClosePayload: arguments of the wrong type', () => {
  test('a code that is not a number, or a reason that is not a string, is a TypeError', () => {
    assert.throws(() => encodeClosePayload('1000' as unknown as number), TypeError);
    assert.throws(() => encodeClosePayload(1000, 123 as unknown as string), TypeError);
    assert.throws(() => encodeClosePayload(undefined, null as unknown as string), TypeError);
  });
});

describe('CloseCode', () => {
  test('each name carries its number from RFC 6455 §7.4.1 and the IANA registry', () => {
    // Written out here, not derived from the source: a name bound to the wrong number would
    // otherwise put that number in close frames (1008 for maxFragments, say) with every test passing.
    assert.deepStrictEqual(
      { ...CloseCode },
      {
        Normal: 1000,
        GoingAway: 1001,
        ProtocolError: 1002,
        UnsupportedData: 1003,
        NoStatus: 1005,
        Abnormal: 1006,
        InvalidPayload: 1007,
        PolicyViolation: 1008,
        MessageTooBig: 1009,
        MandatoryExtension: 1010,
        InternalError: 1011,
        ServiceRestart: 1012,
        TryAgainLater: 1013,
        BadGateway: 1014,
        TlsHandshake: 1015,
      },
    );
  });
});

describe('decodeClosePayload', () => {
  test('an empty body is 1005 with no reason; a code and a UTF-8 reason are read as sent', () => {
    assert.deepStrictEqual(decodeClosePayload(Buffer.alloc(0)), { code: 1005, reason: '' });
    assert.deepStrictEqual(decodeClosePayload(encodeClosePayload(1000)), { code: 1000, reason: '' });
    assert.deepStrictEqual(decodeClosePayload(encodeClosePayload(4999, 'au revoir, é 😀')), { code: 4999, reason: 'au revoir, é 😀' });
  });

  test('every code the rules refuse fails with 1002; a 1-byte body with 1002; a reason that is not UTF-8 with 1007', () => {
    for (let code = 0; code < 6000; code++) {
      const body = Buffer.alloc(2);
      body.writeUInt16BE(code);
      const result = decodeClosePayload(body);
      if (ruleAllows(code)) assert.deepStrictEqual(result, { code, reason: '' }, `code ${code}`);
      else {
        assert.ok(result instanceof ProtocolError, `code ${code}`);
        assert.equal(result.closeCode, 1002);
        assert.equal(result.code, 'SW_INVALID_CLOSE_CODE');
      }
    }
    const oneByte = decodeClosePayload(Buffer.from([3]));
    assert.ok(oneByte instanceof ProtocolError && oneByte.closeCode === 1002 && oneByte.code === 'SW_PROTOCOL_ERROR');
    const badReason = decodeClosePayload(Buffer.from([0x03, 0xe8, 0xc3, 0x28]));
    assert.ok(badReason instanceof ProtocolError && badReason.closeCode === 1007 && badReason.code === 'SW_INVALID_UTF8');
  });
});
