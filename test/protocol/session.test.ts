import { describe, test } from 'node:test';
import { strict as assert } from 'node:assert';
import { ProtocolError } from '../../src/errors.js';
import { FrameParser } from '../../src/protocol/frame-parser.js';
import { type MaskKeySource } from '../../src/protocol/mask.js';
import { Opcode } from '../../src/protocol/opcodes.js';
import { ProtocolSession, ReadyState, type SessionHandler, type SessionOptions } from '../../src/protocol/session.js';
import { describe as describeEvents, ev, FEED_MODES, recorder, type ParserEvent } from '../support/chunking.js';
import { clientFrame, closeBody, hex, patternBytes, serverFrame } from '../support/frames.js';

type SessionEvent =
  | { type: 'message'; data: Buffer; binary: boolean; compressed: boolean }
  | { type: 'fragment'; data: Buffer; binary: boolean; fin: boolean }
  | { type: 'ping'; data: Buffer }
  | { type: 'pong'; data: Buffer }
  | { type: 'peerClose'; code: number; reason: string; writesSoFar: number }
  | { type: 'protocolError'; closeCode: number; writesSoFar: number };

interface Harness {
  session: ProtocolSession;
  events: SessionEvent[];
  writes: Buffer[];
  errors: ProtocolError[];
}

/** `shared`: the session gets `options` itself (as a server's connections share one), not a copy. */
function makeSession(options: Partial<SessionOptions> & { role: 'server' | 'client' }, fragments = false, shared = false): Harness {
  const events: SessionEvent[] = [];
  const writes: Buffer[] = [];
  const errors: ProtocolError[] = [];
  const handler: SessionHandler = {
    onMessage: (data, binary, compressed) => void events.push({ type: 'message', data: Buffer.from(data), binary, compressed }),
    onPing: (data) => void events.push({ type: 'ping', data: Buffer.from(data) }),
    onPong: (data) => void events.push({ type: 'pong', data: Buffer.from(data) }),
    onPeerClose: (code, reason) => void events.push({ type: 'peerClose', code, reason, writesSoFar: writes.length }),
    onProtocolError: (error) => {
      errors.push(error);
      events.push({ type: 'protocolError', closeCode: error.closeCode, writesSoFar: writes.length });
    },
    // Copy: what is on the wire must not change afterwards.
    write: (bytes) => void writes.push(Buffer.from(bytes)),
  };
  if (fragments) handler.onFragment = (data, binary, fin) => void events.push({ type: 'fragment', data: Buffer.from(data), binary, fin });
  const session = new ProtocolSession(shared ? (options as SessionOptions) : { maxPayload: 1 << 20, ...options }, handler);
  return { session, events, writes, errors };
}

/** Parses everything the session wrote, as its peer would (opposite role). */
function wire(h: Harness): ParserEvent[] {
  const rec = recorder();
  const parser = new FrameParser({ role: h.session.role === 'server' ? 'client' : 'server', maxPayload: 1 << 24, allowRsv1: true }, rec.handler);
  for (const w of h.writes) parser.push(Buffer.from(w));
  return rec.events;
}

/** Runs `check` once per feed mode with a fresh session fed `stream` split that way. */
function eachWay(
  stream: Buffer,
  options: Partial<SessionOptions> & { role: 'server' | 'client' },
  check: (h: Harness, mode: string) => void,
  fragments = false,
): void {
  for (const mode of FEED_MODES) {
    const h = makeSession(options, fragments);
    for (const chunk of mode.split(stream)) h.session.receive(chunk);
    check(h, mode.name);
  }
}

class FixedKeys implements MaskKeySource {
  count = 0;
  fill(target: Uint8Array, offset: number): void {
    this.count++;
    target.set([0x11, 0x22, 0x33, (0x44 + this.count) & 0xff], offset);
  }
}

const msg = (text: string): SessionEvent => ({ type: 'message', data: Buffer.from(text), binary: false, compressed: false });

