/**
 * ProtocolSession promises that session.test.ts left unchecked (found by mutation testing: each
 * test here fails against a mutant of src/protocol/session.ts that the other tests let through).
 */
import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { ProtocolError } from '../../src/errors.js';
import { FrameParser } from '../../src/protocol/frame-parser.js';
import { Opcode } from '../../src/protocol/opcodes.js';
import { ProtocolSession, ReadyState, type SessionHandler, type SessionOptions } from '../../src/protocol/session.js';
import { ev, recorder, type ParserEvent } from '../support/chunking.js';
import { clientFrame, hex, serverFrame } from '../support/frames.js';

interface Harness {
  session: ProtocolSession;
  writes: Buffer[];
  errors: ProtocolError[];
}

function makeSession(role: 'server' | 'client' = 'server', options: Partial<SessionOptions> = {}, messages: Buffer[] = []): Harness {
  const writes: Buffer[] = [];
  const errors: ProtocolError[] = [];
  const handler: SessionHandler = {
    onMessage: (data) => void messages.push(data),
    onPing() {},
    onPong() {},
    onPeerClose() {},
    onProtocolError: (error) => void errors.push(error),
    write: (bytes) => void writes.push(Buffer.from(bytes)),
  };
  return { session: new ProtocolSession({ role, maxPayload: 1 << 20, ...options }, handler), writes, errors };
}

/** What the session wrote, parsed as its peer would. */
function wire(h: Harness): ParserEvent[] {
  const rec = recorder();
  const parser = new FrameParser({ role: h.session.role === 'server' ? 'client' : 'server', maxPayload: 1 << 24 }, rec.handler);
  for (const w of h.writes) parser.push(Buffer.from(w));
  return rec.events;
}

