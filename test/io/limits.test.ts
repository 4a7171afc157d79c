/** The counts of limit hits a server reports, and which limit a protocol error is. */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { LIMIT_NAMES, LimitCounters, limitOfError } from '../../src/io/limits.js';
import type { SockwaveError } from '../../src/errors.js';

/** An error with this code (all limitOfError reads). */
const withCode = (code: string): SockwaveError => Object.assign(new Error(code), { code }) as unknown as SockwaveError;

describe('LimitCounters', () => {
  test('starts every limit at 0 and counts each hit', () => {
    const counters = new LimitCounters();
    assert.deepEqual(counters.snapshot(), Object.fromEntries(LIMIT_NAMES.map((name) => [name, 0])));
    counters.hit('maxPayload');
    counters.hit('maxPayload');
    counters.hit('idleTimeout');
    const snapshot = counters.snapshot();
    assert.equal(snapshot.maxPayload, 2);
    assert.equal(snapshot.idleTimeout, 1);
    assert.equal(snapshot.rateLimit, 0);
  });
});

describe('limitOfError', () => {
  test('maps the three limit error codes to their limits, and nothing else', () => {
    assert.equal(limitOfError(withCode('SW_MESSAGE_TOO_BIG')), 'maxPayload');
    assert.equal(limitOfError(withCode('SW_TOO_MANY_FRAGMENTS')), 'maxFragments');
    assert.equal(limitOfError(withCode('SW_RATE_LIMITED')), 'rateLimit');
    assert.equal(limitOfError(withCode('SW_PROTOCOL_ERROR')), undefined);
  });
});