describe('ProtocolSession: messages', () => {
  test('delivers messages, fragments and pongs from received bytes, however they are split', () => {
    const stream = Buffer.concat([
      clientFrame({ opcode: Opcode.Text, payload: 'hello' }),
      clientFrame({ opcode: Opcode.Binary, payload: Buffer.from([1, 2]), fin: false }),
      clientFrame({ opcode: Opcode.Pong, payload: 'pp' }),
      clientFrame({ opcode: Opcode.Continuation, payload: Buffer.from([3]) }),
    ]);
    eachWay(
      stream,
      { role: 'server' },
      (h, mode) => {
        assert.deepStrictEqual(
          h.events,
          [
            msg('hello'),
            { type: 'fragment', data: Buffer.from([1, 2]), binary: true, fin: false },
            { type: 'pong', data: Buffer.from('pp') },
            { type: 'fragment', data: Buffer.from([3]), binary: true, fin: true },
            { type: 'message', data: Buffer.from([1, 2, 3]), binary: true, compressed: false },
          ],
          mode,
        );
        assert.equal(h.writes.length, 0, 'a pong is not answered');
        assert.equal(h.session.readyState, ReadyState.Open);
      },
      true,
    );
  });

  test('a handler callback annotated with a narrower parameter than the one given does not compile (checked strictly)', () => {
    // Any type narrower than Buffer: a method's parameter would accept it (bivariance).
    type Tagged = Buffer & { tag: string };
    const seen: unknown[] = [];
    const handler: SessionHandler = {
      onMessage: () => {},
      // @ts-expect-error a ping's payload is a Buffer, with no tag
      onPing: (payload: Tagged) => void seen.push(payload.tag),
      onPong: () => {},
      onPeerClose: () => {},
      onProtocolError: () => {},
      write: () => {},
    };
    new ProtocolSession({ role: 'server', maxPayload: 1024 }, handler).receive(clientFrame({ opcode: Opcode.Ping, payload: 'p' }));
    // What the compiler keeps out: a tag read where there is none.
    assert.deepEqual(seen, [undefined]);
  });

  test('sendFrame copies a small server payload into one unmasked frame that a client parses', () => {
    const h = makeSession({ role: 'server' });
    const payload = Buffer.from('hi there');
    assert.equal(h.session.sendFrame(Opcode.Text, payload, true, false), true);
    assert.equal(h.session.sendFrame(Opcode.Binary, Buffer.alloc(0), true, false), true);
    assert.deepStrictEqual(h.writes[0], Buffer.concat([hex('81 08'), Buffer.from('hi there')]));
    payload.fill(0x21); // the caller may reuse its buffer at once
    assert.deepStrictEqual(wire(h), [ev.text('hi there'), ev.binary(Buffer.alloc(0))]);
  });

  test('sendFrame writes a server payload over 16 KiB after its header without copying it', () => {
    const h = makeSession({ role: 'server' });
    const payload = Buffer.alloc(16 * 1024 + 1, 0x61);
    assert.equal(h.session.sendFrame(Opcode.Binary, payload, true, false), true);
    assert.deepStrictEqual(h.writes[0], hex('82 7e 40 01'));
    assert.equal(h.writes.length, 2);
    assert.deepStrictEqual(h.writes[1], payload);
    assert.deepStrictEqual(wire(h), [ev.binary(payload)]);
  });

  test('sendEncoded writes a pre-encoded frame as is', () => {
    const h = makeSession({ role: 'server' });
    const frame = serverFrame({ opcode: Opcode.Text, payload: 'fan-out' });
    assert.equal(h.session.sendEncoded(frame), true);
    assert.deepStrictEqual(h.writes, [frame]);
  });

  test('setAllowRsv1 applies both before and after the first bytes arrive', () => {
    const h = makeSession({ role: 'server' });
    h.session.receive(clientFrame({ opcode: Opcode.Text, payload: 'first' }));
    h.session.setAllowRsv1(true);
    h.session.receive(clientFrame({ opcode: Opcode.Binary, payload: Buffer.from([7]), rsv1: true }));
    assert.deepStrictEqual(h.events, [msg('first'), { type: 'message', data: Buffer.from([7]), binary: true, compressed: true }]);
    const late = makeSession({ role: 'server', allowRsv1: true });
    late.session.setAllowRsv1(false);
    late.session.receive(clientFrame({ opcode: Opcode.Binary, payload: Buffer.from([7]), rsv1: true }));
    assert.equal(late.session.failure?.closeCode, 1002);
  });

  test('sessions made with the same (frozen) options object keep RSV1, autoPong and failure each to their own', () => {
    const options: SessionOptions = Object.freeze({ role: 'server', maxPayload: 1 << 20 });
    const a = makeSession(options, false, true);
    const b = makeSession(options, false, true);
    a.session.setAllowRsv1(true);
    a.session.autoPong = false;
    const compressed = clientFrame({ opcode: Opcode.Binary, payload: Buffer.from([7]), rsv1: true });
    a.session.receive(compressed);
    assert.deepStrictEqual(a.events, [{ type: 'message', data: Buffer.from([7]), binary: true, compressed: true }]);
    b.session.receive(clientFrame({ opcode: Opcode.Ping, payload: 'p' }));
    assert.deepStrictEqual(wire(b), [ev.pong('p')], 'b still answers pings');
    b.session.receive(compressed);
    assert.equal(b.session.failure?.closeCode, 1002, 'b agreed to no extension');
    assert.equal(a.session.failed, false);
    a.session.receive(clientFrame({ opcode: Opcode.Ping, payload: 'p' }));
    assert.deepStrictEqual(wire(a), [], 'a answers none');
  });

  test('an options object the caller changes after construction changes no session (only a frozen one is kept, not copied)', () => {
    const options: SessionOptions = { role: 'server', maxPayload: 1 << 20 };
    const h = makeSession(options, false, true);
    options.role = 'client';
    options.maxPayload = 10;
    assert.equal(h.session.role, 'server');
    h.session.receive(clientFrame({ opcode: Opcode.Text, payload: 'longer than ten bytes' }));
    assert.deepStrictEqual(h.events, [msg('longer than ten bytes')]);
    assert.equal(h.session.sendFrame(Opcode.Text, Buffer.from('out'), true, false), true);
    assert.deepStrictEqual(wire(h), [ev.text('out')], 'a server frame, not masked');
  });

  test('halt() from a handler stops the chunk being parsed: the later messages and pings of it, and later chunks, are ignored', () => {
    const messages: string[] = [];
    const writes: Buffer[] = [];
    const session: ProtocolSession = new ProtocolSession({ role: 'server', maxPayload: 1 << 20 }, {
      onMessage: (data) => {
        messages.push(data.toString());
        session.halt();
      },
      onPing: () => assert.fail('no ping is processed'),
      onPong: () => assert.fail('no pong is processed'),
      onPeerClose: () => assert.fail('no close is processed'),
      onProtocolError: (error) => assert.fail(String(error)),
      write: (bytes) => void writes.push(Buffer.from(bytes)),
    });
    session.receive(
      Buffer.concat([
        clientFrame({ opcode: Opcode.Text, payload: 'one' }),
        clientFrame({ opcode: Opcode.Text, payload: 'two' }),
        clientFrame({ opcode: Opcode.Ping, payload: 'p' }),
      ]),
    );
    session.receive(clientFrame({ opcode: Opcode.Text, payload: 'three' }));
    assert.deepStrictEqual(messages, ['one']);
    assert.deepStrictEqual(writes, [], 'no pong');
    assert.equal(session.stopped, true);
    assert.equal(session.failed, false, 'halted is not failed');
  });

  test('a connection failed from outside before any bytes arrived reads none afterwards', () => {
    const h = makeSession({ role: 'server' });
    h.session.failConnection(new ProtocolError(1007, 'an extension found bad data'));
    const written = h.writes.length;
    h.session.receive(clientFrame({ opcode: Opcode.Text, payload: 'ignored' }));
    h.session.receive(clientFrame({ opcode: Opcode.Ping, payload: 'ignored' }));
    assert.deepStrictEqual(h.events, [{ type: 'protocolError', closeCode: 1007, writesSoFar: 1 }]);
    assert.equal(h.writes.length, written);
  });

  test('setAllowRsv1 lets the session accept compressed messages', () => {
    const h = makeSession({ role: 'server' });
    h.session.setAllowRsv1(true);
    h.session.receive(clientFrame({ opcode: Opcode.Binary, payload: Buffer.from([7]), rsv1: true }));
    assert.deepStrictEqual(h.events, [{ type: 'message', data: Buffer.from([7]), binary: true, compressed: true }]);
  });
});