describe('ProtocolSession: contract details', () => {
  test('ReadyState has the numbers of the WebSocket API (CONNECTING 0, OPEN 1, CLOSING 2, CLOSED 3)', () => {
    assert.deepStrictEqual({ ...ReadyState }, { Connecting: 0, Open: 1, Closing: 2, Closed: 3 });
    const h = makeSession();
    assert.equal(h.session.readyState, 1);
    h.session.close(1000);
    assert.equal(h.session.readyState, 2);
    h.session.receiveEof();
    assert.equal(h.session.readyState, 3);
  });

  test('a server payload of exactly 16 KiB is still copied into one frame; one byte more is written after its header', () => {
    const h = makeSession();
    const payload = Buffer.alloc(16 * 1024, 0x62);
    assert.equal(h.session.sendFrame(Opcode.Binary, payload, true, false), true);
    assert.equal(h.writes.length, 1, 'one write: header and payload together');
    assert.deepStrictEqual(h.writes[0]!.subarray(0, 4), hex('82 7e 40 00'));
    assert.equal(h.writes[0]!.length, 4 + 16 * 1024);
    // Sixteen bytes under the limit and the limit itself both take one write.
    assert.equal(h.session.sendFrame(Opcode.Binary, Buffer.alloc(16 * 1024 - 16, 0x63), true, false), true);
    assert.equal(h.writes.length, 2);
    assert.equal(h.session.sendFrame(Opcode.Binary, Buffer.alloc(16 * 1024 + 1, 0x64), true, false), true);
    assert.equal(h.writes.length, 4, 'header, then the payload itself');
    assert.deepStrictEqual(wire(h), [ev.binary(payload), ev.binary(Buffer.alloc(16 * 1024 - 16, 0x63)), ev.binary(Buffer.alloc(16 * 1024 + 1, 0x64))]);
  });

  test('a refused frame with an undefined opcode and FIN clear leaves no message open: a new message may follow', () => {
    for (const opcode of [3, 7, 0xb, 0xf]) {
      const h = makeSession();
      assert.throws(() => h.session.sendFrame(opcode as Opcode, Buffer.from('x'), false, false), (error: unknown) => error instanceof RangeError && /is not defined by RFC 6455/.test(error.message));
      assert.equal(h.writes.length, 0);
      assert.equal(h.session.sendFrame(Opcode.Text, Buffer.from('next'), true, false), true, `after opcode ${opcode}`);
      assert.throws(() => h.session.sendFrame(Opcode.Continuation, Buffer.from('x'), true, false), /needs an unfinished message/);
      assert.deepStrictEqual(wire(h), [ev.text('next')]);
    }
  });

  test('failConnection a second time changes nothing: the first failure stays, reported once, with one close frame', () => {
    const h = makeSession();
    const first = new ProtocolError(1008, 'first');
    h.session.failConnection(first);
    h.session.failConnection(new ProtocolError(1011, 'second'));
    assert.equal(h.session.failure, first);
    assert.deepStrictEqual(h.errors, [first]);
    assert.equal(h.writes.length, 1);
    assert.deepStrictEqual(wire(h), [ev.close(1008, 'first')]);
    assert.equal(h.session.sentCloseCode, 1008);
  });

  test('maxFragments reaches the parser: a message in one frame more is failed with 1008', () => {
    const messages: Buffer[] = [];
    const h = makeSession('server', { maxFragments: 2 }, messages);
    h.session.receive(Buffer.concat([clientFrame({ opcode: Opcode.Text, payload: 'a', fin: false }), clientFrame({ opcode: Opcode.Continuation, payload: 'b', fin: true })]));
    assert.deepStrictEqual(messages.map(String), ['ab']);
    h.session.receive(Buffer.concat([clientFrame({ opcode: Opcode.Text, payload: 'a', fin: false }), clientFrame({ opcode: Opcode.Continuation, payload: 'b', fin: false }), clientFrame({ opcode: Opcode.Continuation, payload: 'c', fin: true })]));
    assert.equal(h.session.failure?.closeCode, 1008);
    assert.equal(h.session.failure.code, 'SW_TOO_MANY_FRAGMENTS');
    assert.deepStrictEqual(wire(h), [ev.close(1008, h.session.failure.message)]);
  });

  test('lentChunks reaches the parser: a frame read through one buffer used again arrives intact', () => {
    const payload = Buffer.alloc(1000, 0x5a);
    const frame = serverFrame({ opcode: Opcode.Binary, payload });
    for (const [lentChunks, intact] of [[true, true], [false, false]] as const) {
      const messages: Buffer[] = [];
      const h = makeSession('client', { lentChunks }, messages);
      const lent = Buffer.alloc(600);
      for (const piece of [frame.subarray(0, 600), frame.subarray(600)]) {
        piece.copy(lent);
        h.session.receive(lent.subarray(0, piece.length));
        lent.fill(0xee);
      }
      assert.equal(messages.length, 1);
      assert.equal(messages[0]!.equals(payload), intact, `lentChunks: ${lentChunks}`);
    }
  });

  test('sendFrame with a payload that is not bytes throws TypeError before anything changes or is written, however long it is', () => {
    const h = makeSession();
    for (const text of ['abc', 'x'.repeat(20000)]) {
      assert.throws(() => h.session.sendFrame(Opcode.Text, text as unknown as Buffer, false, false), TypeError);
      assert.throws(() => h.session.sendFrame(Opcode.Binary, text as unknown as Buffer, true, false), TypeError);
    }
    assert.equal(h.writes.length, 0);
    assert.equal(h.session.sendFrame(Opcode.Binary, Buffer.from([1]), true, false), true, 'no message was left open');
    assert.deepStrictEqual(wire(h), [ev.binary(Buffer.from([1]))]);
  });

  test('close() once the transport closed leaves readyState CLOSED', () => {
    const h = makeSession();
    h.session.receiveEof();
    h.session.close(1000);
    assert.equal(h.session.readyState, ReadyState.Closed);
  });

  test('a failure whose message is over 123 bytes closes with the message cut to 123 bytes at most, on a character boundary', () => {
    const cases: Array<[string, string]> = [
      ['x'.repeat(200), 'x'.repeat(123)],
      // 1 + 2 × 100 bytes: cut to 'a' and 61 × 'é', exactly 123 bytes.
      ['a' + 'é'.repeat(100), 'a' + 'é'.repeat(61)],
      ['x'.repeat(123), 'x'.repeat(123)],
    ];
    for (const [message, reason] of cases) {
      const h = makeSession();
      h.session.failConnection(new ProtocolError(1008, message));
      assert.deepStrictEqual(wire(h), [ev.close(1008, reason)], `${Buffer.byteLength(message)}-byte message`);
      assert.equal(h.session.failure?.message, message, 'the error itself keeps the whole message');
    }
  });

  // The cut drops one UTF-16 unit at a time: it must not stop inside a surrogate pair, whose lone
  // high half would go out as U+FFFD, a character the message never had.
  test('a message of 4-byte characters is cut between characters, not inside one', () => {
    const h = makeSession();
    // 30 × '😀' is 120 bytes, a 31st would make 124.
    h.session.failConnection(new ProtocolError(1008, '😀'.repeat(40)));
    assert.deepStrictEqual(wire(h), [ev.close(1008, '😀'.repeat(30))]);
  });
});

