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
    tracker.handOver(socket, '10.0.0.6');
    assert.equal(socket.listenerCount('close'), 0);
    tracker.dropHandshakes();
    assert.equal(socket.destroyed, false);
    socket.emit('close');
    assert.equal(guard.count('10.0.0.6'), 1, 'its close no longer releases: its connection does');
    tracker.release('10.0.0.6');
    assert.equal(guard.count('10.0.0.6'), 0);
    assert.equal(tracker.transfer(socket, fakeSocket('10.0.0.6')), false, 'the tracker keeps nothing of a socket handed over');
  });

  test('a socket that closes in its handshake is forgotten: dropHandshakes() leaves it alone', () => {
    const tracker = new SocketTracker(new LimitGuard(() => {}));
    const socket = fakeSocket('10.0.0.12');
    tracker.count(socket, 5);
    tracker.handshakeStarted(socket);
    socket.emit('close');
    tracker.dropHandshakes();
    assert.equal(socket.destroyed, false);
  });

  test('handOver() under another address than the one counted (the connection reports it by then) moves the count there', () => {
    const guard = new LimitGuard(() => {});
    const tracker = new SocketTracker(guard);
    const socket = fakeSocket(undefined);
    tracker.count(socket, 5);
    tracker.handOver(socket, '10.0.0.7');
    assert.equal(guard.count(''), 0);
    assert.equal(guard.count('10.0.0.7'), 1);
  });

  test('transfer(): the new socket carries the count and the handshake; the old one closing releases nothing', () => {
    const guard = new LimitGuard(() => {});
    const tracker = new SocketTracker(guard);
    const tcp = fakeSocket('10.0.0.8');
    const tls = fakeSocket(undefined);
    tracker.count(tcp, 5);
    tracker.handshakeStarted(tcp);
    assert.equal(tracker.transfer(tcp, tls), true);
    assert.equal(tcp.listenerCount('close'), 0, 'the old socket is no longer watched');
    assert.equal(tls.listenerCount('close'), 1);
    assert.equal(tracker.transfer(tcp, fakeSocket('10.0.0.8')), false, 'the old socket is no longer counted');
    tcp.emit('close');
    assert.equal(guard.count('10.0.0.8'), 1, 'the count went with the new socket');
    tracker.dropHandshakes();
    assert.equal(tls.destroyed, true, 'the new socket is in its handshake');
    assert.equal(guard.count('10.0.0.8'), 0, 'its close released the address counted for the old one');
  });

  test('transfer() of a socket out of its handshake leaves the new one out too', () => {
    const guard = new LimitGuard(() => {});
    const tracker = new SocketTracker(guard);
    const tcp = fakeSocket('10.0.0.9');
    const tls = fakeSocket('10.0.0.9');
    tracker.count(tcp, 5);
    assert.equal(tracker.transfer(tcp, tls), true);
    tracker.dropHandshakes();
    assert.equal(tls.destroyed, false);
    tracker.handOver(tls, '10.0.0.9');
    assert.equal(tls.listenerCount('close'), 0);
    assert.equal(guard.count('10.0.0.9'), 1);
  });

  test('transfer() from a socket no longer counted (it closed meanwhile) answers false and counts nothing', () => {
    const guard = new LimitGuard(() => {});
    const tracker = new SocketTracker(guard);
    const tcp = fakeSocket('10.0.0.10');
    const tls = fakeSocket('10.0.0.10');
    tracker.count(tcp, 5);
    tcp.emit('close');
    assert.equal(tracker.transfer(tcp, tls), false);
    assert.equal(tls.listenerCount('close'), 0);
    assert.equal(guard.count('10.0.0.10'), 0);
    assert.equal(tracker.transfer(fakeSocket('10.0.0.10'), tls), false, 'a socket never counted');
  });

  test('handOver() of a socket that was never counted counts nothing', () => {
    const guard = new LimitGuard(() => {});
    const tracker = new SocketTracker(guard);
    const socket = fakeSocket('10.0.0.11');
    tracker.handshakeStarted(socket);
    tracker.handOver(socket, '10.0.0.11');
    assert.equal(guard.count('10.0.0.11'), 0);
    tracker.dropHandshakes();
    assert.equal(socket.destroyed, false, 'it left its handshake');
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