describe('ProtocolSession: ping and pong', () => {
  test('answers a ping with a pong carrying the same payload', () => {
    for (const payload of [Buffer.alloc(0), Buffer.from('ping!'), patternBytes(125)]) {
      eachWay(clientFrame({ opcode: Opcode.Ping, payload }), { role: 'server' }, (h, mode) => {
        assert.deepStrictEqual(h.events, [{ type: 'ping', data: payload }], mode);
        assert.deepStrictEqual(wire(h), [ev.pong(payload)], mode);
      });
    }
  });

  test('answers every ping interleaved in a fragmented message, in order', () => {
    const stream = Buffer.concat([
      clientFrame({ opcode: Opcode.Text, payload: 'a', fin: false }),
      clientFrame({ opcode: Opcode.Ping, payload: '1' }),
      clientFrame({ opcode: Opcode.Ping, payload: '2' }),
      clientFrame({ opcode: Opcode.Continuation, payload: 'b' }),
    ]);
    eachWay(stream, { role: 'server' }, (h, mode) => {
      assert.deepStrictEqual(wire(h), [ev.pong('1'), ev.pong('2')], mode);
      assert.deepStrictEqual(h.events.at(-1), msg('ab'), mode);
    });
  });

  test('does not answer pings with autoPong: false, but still reports them', () => {
    eachWay(clientFrame({ opcode: Opcode.Ping, payload: 'x' }), { role: 'server', autoPong: false }, (h, mode) => {
      assert.deepStrictEqual(h.events, [{ type: 'ping', data: Buffer.from('x') }], mode);
      assert.equal(h.writes.length, 0, mode);
    });
    const h = makeSession({ role: 'server' });
    h.session.autoPong = false;
    h.session.receive(clientFrame({ opcode: Opcode.Ping, payload: 'y' }));
    assert.equal(h.writes.length, 0, 'turned off at run time');
    h.session.autoPong = true;
    assert.equal(h.session.autoPong, true);
    h.session.receive(clientFrame({ opcode: Opcode.Ping, payload: 'z' }));
    assert.equal(h.writes.length, 1, 'and on again');
  });

  test('asks the handler before each automatic pong (with the payload size): false leaves that ping unanswered, still reported', () => {
    const writes: Buffer[] = [];
    const asked: number[] = [];
    const pings: string[] = [];
    let allow = false;
    const session = new ProtocolSession(
      { role: 'server', maxPayload: 1 << 20 },
      {
        onMessage: () => {},
        onPing: (data) => void pings.push(data.toString()),
        autoPongAllowed: (size) => {
          asked.push(size);
          return allow;
        },
        onPong: () => {},
        onPeerClose: () => {},
        onProtocolError: () => {},
        write: (bytes) => void writes.push(Buffer.from(bytes)),
      },
    );
    session.receive(clientFrame({ opcode: Opcode.Ping, payload: 'abc' }));
    assert.equal(writes.length, 0, 'answered although the handler said no');
    allow = true;
    session.receive(clientFrame({ opcode: Opcode.Ping, payload: 'de' }));
    assert.equal(writes.length, 1);
    assert.deepEqual(asked, [3, 2]);
    assert.deepEqual(pings, ['abc', 'de']);
  });

  test('before any close frame: nothing sent or received, code 1006, no reason; setAllowRsv1 leaves autoPong alone', () => {
    const h = makeSession({ role: 'server', autoPong: false });
    assert.deepEqual(
      [h.session.closeSent, h.session.closeReceived, h.session.closedByPeer, h.session.sentCloseCode, h.session.receivedCloseCode, h.session.receivedCloseReason],
      [false, false, false, undefined, 1006, ''],
    );
    h.session.setAllowRsv1(true);
    assert.equal(h.session.autoPong, false);
    h.session.close(1000);
    assert.deepEqual([h.session.closeSent, h.session.sentCloseCode, h.session.closeReceived], [true, 1000, false]);
  });

  test('does not answer a ping after our close frame was sent', () => {
    const h = makeSession({ role: 'server' });
    h.session.close(1000);
    const before = h.writes.length;
    h.session.receive(clientFrame({ opcode: Opcode.Ping, payload: 'late' }));
    assert.equal(h.writes.length, before);
    assert.deepStrictEqual(h.events, [{ type: 'ping', data: Buffer.from('late') }]);
  });
});

