import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { EventEmitter } from 'node:events';
import { type Socket } from 'node:net';
import { LimitGuard } from '../../src/server/limit-guard.js';
import { SocketTracker } from '../../src/server/socket-tracker.js';

/** What the tracker uses of a socket: its address, 'close', destroy(). */
function fakeSocket(address: string | undefined) {
  const emitter = new EventEmitter() as EventEmitter & { remoteAddress: string | undefined; destroyed: boolean; destroy(): void };
  emitter.remoteAddress = address;
  emitter.destroyed = false;
  emitter.destroy = () => {
    emitter.destroyed = true;
    emitter.emit('close');
  };
  return emitter as unknown as Socket & { remoteAddress: string | undefined; destroyed: boolean };
}

describe('SocketTracker', () => {
  test('counts each socket under its address until it closes; past max, counts nothing and reports the hit', () => {
    const hits: string[] = [];
    const guard = new LimitGuard((event) => hits.push(`${event.limit} ${event.remoteAddress}`));
    const tracker = new SocketTracker(guard);
    const a = fakeSocket('10.0.0.1');
    const b = fakeSocket('10.0.0.1');
    const c = fakeSocket('10.0.0.1');
    assert.equal(tracker.count(a, 2), true);
    assert.equal(tracker.count(b, 2), true);
    assert.equal(tracker.count(c, 2), false, 'a third from the address is refused');
    assert.deepEqual(hits, ['maxConnectionsPerAddress 10.0.0.1']);
    assert.equal(c.listenerCount('close'), 0, 'a refused socket is not watched');
    assert.equal(guard.count('10.0.0.1'), 2);
    a.emit('close');
    assert.equal(guard.count('10.0.0.1'), 1);
    a.emit('close');
    assert.equal(guard.count('10.0.0.1'), 1, 'a second close event releases nothing more');
    assert.equal(tracker.count(fakeSocket('10.0.0.1'), 2), true, 'the freed place is taken again');
  });

  test('releases under the address counted, even if the socket no longer reports one when it closes', () => {
    const guard = new LimitGuard(() => {});
    const tracker = new SocketTracker(guard);
    const socket = fakeSocket('10.0.0.2');
    tracker.count(socket, 5);
    socket.remoteAddress = undefined;
    socket.emit('close');
    assert.equal(guard.count('10.0.0.2'), 0);
    assert.equal(guard.count(''), 0);
  });

  test('dropHandshakes() destroys the sockets still handshaking, not those that ended their handshake', () => {
    const tracker = new SocketTracker(new LimitGuard(() => {}));
    const waiting = fakeSocket('10.0.0.3');
    const upgraded = fakeSocket('10.0.0.3');
    for (const socket of [waiting, upgraded]) {
      tracker.count(socket, 5);
      tracker.handshakeStarted(socket);
    }
    tracker.handshakeEnded(upgraded);
    tracker.dropHandshakes();
    assert.equal(waiting.destroyed, true);
    assert.equal(upgraded.destroyed, false);
  });

  test('handOver(): the socket loses its close listener and dropHandshakes() spares it; release() frees its place', () => {
    const guard = new LimitGuard(() => {});
    const tracker = new SocketTracker(guard);
    const socket = fakeSocket('10.0.0.6');
    tracker.count(socket, 5);
    tracker.handshakeStarted(socket);
    tracker.handOver(socket);
    assert.equal(socket.listenerCount('close'), 0);
    tracker.dropHandshakes();
    assert.equal(socket.destroyed, false);
    socket.emit('close');
    assert.equal(guard.count('10.0.0.6'), 1, 'its close no longer releases: its connection does');
    tracker.release('10.0.0.6');
    assert.equal(guard.count('10.0.0.6'), 0);
  });

  test('handOver() of a socket that reports another address by then moves its count there', () => {
    const guard = new LimitGuard(() => {});
    const tracker = new SocketTracker(guard);
    const socket = fakeSocket(undefined);
    tracker.count(socket, 5);
    socket.remoteAddress = '10.0.0.7';
    tracker.handOver(socket);
    assert.equal(guard.count(''), 0);
    assert.equal(guard.count('10.0.0.7'), 1);
  });

  test('one close listener function serves every socket (no closure per socket)', () => {
    const tracker = new SocketTracker(new LimitGuard(() => {}));
    const x = fakeSocket('10.0.0.4');
    const y = fakeSocket('10.0.0.5');
    tracker.count(x, 5);
    tracker.count(y, 5);
    assert.equal(x.listeners('close')[0], y.listeners('close')[0]);
  });
});
