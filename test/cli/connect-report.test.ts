import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { reportOutcome, type Outcome } from '../../src/cli/connect-report.js';
import { type Screen } from '../../src/cli/screen.js';
import { type CloseInfo } from '../../src/io/connection.js';

const URL_ = 'ws://127.0.0.1:9/feed';

/** What reportOutcome wrote: notes and fatal lines, in order. */
interface Written {
  notes: string[];
  fatals: string[];
}

/** Reports `outcome` on a stand-in screen; returns the exit status and what was written. */
function report(outcome: Outcome, unsent = 0, requested?: { code: number; reason: string }, dropCause?: Error): Written & { status: number } {
  const written: Written = { notes: [], fatals: [] };
  const screen: Pick<Screen, 'note' | 'fatal'> = {
    note: (text) => void written.notes.push(text),
    fatal: (text) => void written.fatals.push(text),
  };
  const status = reportOutcome(screen as Screen, outcome, { url: URL_, unsentLines: unsent, requested, dropCause });
  return { status, ...written };
}

const close = (code: number, remote: boolean, wasClean: boolean, reason = ''): CloseInfo => ({ code, reason, remote, wasClean });

describe('reportOutcome: a failure', () => {
  test('an error: one fatal line describing it, exit 1', () => {
    assert.deepEqual(report(new Error('boom')), { status: 1, notes: [], fatals: [`boom (${URL_})`] });
  });

  test('an error with lines not sent: how many (one line, several lines)', () => {
    assert.deepEqual(report(new Error('boom'), 1).fatals, [`boom (${URL_}); 1 line not sent`]);
    assert.deepEqual(report(new Error('boom'), 3).fatals, [`boom (${URL_}); 3 lines not sent`]);
  });
});

describe('reportOutcome: closes that count as success', () => {
  for (const code of [1000, 1001, 1005]) {
    test(`the server's clean ${code}: a note, exit 0`, () => {
      assert.deepEqual(report(close(code, true, true)), { status: 0, notes: [`closed by the server: ${code}`], fatals: [] });
    });
    test(`our own clean ${code}: a note, exit 0`, () => {
      assert.deepEqual(report(close(code, false, true)), { status: 0, notes: [`closed by us: ${code}`], fatals: [] });
    });
  }

  test('1000 counts even when the close was not clean', () => {
    assert.deepEqual(report(close(1000, true, false)), { status: 0, notes: ['closed by the server: 1000'], fatals: [] });
  });

  test('the reason is shown on one line', () => {
    assert.deepEqual(report(close(1001, true, true, ' going\naway ')).notes, ['closed by the server: 1001 (going\\naway)']);
  });

  test('a code we chose, answered cleanly, without a /close request', () => {
    assert.deepEqual(report(close(4000, false, true, 'done')), { status: 0, notes: ['closed by us: 4000 (done)'], fatals: [] });
  });

  test("lines not sent are moot when the server ended the session normally: said in the note", () => {
    for (const code of [1000, 1001, 1005]) {
      assert.deepEqual(report(close(code, true, true), 2), { status: 0, notes: [`closed by the server: ${code}; 2 lines not sent`], fatals: [] });
    }
    assert.deepEqual(report(close(1000, true, true), 1).notes, ['closed by the server: 1000; 1 line not sent']);
  });
});