describe('ProtocolSession: close handshake', () => {
  test('we close first: CLOSING, close frame written, then the peer\'s echo completes the handshake', () => {
    const h = makeSession({ role: 'server' });
    assert.equal(h.session.readyState, ReadyState.Open);
    assert.equal(h.session.close(1000, 'bye'), true);
    assert.equal(h.session.readyState, ReadyState.Closing);
    assert.equal(h.session.closeSent, true);
    assert.equal(h.session.sentCloseCode, 1000);
    assert.equal(h.session.closeHandshakeDone, false);
    assert.deepStrictEqual(wire(h), [ev.close(1000, 'bye')]);
    const written = h.writes.length;

    h.session.receive(clientFrame({ opcode: Opcode.Close, payload: closeBody(1000, 'ok') }));
    assert.equal(h.session.closeReceived, true);
    assert.equal(h.session.receivedCloseCode, 1000);
    assert.equal(h.session.receivedCloseReason, 'ok');
    assert.equal(h.session.closedByPeer, false);
    assert.equal(h.session.closeHandshakeDone, true);
    assert.equal(h.session.readyState, ReadyState.Closing);
    assert.equal(h.writes.length, written, 'no second close frame');
    assert.deepStrictEqual(h.events, [{ type: 'peerClose', code: 1000, reason: 'ok', writesSoFar: written }]);

    h.session.receiveEof();
    assert.equal(h.session.readyState, ReadyState.Closed);
  });

  test('close() with no code sends an empty close payload', () => {
    const h = makeSession({ role: 'server' });
    assert.equal(h.session.close(), true);
    assert.equal(h.session.sentCloseCode, undefined);
    assert.deepStrictEqual(Buffer.concat(h.writes), hex('88 00'));
    assert.deepStrictEqual(wire(h), [ev.close(1005)]);
  });

  test('close() a second time writes nothing and returns false', () => {
    const h = makeSession({ role: 'server' });
    h.session.close(4000, 'first');
    const written = h.writes.length;
    assert.equal(h.session.close(1000, 'second'), false);
    assert.equal(h.writes.length, written);
    assert.equal(h.session.sentCloseCode, 4000);
  });

  test('close() with an invalid code or a reason over 123 bytes throws and writes nothing', () => {
    const h = makeSession({ role: 'server' });
    assert.throws(() => h.session.close(1005), RangeError);
    assert.throws(() => h.session.close(1006), RangeError);
    assert.throws(() => h.session.close(999), RangeError);
    assert.throws(() => h.session.close(1000, 'x'.repeat(124)), RangeError);
    assert.throws(() => h.session.close(1000, '€'.repeat(42)), RangeError);
    assert.equal(h.writes.length, 0);
    assert.equal(h.session.closeSent, false);
    assert.equal(h.session.readyState, ReadyState.Open);
  });

  test('peer closes first: the code is echoed, closedByPeer is set and the handshake is done', () => {
    const stream = clientFrame({ opcode: Opcode.Close, payload: closeBody(1001, 'going away') });
    eachWay(stream, { role: 'server' }, (h, mode) => {
      assert.deepStrictEqual(wire(h), [ev.close(1001, '')], `echo (${mode})`);
      assert.equal(h.session.closedByPeer, true);
      assert.equal(h.session.closeSent, true);
      assert.equal(h.session.closeReceived, true);
      assert.equal(h.session.sentCloseCode, 1001);
      assert.equal(h.session.receivedCloseCode, 1001);
      assert.equal(h.session.receivedCloseReason, 'going away');
      assert.equal(h.session.closeHandshakeDone, true);
      assert.equal(h.session.readyState, ReadyState.Closing);
      assert.equal(h.session.failed, false);
      // The echo was written before the handler heard of the close.
      assert.deepStrictEqual(h.events, [{ type: 'peerClose', code: 1001, reason: 'going away', writesSoFar: h.writes.length }]);
    });
  });

  test('peer closes with each valid code: the echo carries the same code', () => {
    for (const code of [1000, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]) {
      const h = makeSession({ role: 'client' });
      h.session.receive(serverFrame({ opcode: Opcode.Close, payload: closeBody(code, 'r') }));
      assert.deepStrictEqual(wire(h), [ev.close(code, '')], String(code));
    }
  });

  test('an empty close from the peer is answered with an empty close', () => {
    eachWay(clientFrame({ opcode: Opcode.Close, payload: '' }), { role: 'server' }, (h, mode) => {
      assert.deepStrictEqual(Buffer.concat(h.writes), hex('88 00'), mode);
      assert.equal(h.session.receivedCloseCode, 1005);
      assert.equal(h.session.sentCloseCode, undefined);
      assert.equal(h.session.closedByPeer, true);
      assert.equal(h.session.closeHandshakeDone, true);
    });
  });

  test('sendFrame refuses, writing nothing, every frame RFC 6455 forbids', () => {
    const refused = (h: Harness, opcode: number, size: number, fin: boolean, rsv1: boolean, message: RegExp): void => {
      const before = h.writes.length;
      assert.throws(() => h.session.sendFrame(opcode as Opcode, Buffer.alloc(size), fin, rsv1), (error: unknown) => error instanceof RangeError && message.test(error.message));
      assert.equal(h.writes.length, before);
    };
    const h = makeSession({ role: 'server' });
    refused(h, Opcode.Ping, 126, true, false, /at most 125 bytes, not 126/);
    refused(h, Opcode.Pong, 200, true, false, /at most 125/);
    refused(h, Opcode.Ping, 1, false, false, /fragmented/);
    refused(h, Opcode.Pong, 1, true, true, /RSV1/);
    refused(h, Opcode.Close, 2, true, false, /close\(\)/);
    refused(h, 3, 1, true, false, /opcode 3 is not defined/);
    refused(h, 0xb, 1, true, false, /opcode 11 is not defined/);
    refused(h, Opcode.Continuation, 1, true, false, /needs an unfinished message/);
    refused(h, Opcode.Text, 1, true, true, /RSV1 needs an extension/);
    // A fragmented message: only its continuations, and control frames, may come before its end.
    assert.equal(h.session.sendFrame(Opcode.Text, Buffer.from('ab'), false, false), true);
    refused(h, Opcode.Binary, 1, true, false, /previous message is unfinished/);
    refused(h, Opcode.Text, 1, false, false, /previous message is unfinished/);
    assert.equal(h.session.sendFrame(Opcode.Ping, Buffer.alloc(125), true, false), true);
    assert.equal(h.session.sendFrame(Opcode.Continuation, Buffer.from('c'), false, false), true);
    refused(h, Opcode.Continuation, 1, true, true, /first frame of a message only/);
    assert.equal(h.session.sendFrame(Opcode.Continuation, Buffer.from('d'), true, false), true);
    refused(h, Opcode.Continuation, 1, true, false, /needs an unfinished message/);
    // The session still works, and its peer reads what it wrote as valid.
    assert.equal(h.session.sendFrame(Opcode.Binary, Buffer.from([7]), true, false), true);
    assert.deepEqual(wire(h), [ev.ping(Buffer.alloc(125)), ev.text('abcd'), ev.binary(Buffer.from([7]))]);
    // With an extension claiming RSV1, a first frame may carry it.
    const d = makeSession({ role: 'client', allowRsv1: true });
    assert.equal(d.session.sendFrame(Opcode.Binary, Buffer.from([1, 2]), true, true), true);
    // close() still writes its frame, and ends what may be sent.
    assert.equal(h.session.close(1000), true);
    assert.equal(h.session.sendFrame(Opcode.Ping, Buffer.alloc(500), true, false), false);
  });

  test('nothing is written after a close frame: sendFrame and sendEncoded return false', () => {
    const h = makeSession({ role: 'server' });
    h.session.close(1000);
    const written = h.writes.length;
    assert.equal(h.session.sendFrame(Opcode.Text, Buffer.from('late'), true, false), false);
    assert.equal(h.session.sendFrame(Opcode.Ping, Buffer.alloc(0), true, false), false);
    assert.equal(h.session.sendEncoded(serverFrame({ opcode: Opcode.Text, payload: 'x' })), false);
    assert.equal(h.writes.length, written);
    // Same after the peer closed first (our echo is the last frame).
    const p = makeSession({ role: 'client' });
    p.session.receive(serverFrame({ opcode: Opcode.Close, payload: closeBody(1000) }));
    const echoed = p.writes.length;
    assert.equal(p.session.sendFrame(Opcode.Binary, Buffer.from([1]), true, false), false);
    assert.equal(p.writes.length, echoed);
  });

  test('ignores everything received after the peer\'s close frame', () => {
    const stream = Buffer.concat([
      clientFrame({ opcode: Opcode.Close, payload: closeBody(1000) }),
      clientFrame({ opcode: Opcode.Text, payload: 'after' }),
      clientFrame({ opcode: Opcode.Ping, payload: 'p' }),
    ]);
    eachWay(stream, { role: 'server' }, (h, mode) => {
      assert.deepStrictEqual(h.events.map((e) => e.type), ['peerClose'], mode);
      assert.deepStrictEqual(wire(h), [ev.close(1000)], mode);
    });
  });
});

