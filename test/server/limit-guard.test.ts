import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { type LimitEvent } from '../../src/io/limits.js';
import { LimitGuard } from '../../src/server/limit-guard.js';

describe('LimitGuard', () => {
  test('hit() counts the limit and reports it with the address, the connection id and the detail', () => {
    const events: LimitEvent[] = [];
    const guard = new LimitGuard((event) => events.push(event));
    guard.hit('maxPayload', '10.0.0.1', 'a message of 2000 bytes', '7');
    guard.hit('maxPayload', '10.0.0.2', 'another');
    assert.deepEqual(events, [
      { limit: 'maxPayload', remoteAddress: '10.0.0.1', connectionId: '7', detail: 'a message of 2000 bytes' },
      { limit: 'maxPayload', remoteAddress: '10.0.0.2', connectionId: undefined, detail: 'another' },
    ]);
    assert.equal(guard.counters.snapshot().maxPayload, 2);
  });

  test('track() past max reports maxConnectionsPerAddress with the address and the limit in its detail', () => {
    const events: LimitEvent[] = [];
    const guard = new LimitGuard((event) => events.push(event));
    assert.equal(guard.track('10.0.0.3', 1), true);
    assert.equal(guard.track('10.0.0.3', 1), false);
    assert.deepEqual(events, [{ limit: 'maxConnectionsPerAddress', remoteAddress: '10.0.0.3', connectionId: undefined, detail: '1 connection from this address' }]);
    assert.equal(guard.counters.snapshot().maxConnectionsPerAddress, 1);
    assert.equal(guard.count('10.0.0.3'), 1, 'the refused socket is not counted');
    guard.track('10.0.0.5', 2);
    guard.track('10.0.0.5', 2);
    assert.equal(guard.track('10.0.0.5', 2), false);
    assert.equal(events[1]!.detail, '2 connections from this address');
  });

  test('a release with nothing counted leaves the address at 0: it grants no extra place', () => {
    const guard = new LimitGuard(() => {});
    guard.release('10.0.0.4');
    assert.equal(guard.count('10.0.0.4'), 0);
    assert.equal(guard.track('10.0.0.4', 1), true);
    guard.release('10.0.0.4');
    guard.release('10.0.0.4');
    assert.equal(guard.count('10.0.0.4'), 0);
    assert.equal(guard.track('10.0.0.4', 1), true);
    assert.equal(guard.track('10.0.0.4', 1), false, 'max 1 still holds after the stray releases');
  });
});
