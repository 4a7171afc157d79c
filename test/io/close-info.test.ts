import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { ProtocolError } from '../../src/errors.js';
import { describeClose } from '../../src/io/close-info.js';
import { type ProtocolSession } from '../../src/protocol/session.js';

/** The close handshake state describeClose reads, as a session would report it. */
interface CloseState {
  closeReceived?: boolean;
  receivedCloseCode?: number;
  receivedCloseReason?: string;
  closedByPeer?: boolean;
  closeSent?: boolean;
  closeHandshakeDone?: boolean;
  failure?: ProtocolError;
}

const session = (state: CloseState): ProtocolSession =>
  ({ closeReceived: false, receivedCloseCode: 1005, receivedCloseReason: '', closedByPeer: false, closeSent: false, closeHandshakeDone: false, failure: undefined, ...state }) as unknown as ProtocolSession;

describe('describeClose', () => {
  test("the peer's close frame gives the code and reason; remote is whether the peer closed first", () => {
    const peerFirst = session({ closeReceived: true, receivedCloseCode: 4001, receivedCloseReason: 'bye', closedByPeer: true, closeSent: true, closeHandshakeDone: true });
    assert.deepEqual(describeClose(peerFirst, false, false), { code: 4001, reason: 'bye', wasClean: true, remote: true });
    const weFirst = session({ closeReceived: true, receivedCloseCode: 1000, receivedCloseReason: '', closedByPeer: false, closeSent: true, closeHandshakeDone: true });
    assert.deepEqual(describeClose(weFirst, false, false), { code: 1000, reason: '', wasClean: true, remote: false });
  });

  test('a connection this side failed reports the code and message it failed with, not remote once its close frame is out', () => {
    const failure = new ProtocolError(1002, 'masked frame from the server');
    const failed = session({ failure, closeSent: true });
    assert.deepEqual(describeClose(failed, false, false), { code: 1002, reason: 'masked frame from the server', wasClean: false, remote: false });
    // The peer's close frame, when it came, wins over the failure.
    const answered = session({ failure, closeSent: true, closeReceived: true, receivedCloseCode: 1002, receivedCloseReason: '', closeHandshakeDone: true });
    assert.deepEqual(describeClose(answered, false, false), { code: 1002, reason: '', wasClean: true, remote: false });
  });

  test('no close frame and no failure: 1006, not clean; remote unless this side terminated or had sent its close', () => {
    assert.deepEqual(describeClose(session({}), false, true), { code: 1006, reason: '', wasClean: false, remote: true }, 'the peer dropped TCP');
    assert.deepEqual(describeClose(session({}), true, false), { code: 1006, reason: '', wasClean: false, remote: false }, 'terminate()');
    assert.deepEqual(describeClose(session({ closeSent: true }), false, false), { code: 1006, reason: '', wasClean: false, remote: false }, 'our close went unanswered');
  });

  test('a completed close handshake is not clean when a socket error or terminate() cut the TCP close short', () => {
    const done = session({ closeReceived: true, receivedCloseCode: 1000, closedByPeer: true, closeSent: true, closeHandshakeDone: true });
    assert.equal(describeClose(done, false, false).wasClean, true);
    assert.equal(describeClose(done, false, true).wasClean, false, 'socket error');
    assert.equal(describeClose(done, true, false).wasClean, false, 'terminated');
    assert.equal(describeClose(done, true, false).remote, true, 'still the peer that closed first');
  });
});