describe('ProtocolSession: protocol violations', () => {
  const VIOLATIONS: Array<[string, Buffer, number, Partial<SessionOptions>]> = [
    ['an unmasked frame to a server', serverFrame({ opcode: Opcode.Text, payload: 'x' }), 1002, {}],
    ['a reserved opcode', clientFrame({ opcode: 0x3, payload: '' }), 1002, {}],
    ['an invalid close code', clientFrame({ opcode: Opcode.Close, payload: closeBody(1005) }), 1002, {}],
    ['invalid UTF-8', clientFrame({ opcode: Opcode.Text, payload: hex('ed a0 80') }), 1007, {}],
    ['a message over maxPayload', clientFrame({ opcode: Opcode.Binary, payload: patternBytes(11) }), 1009, { maxPayload: 10 }],
  ];
  for (const [name, stream, code, options] of VIOLATIONS) {
    test(`${name} writes a close frame with ${code} and sets failure`, () => {
      eachWay(stream, { role: 'server', ...options }, (h, mode) => {
        const written = wire(h);
        assert.equal(written.length, 1, `${mode}: ${describeEvents(written)}`);
        const frame = written[0]!;
        assert.ok(frame.type === 'close', mode);
        assert.equal(frame.code, code, mode);
        assert.ok(h.session.failure !== undefined, mode);
        assert.equal(h.session.failure.closeCode, code);
        assert.equal(h.session.failed, true);
        assert.equal(h.session.closeSent, true);
        assert.equal(h.session.sentCloseCode, code);
        assert.equal(h.session.readyState, ReadyState.Closing);
        assert.equal(h.errors.length, 1, 'reported once');
        // The close frame was written before the handler heard of the error.
        assert.deepStrictEqual(h.events, [{ type: 'protocolError', closeCode: code, writesSoFar: h.writes.length }], mode);
      });
    });
  }

  test('a violation after our close frame sets failure but writes no second close frame', () => {
    const h = makeSession({ role: 'server' });
    h.session.close(1000);
    const written = h.writes.length;
    h.session.receive(serverFrame({ opcode: Opcode.Text, payload: 'unmasked' }));
    assert.equal(h.session.failed, true);
    assert.equal(h.session.failure!.closeCode, 1002);
    assert.equal(h.writes.length, written);
    assert.equal(h.session.sentCloseCode, 1000);
  });

  test('nothing is reported or written after a violation', () => {
    const h = makeSession({ role: 'server' });
    h.session.receive(serverFrame({ opcode: Opcode.Text, payload: 'x' }));
    const written = h.writes.length;
    h.session.receive(clientFrame({ opcode: Opcode.Ping, payload: 'p' }));
    h.session.receive(clientFrame({ opcode: Opcode.Close, payload: closeBody(1000) }));
    assert.equal(h.writes.length, written);
    assert.deepStrictEqual(h.events.map((e) => e.type), ['protocolError']);
  });
});

