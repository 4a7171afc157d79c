import { strict as assert } from 'node:assert';
import { HandshakeError } from '../../src/errors.js';

/** Runs `fn`, asserts it threw a HandshakeError with this status (and message), and returns it. */
export function throwsHandshake(fn: () => unknown, status: number, message?: RegExp): HandshakeError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof HandshakeError, `expected a HandshakeError, got ${String(caught)}`);
  assert.equal(caught.status, status, `status of "${caught.message}"`);
  assert.equal(caught.code, 'SW_HANDSHAKE_FAILED');
  if (message) assert.match(caught.message, message);
  return caught;
}
