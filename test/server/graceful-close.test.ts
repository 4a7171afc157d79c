/**
 * GracefulClose with stand-in connections: it closes the open ones, waits for the server to
 * report each closed, terminates the ones left at the timeout, and leaves no timer behind.
 */
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { type Connection } from '../../src/index.js';
import { GracefulClose } from '../../src/server/graceful-close.js';
import { FakeClock } from '../support/fake-clock.js';

type Status = 'open' | 'closing' | 'closed';

/** What GracefulClose uses of a connection; `onClose`/`onTerminate` say what the peer does then. */
class FakeConnection {
  readonly calls: string[] = [];
  onClose: (() => void) | undefined;
  onTerminate: (() => void) | undefined;
  constructor(public status: Status) {}
  close(code: number, reason: string): void {
    this.calls.push(`close ${code} ${reason}`);
    this.status = 'closing';
    this.onClose?.();
  }
  terminate(): void {
    this.calls.push('terminate');
    this.onTerminate?.();
  }
}

function setUp(...statuses: Status[]) {
  const connections = statuses.map((status) => new FakeConnection(status));
  const graceful = new GracefulClose(connections as unknown as Connection<unknown>[]);
  /** The server reports `connection` closed (as it leaves the registry). */
  const reportClosed = (connection: FakeConnection): void => {
    connection.status = 'closed';
    graceful.closed(connection as unknown as Connection<unknown>);
  };
  return { connections, graceful, reportClosed };
}

const turns = async (n = 5): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

function timeouts(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
}

describe('GracefulClose', () => {
  test('closes every open connection with the code and reason, resolves once all are reported closed, and leaves no timer', async () => {
    const { connections, graceful, reportClosed } = setUp('open', 'closing');
    for (const connection of connections) connection.onClose = () => setImmediate(() => reportClosed(connection));
    const before = timeouts();
    let done = false;
    const running = graceful.run(1001, 'going away', 60_000).then(() => (done = true));
    assert.deepEqual(
      connections.map((c) => c.calls),
      [['close 1001 going away'], ['close 1001 going away']],
    );
    await running;
    assert.equal(done, true);
    assert.deepEqual(
      connections.map((c) => c.calls),
      [['close 1001 going away'], ['close 1001 going away']],
      'nothing terminated',
    );
    assert.equal(timeouts(), before, 'the timeout timer was left running');
  });

  test('a connection already closed is neither closed again nor waited for', async (t) => {
    FakeClock.install(t);
    const { connections, graceful, reportClosed } = setUp('closed', 'open');
    const [gone, open] = connections as [FakeConnection, FakeConnection];
    let done = false;
    const running = graceful.run(1000, '', 5000).then(() => (done = true));
    assert.deepEqual(gone.calls, []);
    reportClosed(open);
    await turns();
    assert.equal(done, true, 'still waiting, for a connection that had closed before');
    await running;
  });

  test('at the timeout, the connections left are terminated, and it resolves once they are reported closed', async (t) => {
    const clock = FakeClock.install(t);
    const { connections, graceful, reportClosed } = setUp('open', 'open');
    const [polite, stuck] = connections as [FakeConnection, FakeConnection];
    polite.onClose = () => reportClosed(polite);
    let done = false;
    const running = graceful.run(1000, 'bye', 2000).then(() => (done = true));
    await clock.advance(1999, 100);
    assert.deepEqual(stuck.calls, ['close 1000 bye']);
    assert.equal(done, false);
    await clock.advance(1, 1);
    assert.deepEqual(stuck.calls, ['close 1000 bye', 'terminate']);
    assert.deepEqual(polite.calls, ['close 1000 bye'], 'a connection that closed is not terminated');
    await turns();
    assert.equal(done, false, 'resolved before the terminated connection was reported closed');
    reportClosed(stuck);
    await running;
    assert.equal(done, true);
  });

  test('a server without connections resolves at once', async (t) => {
    FakeClock.install(t);
    const { graceful } = setUp();
    let done = false;
    const running = graceful.run(1001, '', 5000).then(() => (done = true));
    await turns();
    assert.equal(done, true);
    await running;
  });
});