describe('ProtocolSession: client role', () => {
  test('masks every frame it writes, with a fresh key each, so a server-role parser accepts them', () => {
    const keys = new FixedKeys();
    const h = makeSession({ role: 'client', maskKeys: keys });
    const payload = Buffer.from('hello from the client');
    const copy = Buffer.from(payload);
    h.session.sendFrame(Opcode.Text, payload, true, false);
    h.session.sendFrame(Opcode.Binary, patternBytes(300), false, false);
    h.session.sendFrame(Opcode.Continuation, patternBytes(5), true, false);
    h.session.receive(serverFrame({ opcode: Opcode.Ping, payload: 'are you there' }));
    h.session.close(3001, 'done');
    assert.deepStrictEqual(payload, copy, 'the caller\'s payload is not masked in place');
    for (const w of h.writes) assert.equal(w[1]! & 0x80, 0x80, 'mask bit set');
    assert.equal(keys.count, h.writes.length, 'one key per frame');
    assert.deepStrictEqual(wire(h), [
      ev.text('hello from the client'),
      ev.binary(Buffer.concat([patternBytes(300), patternBytes(5)])),
      ev.pong('are you there'),
      ev.close(3001, 'done'),
    ]);
  });

  test('uses the default CSPRNG key source when none is given', () => {
    const h = makeSession({ role: 'client' });
    h.session.sendFrame(Opcode.Text, Buffer.from('x'), true, false);
    h.session.sendFrame(Opcode.Text, Buffer.from('x'), true, false);
    assert.equal(h.writes[0]![1], 0x81);
    assert.notDeepStrictEqual(h.writes[0]!.subarray(2, 6), h.writes[1]!.subarray(2, 6), 'fresh keys');
    assert.deepStrictEqual(wire(h), [ev.text('x'), ev.text('x')]);
  });

  test('answers the server\'s close with a masked echo and fails on a masked server frame', () => {
    const a = makeSession({ role: 'client' });
    a.session.receive(serverFrame({ opcode: Opcode.Close, payload: closeBody(1000, 'bye') }));
    assert.equal(a.writes[0]![1]! & 0x80, 0x80);
    assert.deepStrictEqual(wire(a), [ev.close(1000)]);

    eachWay(clientFrame({ opcode: Opcode.Text, payload: 'masked' }), { role: 'client' }, (h, mode) => {
      const written = wire(h);
      assert.equal(written.length, 1, mode);
      assert.ok(written[0]!.type === 'close' && written[0]!.code === 1002, `${mode}: ${describeEvents(written)}`);
      assert.equal(h.writes[0]![1]! & 0x80, 0x80, 'the close frame is masked');
      assert.equal(h.session.failure?.closeCode, 1002);
    });
  });

  test('delivers unmasked server messages', () => {
    eachWay(
      Buffer.concat([serverFrame({ opcode: Opcode.Text, payload: 'é😀' }), serverFrame({ opcode: Opcode.Binary, payload: patternBytes(70000) })]),
      { role: 'client' },
      (h, mode) => {
        assert.equal(h.events.length, 2, mode);
        assert.deepStrictEqual(h.events[0], msg('é😀'));
        assert.deepStrictEqual(h.events[1], { type: 'message', data: patternBytes(70000), binary: true, compressed: false });
      },
    );
  });
});

