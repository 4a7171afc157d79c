/**
 * watchAbort on its own, then every client style given one shared signal: one 'abort' listener on
 * it whatever the number of clients, attempts and waits, and no MaxListenersExceededWarning.
 */
import { describe, test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { getEventListeners } from 'node:events';
import { watchAbort } from '../../src/io/abort-watch.js';
import { WebSocket, connect, createClient, type Connection } from '../../src/index.js';
import { catchUncaught, eventually, serve } from '../support/server-kit.js';

const listeners = (signal: AbortSignal): number => getEventListeners(signal, 'abort').length;

/** Warnings the process emits during the test. */
function recordWarnings(t: TestContext): string[] {
  const warnings: string[] = [];
  const onWarning = (warning: Error): void => void warnings.push(`${warning.name}: ${warning.message}`);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  return warnings;
}

describe('watchAbort', () => {
  test('many watches of one signal add one listener; each is called once, in order, on abort', () => {
    const controller = new AbortController();
    const calls: number[] = [];
    for (let i = 0; i < 30; i++) watchAbort(controller.signal, () => calls.push(i));
    assert.equal(listeners(controller.signal), 1);
    controller.abort();
    controller.abort();
    assert.deepEqual(calls, Array.from({ length: 30 }, (_, i) => i));
    assert.equal(listeners(controller.signal), 0);
  });

  test('a released watch is not called; the listener goes with the last one, and comes back with the next', () => {
    const controller = new AbortController();
    const calls: string[] = [];
    const a = watchAbort(controller.signal, () => calls.push('a'));
    const b = watchAbort(controller.signal, () => calls.push('b'));
    a();
    a();
    assert.equal(listeners(controller.signal), 1);
    b();
    assert.equal(listeners(controller.signal), 0);
    watchAbort(controller.signal, () => calls.push('c'));
    assert.equal(listeners(controller.signal), 1);
    controller.abort();
    assert.deepEqual(calls, ['c']);
  });

  test('one function watched twice is called twice; releasing one watch leaves the other', () => {
    const controller = new AbortController();
    let count = 0;
    const callback = (): void => void count++;
    const first = watchAbort(controller.signal, callback);
    watchAbort(controller.signal, callback);
    first();
    controller.abort();
    assert.equal(count, 1);
  });

  test("a callback's exception reaches the process, and the callbacks after it still run", async (t) => {
    const uncaught = catchUncaught(t);
    const controller = new AbortController();
    const calls: string[] = [];
    watchAbort(controller.signal, () => {
      throw new Error('from the first');
    });
    watchAbort(controller.signal, () => calls.push('second'));
    controller.abort();
    assert.deepEqual(calls, ['second']);
    await eventually(() => uncaught.messages.length === 1, 'the exception reported');
    assert.match(uncaught.messages[0]!, /from the first/);
  });
});

describe('one signal shared by every client style', () => {
  test('twelve of each style on one signal: one listener, no leak warning, and one abort ends them all', async (t) => {
    const warnings = recordWarnings(t);
    const srv = await serve(t, { onConnection: () => ({}) });
    const controller = new AbortController();
    const { signal } = controller;
    const connections: Connection[] = await Promise.all(Array.from({ length: 12 }, () => connect(srv.url, { signal })));
    t.after(() => connections.forEach((connection) => connection.terminate()));
    const waits = connections.map((connection) => connection.nextMessage({ signal }).then(() => 'message', (error: { code?: string }) => error.code));
    const sockets = Array.from({ length: 12 }, () => new WebSocket(srv.url, { signal }));
    const clients = Array.from({ length: 12 }, () => createClient(srv.url, { signal }));
    t.after(() => clients.forEach((client) => client.close()));
    assert.equal(listeners(signal), 1);
    await eventually(() => sockets.every((socket) => socket.readyState === WebSocket.OPEN) && clients.every((client) => client.status === 'open'), 'all open');
    assert.equal(listeners(signal), 1, 'the nextMessage waits and the clients still watch it');
    controller.abort();
    assert.deepEqual(await Promise.all(waits), Array.from({ length: 12 }, () => 'SW_ABORTED'));
    await eventually(() => clients.every((client) => client.status === 'closed'), 'the clients closed by the abort');
    assert.equal(listeners(signal), 0);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(warnings, []);
  });
});
