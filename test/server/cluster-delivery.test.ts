import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { type Connection } from '../../src/index.js';
import { exceptIds } from '../../src/server/cluster-delivery.js';

describe('exceptIds', () => {
  test('what crosses the backplane is ids only: connections become their ids, ids stay', () => {
    const connection = { id: 'n1.7' } as unknown as Connection<unknown>;
    const ids = exceptIds([connection, 'n2.3']);
    assert.deepEqual(ids, ['n1.7', 'n2.3']);
    assert.ok(ids.every((id) => typeof id === 'string'));
  });
});