describe('ProtocolSession: a handler that throws', () => {
  /** A client session whose onMessage throws for the texts in `throwOn`, recording every message. */
  function throwing(throwOn: readonly string[]): { session: ProtocolSession; got: string[] } {
    const got: string[] = [];
    const handler: SessionHandler = {
      onMessage: (data) => {
        got.push(data.toString());
        if (throwOn.includes(data.toString())) throw new Error(`handler failed on ${data.toString()}`);
      },
      onPing: () => {},
      onPong: () => {},
      onPeerClose: () => {},
      onProtocolError: () => {},
      write: () => {},
    };
    return { session: new ProtocolSession({ role: 'client', maxPayload: 1 << 20 }, handler), got };
  }

  test('does not cut the chunk short: the rest of it, and a frame split across two chunks, are parsed in step, then the error is thrown', () => {
    const { session, got } = throwing(['m2']);
    // m3's payload is itself the bytes of a frame: a parser out of step would deliver "INJECTED".
    const m3 = serverFrame({ opcode: 0x1, payload: 'INJECTED' });
    const m3Frame = serverFrame({ opcode: 0x2, payload: m3 });
    const first = Buffer.concat([serverFrame({ opcode: 0x1, payload: 'm1' }), serverFrame({ opcode: 0x1, payload: 'm2' }), m3Frame.subarray(0, 2)]);
    const second = Buffer.concat([m3Frame.subarray(2), serverFrame({ opcode: 0x1, payload: 'm4' })]);
    assert.throws(() => session.receive(first), /handler failed on m2/);
    session.receive(second);
    assert.deepEqual(got, ['m1', 'm2', m3.toString(), 'm4']);
  });

  test('several throws in one chunk: every message is delivered, then one AggregateError carries each error', () => {
    const { session, got } = throwing(['a', 'c']);
    const chunk = Buffer.concat(['a', 'b', 'c', 'd'].map((text) => serverFrame({ opcode: 0x1, payload: text })));
    assert.throws(
      () => session.receive(chunk),
      (error: unknown) => error instanceof AggregateError && error.errors.map((e: Error) => e.message).join() === 'handler failed on a,handler failed on c',
    );
    assert.deepEqual(got, ['a', 'b', 'c', 'd']);
    // Nothing is left over for the next chunk to throw.
    session.receive(serverFrame({ opcode: 0x1, payload: 'e' }));
    assert.deepEqual(got, ['a', 'b', 'c', 'd', 'e']);
  });
});

