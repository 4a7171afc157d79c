/**
 * The permessage-deflate options are checked where they are given: a value zlib would reject (or
 * RFC 7692 does not allow) throws TypeError or RangeError from connect() and from the handshake
 * glue, instead of failing at the first send or at every upgrade.
 */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { connect } from '../../../src/index.js';
import { checkServerDeflateOption, clientDeflate, serverDeflate } from '../../../src/extensions/permessage-deflate/handshake.js';
import { type PerMessageDeflateOptions } from '../../../src/extensions/permessage-deflate/negotiation.js';
import { checkDeflateOptions } from '../../../src/extensions/permessage-deflate/options.js';

const MiB = 1024 * 1024;

const VALID: PerMessageDeflateOptions[] = [
  {},
  { level: -1 },
  { level: 0 },
  { level: 9 },
  { memLevel: 1 },
  { memLevel: 9 },
  { serverMaxWindowBits: 8 },
  { serverMaxWindowBits: 15 },
  { clientMaxWindowBits: 8 },
  { clientMaxWindowBits: 15 },
  { clientMaxWindowBits: true },
  { clientMaxWindowBits: false },
  { threshold: 0 },
  { threshold: 1.5 },
  { threshold: Infinity },
  { concurrency: 1 },
  { concurrency: 64 },
];

const OUT_OF_RANGE: PerMessageDeflateOptions[] = [
  { level: 12 },
  { level: 10 },
  { level: -2 },
  { level: 1.5 },
  { level: Number.NaN },
  { memLevel: 0 },
  { memLevel: 10 },
  { serverMaxWindowBits: 16 },
  { serverMaxWindowBits: 7 },
  { clientMaxWindowBits: 16 },
  { clientMaxWindowBits: 9.5 },
  { threshold: -1 },
  { threshold: Number.NaN },
  { concurrency: 0 },
  { concurrency: 2.5 },
  { concurrency: Number.NaN },
  { concurrency: Infinity },
];

/** Wrong types, as plain JavaScript callers could pass them. */
const WRONG_TYPE = [{ level: '5' }, { memLevel: null }, { serverMaxWindowBits: '10' }, { clientMaxWindowBits: '10' }, { threshold: '1024' }, { concurrency: {} }] as unknown as PerMessageDeflateOptions[];

const show = (options: unknown): string => JSON.stringify(options, (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? String(value) : value));

describe('checkDeflateOptions', () => {
  for (const options of VALID) {
    test(`accepts ${show(options)}`, () => {
      assert.doesNotThrow(() => checkDeflateOptions(options));
    });
  }
  for (const options of OUT_OF_RANGE) {
    test(`throws RangeError naming the option for ${show(options)}`, () => {
      const name = Object.keys(options)[0]!;
      assert.throws(() => checkDeflateOptions(options), (error: unknown) => error instanceof RangeError && error.message.includes(`perMessageDeflate.${name}`));
    });
  }
  for (const options of WRONG_TYPE) {
    test(`throws TypeError for ${show(options)}`, () => {
      assert.throws(() => checkDeflateOptions(options), TypeError);
    });
  }
});

describe('the handshake glue checks the options', () => {
  test('serverDeflate throws for an invalid option, whatever the client offered', () => {
    assert.throws(() => serverDeflate({ level: 12 }, 'permessage-deflate', MiB), RangeError);
    assert.throws(() => serverDeflate({ serverMaxWindowBits: 16 }, undefined, MiB), RangeError);
  });

  test('checkServerDeflateOption (for the server constructor) throws for an invalid option and accepts the others', () => {
    assert.throws(() => checkServerDeflateOption({ level: 12 }), RangeError);
    assert.throws(() => checkServerDeflateOption({ serverMaxWindowBits: 16 }), RangeError);
    assert.throws(() => checkServerDeflateOption({ memLevel: 0 }), RangeError);
    for (const option of [undefined, true, false, { threshold: 0, level: 9, memLevel: 9, serverMaxWindowBits: 9, clientMaxWindowBits: 10 }]) {
      assert.doesNotThrow(() => checkServerDeflateOption(option));
    }
  });

  test('clientDeflate throws for an invalid option before anything is offered', () => {
    assert.throws(() => clientDeflate({ level: 12 }, MiB), RangeError);
    assert.throws(() => clientDeflate({ concurrency: 0 }, MiB), RangeError);
  });

  test('connect() throws RangeError at once for perMessageDeflate: { level: 12 } (no socket is opened)', () => {
    // Port 9 (discard) on 127.0.0.1 is never reached: the options are checked first.
    assert.throws(() => void connect('ws://127.0.0.1:9/', { perMessageDeflate: { level: 12 } }), (error: unknown) => error instanceof RangeError && /perMessageDeflate\.level/.test(error.message));
  });
});
