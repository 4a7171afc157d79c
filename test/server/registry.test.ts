/**
 * The server's registry of connected clients, on its own: lookups by id go through the id's
 * serial number, so stand-ins carrying a serial (and the id made from it) are enough here. The
 * registry as a server keeps it (added on open, gone on close) is tested in lifecycle.test.ts.
 */
import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { ClientRegistry } from '../../src/server/registry.js';
import { idOf, nextSerial } from '../../src/io/connection-id.js';
import { type Connection } from '../../src/io/connection.js';

interface StandIn {
  readonly serial: number;
  readonly id: string;
}

function standIn(): StandIn {
  const serial = nextSerial();
  return { serial, id: idOf(serial) };
}

/** The registry reads a connection's serial only: the stand-in is typed as what it stands for. */
function asConnection(stand: StandIn): Connection {
  return stand as unknown as Connection;
}

describe('ClientRegistry', () => {
  test('an empty registry has size 0, yields nothing and finds no id', () => {
    const registry = new ClientRegistry();
    assert.equal(registry.size, 0);
    assert.deepEqual([...registry], []);
    const a = standIn();
    assert.equal(registry.get(a.id), undefined);
    assert.equal(registry.has(a.id), false);
  });

  test('added connections are counted, found by id and iterated in the order they were added', () => {
    const registry = new ClientRegistry();
    const [a, b, c] = [standIn(), standIn(), standIn()];
    for (const s of [b, a, c]) registry.add(asConnection(s));
    assert.equal(registry.size, 3);
    assert.deepEqual([...registry], [b, a, c]);
    for (const s of [a, b, c]) {
      assert.equal(registry.get(s.id), s);
      assert.equal(registry.has(s.id), true);
    }
  });

  test('a deleted connection is no longer counted, found or iterated; the others stay', () => {
    const registry = new ClientRegistry();
    const [a, b] = [standIn(), standIn()];
    registry.add(asConnection(a));
    registry.add(asConnection(b));
    registry.delete(asConnection(a));
    assert.equal(registry.size, 1);
    assert.equal(registry.get(a.id), undefined);
    assert.equal(registry.has(a.id), false);
    assert.equal(registry.get(b.id), b);
    assert.deepEqual([...registry], [b]);
    // Deleting what is not there changes nothing.
    registry.delete(asConnection(a));
    assert.equal(registry.size, 1);
  });

  test('adding the same connection twice keeps one entry', () => {
    const registry = new ClientRegistry();
    const a = standIn();
    registry.add(asConnection(a));
    registry.add(asConnection(a));
    assert.equal(registry.size, 1);
    assert.deepEqual([...registry], [a]);
  });

  test('ids this process did not give, or other spellings of a registered id, find nothing', () => {
    const registry = new ClientRegistry();
    const a = standIn();
    registry.add(asConnection(a));
    const prefix = a.id.slice(0, a.id.indexOf('.') + 1);
    const digits = a.id.slice(prefix.length);
    for (const other of ['', digits, `0${a.id}`, `${prefix}0${digits}`, `${prefix}${digits.toUpperCase()}x`, `ffffffff.${digits}`]) {
      if (other === a.id) continue;
      assert.equal(registry.get(other), undefined, JSON.stringify(other));
      assert.equal(registry.has(other), false, JSON.stringify(other));
    }
  });
});