describe('ProtocolSession: deferred (events waiting in the handler)', () => {
  /** A server session whose handler holds what the session defers while `holding`. */
  function holdingSession(): { session: ProtocolSession; held: (() => void)[]; log: string[]; writes: Buffer[]; release(): void } {
    const held: (() => void)[] = [];
    const log: string[] = [];
    const writes: Buffer[] = [];
    let holding = true;
    const handler: SessionHandler = {
      onMessage: () => {},
      onPing: () => {},
      onPong: () => {},
      onPeerClose: (code) => void log.push(`peerClose ${code}`),
      onProtocolError: (error) => void log.push(`protocolError ${error.closeCode}`),
      write: (bytes) => void writes.push(Buffer.from(bytes)),
      deferred: (action) => holding && (held.push(action), true),
    };
    return { session: new ProtocolSession({ role: 'server', maxPayload: 1 << 20 }, handler), held, log, writes, release: () => (holding = false) };
  }

  for (const [what, frame, expected] of [
    ['the peer close frame', clientFrame({ opcode: 0x8, payload: closeBody(1000) }), 'peerClose 1000'],
    ['a violation', clientFrame({ opcode: 0x3, payload: 'x' }), 'protocolError 1002'],
  ] as const) {
    test(`${what} waits, writing nothing, while the handler holds earlier events, and is acted on when it runs the action`, () => {
      const h = holdingSession();
      h.session.receive(frame);
      assert.equal(h.writes.length, 0, 'nothing written while it waits');
      assert.deepEqual(h.log, []);
      assert.equal(h.session.readyState, ReadyState.Open);
      // The handler's earlier events are done: it runs what waited.
      h.release();
      h.held.shift()!();
      assert.equal(h.writes.length, 1, 'the close frame');
      assert.equal(h.session.readyState, ReadyState.Closing);
      assert.deepEqual(h.log, [expected]);
    });
  }

  test('what waited does nothing once the session was halted meanwhile', () => {
    const h = holdingSession();
    h.session.receive(clientFrame({ opcode: 0x8, payload: closeBody(1000) }));
    h.session.halt();
    h.held.shift()!();
    assert.equal(h.writes.length, 0);
    assert.deepEqual(h.log, []);
  });
});

describe('ProtocolSession: arguments where the types do not reach', () => {
  test('options: a misspelt role, or a missing or NaN maxPayload, are refused when the session is made', () => {
    const handler: SessionHandler = { onMessage() {}, onPing() {}, onPong() {}, onPeerClose() {}, onProtocolError() {}, write() {} };
    assert.throws(() => new ProtocolSession({ role: 'srv' as 'server', maxPayload: 10 }, handler), TypeError);
    assert.throws(() => new ProtocolSession({ role: 'server' } as SessionOptions, handler), TypeError);
    assert.throws(() => new ProtocolSession({ role: 'server', maxPayload: NaN }, handler), TypeError);
  });

  test('failConnection with an error that is not a ProtocolError, or a close code that may not be sent, throws and changes nothing', () => {
    const h = makeSession({ role: 'server' });
    assert.throws(() => h.session.failConnection(new Error('plain') as ProtocolError), TypeError);
    assert.throws(() => h.session.failConnection(new ProtocolError(1006, 'abnormal is never sent')), RangeError);
    assert.equal(h.session.failed, false);
    assert.equal(h.session.stopped, false);
    assert.equal(h.writes.length, 0);
    // Still able to fail properly, and to read meanwhile.
    h.session.receive(clientFrame({ opcode: 0x1, payload: 'still read' }));
    h.session.failConnection(new ProtocolError(1008, 'policy'));
    assert.deepEqual(h.events.map((e) => e.type), ['message', 'protocolError']);
    assert.equal(h.writes.length, 1);
  });

  test('sendFrame with a payload that is not bytes is a TypeError, not a frame of zero bytes', () => {
    const h = makeSession({ role: 'server' });
    assert.throws(() => h.session.sendFrame(Opcode.Text, 'abc' as unknown as Buffer, true, false), TypeError);
    assert.equal(h.writes.length, 0);
  });
});

describe('ProtocolSession: a throw from onProtocolError after a handler threw in the same chunk', () => {
  test('both are thrown, in one AggregateError: neither is lost', () => {
    const handler: SessionHandler = {
      onMessage: () => {
        throw new Error('from onMessage');
      },
      onPing() {},
      onPong() {},
      onPeerClose() {},
      onProtocolError: () => {
        throw new Error('from onProtocolError');
      },
      write() {},
    };
    const session = new ProtocolSession({ role: 'server', maxPayload: 1 << 20 }, handler);
    const chunk = Buffer.concat([clientFrame({ opcode: 0x1, payload: 'a' }), clientFrame({ opcode: 0x3, payload: 'x' })]);
    assert.throws(
      () => session.receive(chunk),
      (error: unknown) => error instanceof AggregateError && error.errors.map((e: Error) => e.message).join() === 'from onMessage,from onProtocolError',
    );
  });
});