describe('reportOutcome: closes that count as failure', () => {
  for (const code of [1001, 1005]) {
    test(`the server's ${code} that was not clean`, () => {
      assert.deepEqual(report(close(code, true, false)), { status: 1, notes: [], fatals: [`connection closed by the server with ${code} (${URL_})`] });
    });
  }

  test("the server's other codes, even clean", () => {
    assert.deepEqual(report(close(4000, true, true, 'nope')), { status: 1, notes: [], fatals: [`connection closed by the server with 4000 (nope) (${URL_})`] });
    assert.deepEqual(report(close(1011, true, true)), { status: 1, notes: [], fatals: [`connection closed by the server with 1011 (${URL_})`] });
  });

  test('our close that was not clean', () => {
    assert.deepEqual(report(close(1006, false, false)), { status: 1, notes: [], fatals: [`connection closed with 1006 (dropped without a close frame) (${URL_})`] });
    assert.deepEqual(report(close(1001, false, false)), { status: 1, notes: [], fatals: [`connection closed with 1001 (${URL_})`] });
  });

  test('our 1009 (a message received over --max-payload) says how to take larger ones', () => {
    assert.deepEqual(report(close(1009, false, false, 'message exceeds maxPayload (10 bytes)')).fatals, [
      `connection closed with 1009 (message exceeds maxPayload (10 bytes)); --max-payload takes larger ones (${URL_})`,
    ]);
    assert.deepEqual(report(close(1009, true, true, 'too big')).fatals, [`connection closed by the server with 1009 (too big) (${URL_})`], "the server's 1009: no advice");
  });

  test('a 1006 tells what was reported before it (a socket error, a dead peer), else that no close frame came', () => {
    const dead = new Error('ping unanswered for 2000 ms: the peer is taken as dead');
    assert.deepEqual(report(close(1006, false, false), 0, undefined, dead).fatals, [`connection closed with 1006 (${dead.message}) (${URL_})`]);
    assert.deepEqual(report(close(1006, true, false), 2, undefined, new Error('read ECONNRESET')).fatals, [
      `closed by the server with 1006 (read ECONNRESET); 2 lines not sent (${URL_})`,
    ]);
    // Only a 1006 takes the cause: another code keeps its own reason, or none.
    assert.deepEqual(report(close(1011, true, true), 0, undefined, dead).fatals, [`connection closed by the server with 1011 (${URL_})`]);
  });

  test('lines not sent after our own close, even a normal clean one', () => {
    assert.deepEqual(report(close(1000, false, true), 2), { status: 1, notes: [], fatals: [`closed by us with 1000; 2 lines not sent (${URL_})`] });
  });

  test("lines not sent after the server's close with another code", () => {
    assert.deepEqual(report(close(4001, true, true, 'full'), 1), { status: 1, notes: [], fatals: [`closed by the server with 4001 (full); 1 line not sent (${URL_})`] });
  });

  test('lines not sent after our /close, even answered cleanly', () => {
    assert.deepEqual(report(close(4000, false, true), 1, { code: 4000, reason: '' }), { status: 1, notes: [], fatals: [`closed by us with 4000; 1 line not sent (${URL_})`] });
  });
});

describe('reportOutcome: the close asked for with /close', () => {
  test('answered with the same code and no reason: reported as sent', () => {
    assert.deepEqual(report(close(4000, false, true), 0, { code: 4000, reason: 'bye' }), { status: 0, notes: ['closed by us: 4000 (bye)'], fatals: [] });
  });

  test('answered with the same code and reason: reported as sent', () => {
    assert.deepEqual(report(close(4000, false, true, 'bye'), 0, { code: 4000, reason: 'bye' }).notes, ['closed by us: 4000 (bye)']);
  });

  test('without a reason: the code alone', () => {
    assert.deepEqual(report(close(1000, false, true), 0, { code: 1000, reason: '' }).notes, ['closed by us: 1000']);
  });

  test('answered with another reason: the answer follows', () => {
    assert.deepEqual(report(close(4000, false, true, 'later'), 0, { code: 4000, reason: 'bye' }), { status: 0, notes: ['closed by us: 4000 (bye); the server answered 4000 (later)'], fatals: [] });
  });

  test('answered with another code: the answer follows', () => {
    assert.deepEqual(report(close(1000, false, true), 0, { code: 4000, reason: 'bye' }), { status: 0, notes: ['closed by us: 4000 (bye); the server answered 1000'], fatals: [] });
  });

  test('not answered cleanly: a failure, as any unclean close', () => {
    assert.deepEqual(report(close(1006, false, false), 0, { code: 4000, reason: 'bye' }), { status: 1, notes: [], fatals: [`connection closed with 1006 (dropped without a close frame) (${URL_})`] });
  });

  test("the server's own close that crossed ours is told as the server's", () => {
    assert.deepEqual(report(close(1000, true, true), 0, { code: 4000, reason: 'bye' }), { status: 0, notes: ['closed by the server: 1000'], fatals: [] });
    assert.deepEqual(report(close(4002, true, true), 0, { code: 4000, reason: 'bye' }), { status: 1, notes: [], fatals: [`connection closed by the server with 4002 (${URL_})`] });
  });
});
