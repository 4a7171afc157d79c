// Test case definitions modelled on the Autobahn TestSuite (crossbar.io),
// categories 1-7 and 10 (no performance category 9); the compression
// categories 12/13 live in cases-deflate.mjs and are added below.
//
// Each case: { id, description, expectation, onOpen(c), post?(c, r) }
// `c` is the FuzzConnection (lib/fuzzer.mjs): it sends frames and collects
// `received` events: ['message', Buffer, isBinary] | ['pong', Buffer] |
// ['timeout', tag]. onOpen() fills c.expected ({ OK: [...], 'NON-STRICT': [...] })
// and c.expectedClose ({ closedByMe, closeCode: [...], requireClean }).
// Delays are given in Autobahn's seconds; the fuzzer scales them.

import { V } from './fuzzer.mjs';
import { Utf8Validator } from './wire.mjs';
import { DEFLATE_CASES } from './cases-deflate.mjs';

const T = (s) => Buffer.from(s, 'utf8');
const H = (hex) => Buffer.from(hex.replace(/\s+/g, ''), 'hex');
const rep = (ch, n) => Buffer.alloc(n, ch);

const NORMAL = 1000;
const PROTOCOL_ERROR = 1002;
const INVALID_PAYLOAD = 1007;

const msg = (payload, binary = false) => ['message', Buffer.from(payload), binary];
const pong = (payload) => ['pong', Buffer.from(payload)];

const cleanNormal = { closedByMe: true, closeCode: [NORMAL], requireClean: true };
const failProto = { closedByMe: false, closeCode: [PROTOCOL_ERROR], requireClean: false };

// Category 7 cases turn a wrong close code into a case failure.
function wrongCodeFails(c, r) {
  if (r.behaviorClose === V.WRONG_CODE) {
    r.behavior = V.FAILED;
    r.result = r.resultClose;
  }
}

const cases = [];
function def(id, description, expectation, onOpen, extra = {}) {
  cases.push({ id, description, expectation, onOpen, ...extra });
}

// ------------------------------------------------------------ 1 Framing
{
  const sizes = [
    ['1', 0, null], ['2', 125, null], ['3', 126, null], ['4', 127, null],
    ['5', 128, null], ['6', 65535, null], ['7', 65536, null], ['8', 65536, 997],
  ];
  for (const [n, len, chop] of sizes) {
    const big = len >= 65535;
    def(`1.1.${n}`, `Send text message with payload of length ${len}.${chop ? ` Sent out data in chops of ${chop} octets.` : ''}`,
      "Receive echo'ed text message (with payload as sent). Clean close with normal code.",
      (c) => {
        const payload = rep('*', len);
        c.expected[V.OK] = [msg(payload, false)];
        c.expectedClose = cleanNormal;
        c.sendFrame({ opcode: 1, payload, chopsize: chop });
        c.killAfter(big ? 10 : 1);
      });
  }
  for (const [n, len, chop] of sizes) {
    const big = len >= 65535;
    def(`1.2.${n}`, `Send binary message with payload of length ${len}.${chop ? ` Sent out data in chops of ${chop} octets.` : ''}`,
      "Receive echo'ed binary message (with payload as sent). Clean close with normal code.",
      (c) => {
        const payload = rep(0xfe, len);
        c.expected[V.OK] = [msg(payload, true)];
        c.expectedClose = cleanNormal;
        c.sendFrame({ opcode: 2, payload, chopsize: chop });
        c.killAfter(big ? 10 : 1);
      });
  }
}

// ------------------------------------------------------------ 2 Pings/Pongs
def('2.1', 'Send ping without payload.', "Pong (with empty payload) is sent in reply to Ping. Clean close with normal code.", (c) => {
  c.expected[V.OK] = [pong(Buffer.alloc(0))];
  c.expectedClose = cleanNormal;
  c.sendFrame({ opcode: 9 });
  c.closeAfter(1);
});
def('2.2', 'Send ping with small text payload.', "Pong with payload echo'ed is sent in reply to Ping. Clean close with normal code.", (c) => {
  const p = T('Hello, world!');
  c.expected[V.OK] = [pong(p)];
  c.expectedClose = cleanNormal;
  c.sendFrame({ opcode: 9, payload: p });
  c.closeAfter(1);
});
def('2.3', 'Send ping with small binary (non UTF-8) payload.', "Pong with payload echo'ed is sent in reply to Ping. Clean close with normal code.", (c) => {
  const p = H('00fffefdfcfb00ff');
  c.expected[V.OK] = [pong(p)];
  c.expectedClose = cleanNormal;
  c.sendFrame({ opcode: 9, payload: p });
  c.closeAfter(1);
});
def('2.4', 'Send ping with binary payload of 125 octets.', "Pong with payload echo'ed is sent in reply to Ping. Clean close with normal code.", (c) => {
  const p = rep(0xfe, 125);
  c.expected[V.OK] = [pong(p)];
  c.expectedClose = cleanNormal;
  c.sendFrame({ opcode: 9, payload: p });
  c.closeAfter(1);
});
def('2.5', 'Send ping with binary payload of 126 octets.', 'Connection is failed immediately (1002/Protocol Error), since control frames are only allowed to have payload up to and including 125 octets.', (c) => {
  c.expected[V.OK] = [];
  c.expectedClose = failProto;
  c.sendFrame({ opcode: 9, payload: rep(0xfe, 126) });
  c.killAfter(1);
});
def('2.6', 'Send ping with binary payload of 125 octets, send in octet-wise chops.', "Pong with payload echo'ed is sent in reply to Ping. Implementations must be TCP clean. Clean close with normal code.", (c) => {
  const p = rep(0xfe, 125);
  c.expected[V.OK] = [pong(p)];
  c.expectedClose = cleanNormal;
  c.sendFrame({ opcode: 9, payload: p, chopsize: 1 });
  c.closeAfter(2);
});
def('2.7', 'Send unsolicited pong without payload. Verify nothing is received. Clean close with normal code.', 'Nothing.', (c) => {
  c.expected[V.OK] = [];
  c.expectedClose = cleanNormal;
  c.sendFrame({ opcode: 10 });
  c.sendClose(NORMAL);
  c.closeAfter(1);
});
def('2.8', 'Send unsolicited pong with payload. Verify nothing is received. Clean close with normal code.', 'Nothing.', (c) => {
  c.expected[V.OK] = [];
  c.expectedClose = cleanNormal;
  c.sendFrame({ opcode: 10, payload: T('unsolicited pong payload') });
  c.sendClose(NORMAL);
  c.closeAfter(1);
});
def('2.9', 'Send unsolicited pong with payload. Send ping with payload. Verify pong for ping is received.', "Nothing in reply to own Pong, but Pong with payload echo'ed in reply to Ping. Clean close with normal code.", (c) => {
  const p = T('ping payload');
  c.expected[V.OK] = [pong(p)];
  c.expectedClose = cleanNormal;
  c.sendFrame({ opcode: 10, payload: T('unsolicited pong payload') });
  c.sendFrame({ opcode: 9, payload: p });
  c.closeAfter(1);
});
for (const [id, chop, desc] of [['2.10', null, 'Send 10 Pings with payload.'], ['2.11', 1, 'Send 10 Pings with payload. Send out octets in octet-wise chops.']]) {
  def(id, desc, 'Pongs for our Pings with all the payloads. Note: This is not required by the Spec .. but we check for this behaviour anyway. Clean close with normal code.', (c) => {
    c.expected[V.OK] = [];
    for (let i = 0; i < 10; i++) {
      const p = T(`payload-${i}`);
      c.expected[V.OK].push(pong(p));
      c.sendFrame({ opcode: 9, payload: p, chopsize: chop });
    }
    c.expectedClose = cleanNormal;
    c.closeAfter(3);
  });
}

// ------------------------------------------------------------ 3 Reserved bits
const HELLO = T('Hello, world!');
def('3.1', 'Send small text message with RSV = 1.', 'The connection is failed immediately (1002/protocol error), since RSV must be 0, when no extension defining RSV meaning has been negotiated.', (c) => {
  c.expected[V.OK] = [];
  c.expectedClose = failProto;
  c.sendFrame({ opcode: 1, payload: HELLO, rsv: 1 });
  c.killAfter(1);
});
for (const [id, rsv, mode, desc] of [
  ['3.2', 2, {}, 'Send small text message, then send again with RSV = 2, then send Ping.'],
  ['3.3', 3, { sync: true }, 'Send small text message, then send again with RSV = 3, then send Ping. Octets are sent in frame-wise chops.'],
  ['3.4', 4, { chopsize: 1 }, 'Send small text message, then send again with RSV = 4, then send Ping. Octets are sent in octet-wise chops.'],
]) {
  def(id, desc, 'Echo for first message is received, but then connection is failed immediately, since RSV must be 0, when no extension defining RSV meaning has been negotiated. The Pong is not received.', (c) => {
    c.expected[V.OK] = [msg(HELLO)];
    c.expected[V.NON_STRICT] = [];
    c.expectedClose = failProto;
    c.sendFrame({ opcode: 1, payload: HELLO, ...mode });
    c.sendFrame({ opcode: 1, payload: HELLO, rsv, ...mode });
    c.sendFrame({ opcode: 9, ...mode });
    c.killAfter(1);
  });
}
def('3.5', 'Send small binary message with RSV = 5.', 'The connection is failed immediately, since RSV must be 0.', (c) => {
  c.expected[V.OK] = [];
  c.expectedClose = failProto;
  c.sendFrame({ opcode: 2, payload: H('00fffefdfcfb00ff'), rsv: 5 });
  c.killAfter(1);
});
// Note: Autobahn's 3.6 ("Send Ping with RSV = 6") actually sends opcode 2
// (binary) with RSV = 6 - reproduced as is.
def('3.6', 'Send Ping with RSV = 6.', 'The connection is failed immediately, since RSV must be 0.', (c) => {
  c.expected[V.OK] = [];
  c.expectedClose = failProto;
  c.sendFrame({ opcode: 2, payload: HELLO, rsv: 6 });
  c.killAfter(1);
});
def('3.7', 'Send Close with RSV = 7.', 'The connection is failed immediately, since RSV must be 0.', (c) => {
  c.expected[V.OK] = [];
  c.expectedClose = failProto;
  c.sendFrame({ opcode: 8, rsv: 7 });
  c.killAfter(1);
});

// ------------------------------------------------------------ 4 Opcodes
for (const [sub, base] of [['1', 3], ['2', 11]]) {
  const kind = sub === '1' ? 'non-control' : 'control';
  def(`4.${sub}.1`, `Send frame with reserved ${kind} Opcode = ${base}.`, 'The connection is failed immediately.', (c) => {
    c.expected[V.OK] = [];
    c.expectedClose = failProto;
    c.sendFrame({ opcode: base });
    c.killAfter(1);
  });
  def(`4.${sub}.2`, `Send frame with reserved ${kind} Opcode = ${base + 1} and non-empty payload.`, 'The connection is failed immediately.', (c) => {
    c.expected[V.OK] = [];
    c.expectedClose = failProto;
    c.sendFrame({ opcode: base + 1, payload: T('reserved opcode payload') });
    c.killAfter(1);
  });
  const tail = [
    ['3', base + 2, false, {}],
    ['4', base + 3, true, {}],
    ['5', base + 4, true, { chopsize: 1 }],
  ];
  for (const [n, op, withPayload, mode] of tail) {
    def(`4.${sub}.${n}`, `Send small text message, then send frame with reserved ${kind} Opcode = ${op}${withPayload ? ' and non-empty payload' : ''}, then send Ping.`,
      'Echo for first message is received, but then connection is failed immediately, since reserved opcode frame is used. A Pong is not received.', (c) => {
        c.expected[V.OK] = [msg(HELLO)];
        c.expected[V.NON_STRICT] = [];
        c.expectedClose = failProto;
        c.sendFrame({ opcode: 1, payload: HELLO, ...mode });
        c.sendFrame({ opcode: op, payload: withPayload ? HELLO : Buffer.alloc(0), ...mode });
        c.sendFrame({ opcode: 9, ...mode });
        c.killAfter(1);
      });
  }
}

// ------------------------------------------------------------ 5 Fragmentation
def('5.1', 'Send Ping fragmented into 2 fragments.', 'Connection is failed immediately, since control message MUST NOT be fragmented.', (c) => {
  c.expected[V.OK] = [];
  c.expectedClose = failProto;
  c.sendFrame({ opcode: 9, fin: false, payload: T('fragment1') });
  c.sendFrame({ opcode: 0, fin: true, payload: T('fragment2') });
  c.killAfter(1);
});
def('5.2', 'Send Pong fragmented into 2 fragments.', 'Connection is failed immediately, since control message MUST NOT be fragmented.', (c) => {
  c.expected[V.OK] = [];
  c.expectedClose = failProto;
  c.sendFrame({ opcode: 10, fin: false, payload: T('fragment1') });
  c.sendFrame({ opcode: 0, fin: true, payload: T('fragment2') });
  c.killAfter(1);
});
for (const [id, mode, how] of [['5.3', {}, ''], ['5.4', { sync: true }, ', octets are sent in frame-wise chops'], ['5.5', { chopsize: 1 }, ', octets are sent in octet-wise chops']]) {
  def(id, `Send text Message fragmented into 2 fragments${how}.`, "Message is processed and echo'ed back to us.", (c) => {
    c.expected[V.OK] = [msg(T('fragment1fragment2'))];
    c.expectedClose = cleanNormal;
    c.sendFrame({ opcode: 1, fin: false, payload: T('fragment1'), ...mode });
    c.sendFrame({ opcode: 0, fin: true, payload: T('fragment2'), ...mode });
    c.closeAfter(1);
  });
}
for (const [id, mode, how] of [['5.6', {}, ''], ['5.7', { sync: true }, ' Octets are sent in frame-wise chops.'], ['5.8', { chopsize: 1 }, ' Octets are sent in octet-wise chops.']]) {
  def(id, `Send text Message fragmented into 2 fragments, one ping with payload in-between.${how}`, "A pong is received, then the message is echo'ed back to us.", (c) => {
    const pp = T('ping payload');
    c.expected[V.OK] = [pong(pp), msg(T('fragment1fragment2'))];
    c.expectedClose = cleanNormal;
    c.sendFrame({ opcode: 1, fin: false, payload: T('fragment1'), ...mode });
    c.sendFrame({ opcode: 9, fin: true, payload: pp, ...mode });
    c.sendFrame({ opcode: 0, fin: true, payload: T('fragment2'), ...mode });
    c.closeAfter(1);
  });
}
{
  const variants = [
    ['5.9', true, {}, 'one chop'], ['5.10', true, { sync: true }, 'per-frame chops'], ['5.11', true, { chopsize: 1 }, 'octet-wise chops'],
    ['5.12', false, {}, 'one chop'], ['5.13', false, { sync: true }, 'per-frame chops'], ['5.14', false, { chopsize: 1 }, 'octet-wise chops'],
  ];
  for (const [id, fin, mode, how] of variants) {
    def(id, `Send unfragmented Text Message after Continuation Frame with FIN = ${fin}, where there is nothing to continue, sent in ${how}.`,
      'The connection is failed immediately, since there is no message to continue.', (c) => {
        c.expected[V.OK] = [];
        c.expectedClose = failProto;
        c.sendFrame({ opcode: 0, fin, payload: T('non-continuation payload'), ...mode });
        c.sendFrame({ opcode: 1, fin: true, payload: HELLO, ...mode });
        c.killAfter(1);
      });
  }
}
def('5.15', 'Send text Message fragmented into 2 fragments, then Continuation Frame with FIN = false where there is nothing to continue, then unfragmented Text Message, all sent in one chop.',
  'The connection is failed immediately, since there is no message to continue.', (c) => {
    c.expected[V.OK] = [msg(T('fragment1fragment2'))];
    c.expected[V.NON_STRICT] = [];
    c.expectedClose = failProto;
    c.sendFrame({ opcode: 1, fin: false, payload: T('fragment1') });
    c.sendFrame({ opcode: 0, fin: true, payload: T('fragment2') });
    c.sendFrame({ opcode: 0, fin: false, payload: T('fragment3') });
    c.sendFrame({ opcode: 1, fin: true, payload: T('fragment4') });
    c.killAfter(1);
  });
for (const [id, fin] of [['5.16', false], ['5.17', true]]) {
  def(id, `Repeated 2x: Continuation Frame with FIN = ${fin} (where there is nothing to continue), then text Message fragmented into 2 fragments.`,
    'The connection is failed immediately, since there is no message to continue.', (c) => {
      c.expected[V.OK] = [];
      c.expectedClose = failProto;
      for (let i = 0; i < 2; i++) {
        c.sendFrame({ opcode: 0, fin, payload: T('fragment1') });
        c.sendFrame({ opcode: 1, fin: false, payload: T('fragment2') });
        c.sendFrame({ opcode: 0, fin: true, payload: T('fragment3') });
      }
      c.killAfter(1);
    });
}
def('5.18', 'Send text Message fragmented into 2 fragments, with both frame opcodes set to text, sent in one chop.',
  'The connection is failed immediately, since all data frames after the initial data frame must have opcode 0.', (c) => {
    c.expected[V.OK] = [];
    c.expectedClose = failProto;
    c.sendFrame({ opcode: 1, fin: false, payload: T('fragment1') });
    c.sendFrame({ opcode: 1, fin: true, payload: T('fragment2') });
    c.killAfter(1);
  });
for (const [id, sync] of [['5.19', false], ['5.20', true]]) {
  def(id, sync ? 'Same as Case 5.19, but send all frames with SYNC = True.'
    : 'A fragmented text message is sent in multiple frames. After sending the first 2 frames of the text message, a Ping is sent. Then we wait 1s, then we send 2 more text fragments, another Ping and then the final text fragment. Everything is legal.',
  "The peer immediately answers the first Ping before it has received the last text message fragment. The peer pong's back the Ping's payload exactly, and echo's the payload of the fragmented message back to us.", (c) => {
    const frags = ['fragment1', 'fragment2', 'fragment3', 'fragment4', 'fragment5'].map(T);
    const pings = [T('pongme 1!'), T('pongme 2!')];
    c.expected[V.OK] = [pong(pings[0]), pong(pings[1]), msg(Buffer.concat(frags))];
    c.expectedClose = cleanNormal;
    c.sendFrame({ opcode: 1, fin: false, payload: frags[0], sync });
    c.sendFrame({ opcode: 0, fin: false, payload: frags[1], sync });
    c.sendFrame({ opcode: 9, fin: true, payload: pings[0], sync });
    c.continueLater(1, () => {
      c.sendFrame({ opcode: 0, fin: false, payload: frags[2], sync });
      c.sendFrame({ opcode: 0, fin: false, payload: frags[3], sync });
      c.sendFrame({ opcode: 9, fin: true, payload: pings[1], sync });
      c.sendFrame({ opcode: 0, fin: true, payload: frags[4], sync });
      c.closeAfter(1);
    });
  });
}

// ------------------------------------------------------------ 6 UTF-8 handling
const KOSME = H('cebae1bdb9cf83cebcceb5'); // "κόσμε"
const HELLO_UTF8 = T('Hello-µ@ßöäüàá-UTF-8!!');

def('6.1.1', 'Send text message of length 0.', "A message is echo'ed back to us (with empty payload).", (c) => {
  c.expected[V.OK] = [msg(Buffer.alloc(0))];
  c.expectedClose = cleanNormal;
  c.sendFrame({ opcode: 1, payload: Buffer.alloc(0) });
  c.closeAfter(1);
});
def('6.1.2', 'Send fragmented text message, 3 fragments each of length 0.', "A message is echo'ed back to us (with empty payload).", (c) => {
  c.expected[V.OK] = [msg(Buffer.alloc(0))];
  c.expectedClose = cleanNormal;
  c.sendFrame({ opcode: 1, fin: false });
  c.sendFrame({ opcode: 0, fin: false });
  c.sendFrame({ opcode: 0, fin: true });
  c.closeAfter(1);
});
def('6.1.3', 'Send fragmented text message, 3 fragments, first and last of length 0, middle non-empty.', "A message is echo'ed back to us (with payload = payload of middle fragment).", (c) => {
  const p = T('middle frame payload');
  c.expected[V.OK] = [msg(p)];
  c.expectedClose = cleanNormal;
  c.sendFrame({ opcode: 1, fin: false });
  c.sendFrame({ opcode: 0, fin: false, payload: p });
  c.sendFrame({ opcode: 0, fin: true });
  c.closeAfter(1);
});
def('6.2.1', 'Send a valid UTF-8 text message in one fragment.', "The message is echo'ed back to us.", (c) => {
  c.expected[V.OK] = [msg(HELLO_UTF8)];
  c.expectedClose = cleanNormal;
  c.sendMessage(HELLO_UTF8);
  c.closeAfter(1);
});
def('6.2.2', 'Send a valid UTF-8 text message in two fragments, fragmented on UTF-8 code point boundary.', "The message is echo'ed back to us.", (c) => {
  const p1 = T('Hello-µ@ßöä');
  const p2 = T('üàá-UTF-8!!');
  c.expected[V.OK] = [msg(Buffer.concat([p1, p2]))];
  c.expectedClose = cleanNormal;
  c.sendFrame({ opcode: 1, fin: false, payload: p1 });
  c.sendFrame({ opcode: 0, fin: true, payload: p2 });
  c.closeAfter(1);
});
for (const [id, p] of [['6.2.3', HELLO_UTF8], ['6.2.4', KOSME]]) {
  def(id, 'Send a valid UTF-8 text message in fragments of 1 octet, resulting in frames ending on positions which are not code point ends.', "The message is echo'ed back to us.", (c) => {
    c.expected[V.OK] = [msg(p)];
    c.expectedClose = cleanNormal;
    c.sendMessage(p, { fragmentSize: 1 });
    c.closeAfter(1);
  });
}
{
  const bad = Buffer.concat([KOSME, H('eda080'), T('edited')]);
  const failUtf8 = { closedByMe: false, closeCode: [INVALID_PAYLOAD], requireClean: false, closedByWrongEndpointIsFatal: true };
  def('6.3.1', 'Send invalid UTF-8 text message unfragmented.', 'The connection is failed immediately, since the payload is not valid UTF-8.', (c) => {
    c.expected[V.OK] = [];
    c.expectedClose = failUtf8;
    c.sendMessage(bad);
    c.killAfter(1);
  });
  def('6.3.2', 'Send invalid UTF-8 text message in fragments of 1 octet, resulting in frames ending on positions which are not code point ends.', 'The connection is failed immediately, since the payload is not valid UTF-8.', (c) => {
    c.expected[V.OK] = [];
    c.expectedClose = failUtf8;
    c.sendMessage(bad, { fragmentSize: 1 });
    c.killAfter(1);
  });

  // 6.4.x fail-fast: PART2 (f4 90 80 80 = 0x110000) makes the payload invalid
  const P1 = KOSME;
  const P2 = H('f4908080');
  const P3 = T('edited');
  const ALL = Buffer.concat([P1, P2, P3]);
  const failFastExpect = (c) => {
    c.expected[V.OK] = [['timeout', 'A']];
    c.expected[V.NON_STRICT] = [['timeout', 'A'], ['timeout', 'B']];
    c.expectedClose = { closedByMe: false, closeCode: [INVALID_PAYLOAD], requireClean: false, closedByWrongEndpointIsFatal: true };
  };
  const framesCase = (parts) => (c) => {
    failFastExpect(c);
    c.sendFrame({ opcode: 1, fin: false, payload: parts[0] });
    c.continueLater(1, () => {
      if (!c.isOpen) return;
      c.record('timeout', 'A');
      c.sendFrame({ opcode: 0, fin: false, payload: parts[1] });
      c.continueLater(1, () => {
        if (!c.isOpen) return;
        c.record('timeout', 'B');
        c.sendFrame({ opcode: 0, fin: true, payload: parts[2] });
        c.killAfter(1);
      });
    });
  };
  const chopsCase = (parts) => (c) => {
    failFastExpect(c);
    c.beginMessage(false);
    c.beginMessageFrame(ALL.length);
    c.sendMessageFrameData(parts[0]);
    c.continueLater(1, () => {
      if (!c.isOpen) return;
      c.record('timeout', 'A');
      c.sendMessageFrameData(parts[1]);
      c.continueLater(1, () => {
        if (!c.isOpen) return;
        c.record('timeout', 'B');
        c.sendMessageFrameData(parts[2]);
        c.endMessage();
        c.killAfter(1);
      });
    });
  };
  const exact = [ALL.subarray(0, 12), ALL.subarray(12, 13), ALL.subarray(13)];
  const failFastExp = 'The first part is accepted, we expect to timeout on the first wait. The 2nd part should be rejected immediately (fail fast on UTF-8). If we timeout, we expect the connection is failed at least then, since the complete message payload is not valid UTF-8.';
  def('6.4.1', 'Send invalid UTF-8 text message in 3 fragments (frames). First frame payload is valid, then wait, then 2nd frame which contains the payload making the sequence invalid (f4 90 80 80 = 0x110000), then wait, then 3rd frame with rest.', failFastExp, framesCase([P1, P2, P3]));
  def('6.4.2', 'Same as Case 6.4.1, but in 2nd frame, we send only up to and including the octet making the complete payload invalid.', failFastExp, framesCase(exact));
  def('6.4.3', 'Same as Case 6.4.1, but we send message not in 3 frames, but in 3 chops of the same message frame.', failFastExp, chopsCase([P1, P2, P3]));
  def('6.4.4', 'Same as Case 6.4.2, but we send message not in 3 frames, but in 3 chops of the same message frame.', failFastExp, chopsCase(exact));
}

// 6.5 - 6.23: UTF-8 decoder test sequences (Markus Kuhn's UTF-8-test.txt)
function utf8Sequences() {
  const S = [];
  const vss = KOSME;
  S.push(['Some valid UTF-8 sequences', [
    [true, H('68656c6c6f24776f726c64')], [true, H('68656c6c6fc2a2776f726c64')],
    [true, H('68656c6c6fe282ac776f726c64')], [true, H('68656c6c6ff0a4ada2776f726c64')], [true, vss]]]);
  {
    const list = [];
    for (let i = 1; i <= vss.length; i++) {
      const v = new Utf8Validator();
      const r = v.validate(vss.subarray(0, i));
      list.push([r.valid && r.complete, vss.subarray(0, i)]);
    }
    S.push(['All prefixes of a valid UTF-8 string that contains multi-byte code points', list]);
  }
  S.push(['First possible sequence of a certain length', [[true, H('00')], [true, H('c280')], [true, H('e0a080')], [true, H('f0908080')]]]);
  S.push(['First possible sequence length 5/6 (invalid codepoints)', [[false, H('f888808080')], [false, H('fc8480808080')]]]);
  S.push(['Last possible sequence of a certain length', [[true, H('7f')], [true, H('dfbf')], [true, H('efbfbf')], [true, H('f48fbfbf')]]]);
  S.push(['Last possible sequence length 4/5/6 (invalid codepoints)', [[false, H('f7bfbfbf')], [false, H('fbbfbfbfbf')], [false, H('fdbfbfbfbfbf')]]]);
  S.push(['Other boundary conditions', [[true, H('ed9fbf')], [true, H('ee8080')], [true, H('efbfbd')], [true, H('f48fbfbf')], [false, H('f4908080')]]]);
  {
    const all = [];
    for (let i = 0x80; i < 0xbf; i++) all.push(i);
    S.push(['Unexpected continuation bytes', [
      [false, H('80')], [false, H('bf')], [false, H('80bf')], [false, H('80bf80')], [false, H('80bf80bf')],
      [false, H('80bf80bf80')], [false, H('80bf80bf80bf')], [false, Buffer.from(all)]]]);
  }
  {
    const list = [];
    for (const [a, b] of [[0xc0, 0xdf], [0xe0, 0xef], [0xf0, 0xf7], [0xf8, 0xfb], [0xfc, 0xfd]]) {
      const bytes = [];
      for (let i = a; i < b; i++) bytes.push(i, 0x20);
      list.push([false, Buffer.from(bytes)]);
    }
    S.push(['Lonely start characters', list]);
  }
  const k = ['c0', 'e080', 'f08080', 'f8808080', 'fc80808080', 'df', 'efbf', 'f7bfbf', 'fbbfbfbf', 'fdbfbfbfbf'].map(H);
  S.push(['Sequences with last continuation byte missing', k.map((x) => [false, x])]);
  S.push(['Concatenation of incomplete sequences', [[false, Buffer.concat(k)]]]);
  S.push(['Impossible bytes', [[false, H('fe')], [false, H('ff')], [false, H('fefeffff')]]]);
  S.push(['Examples of an overlong ASCII character', ['c0af', 'e080af', 'f08080af', 'f8808080af', 'fc80808080af'].map((x) => [false, H(x)])]);
  S.push(['Maximum overlong sequences', ['c1bf', 'e09fbf', 'f08fbfbf', 'f887bfbfbf', 'fc83bfbfbfbf'].map((x) => [false, H(x)])]);
  S.push(['Overlong representation of the NUL character', ['c080', 'e08080', 'f0808080', 'f880808080', 'fc8080808080'].map((x) => [false, H(x)])]);
  S.push(['Single UTF-16 surrogates', ['eda080', 'edadbf', 'edae80', 'edafbf', 'edb080', 'edbe80', 'edbfbf'].map((x) => [false, H(x)])]);
  S.push(['Paired UTF-16 surrogates', ['eda080edb080', 'eda080edbfbf', 'edadbfedb080', 'edadbfedbfbf', 'edae80edb080', 'edae80edbfbf', 'edafbfedb080', 'edafbfedbfbf'].map((x) => [false, H(x)])]);
  {
    const list = [[true, H('efbfbe')], [true, H('efbfbf')]];
    for (const z1 of ['f0', 'f1', 'f2', 'f3', 'f4']) {
      for (const z2 of ['8f', '9f', 'af', 'bf']) {
        if (z1 === 'f4' && z2 !== '8f') continue; // beyond U+10FFFF
        for (const z3 of ['be', 'bf']) {
          const zz = z1 + z2 + 'bf' + z3;
          if (zz === 'f08fbfbe' || zz === 'f08fbfbf') continue; // overlong
          list.push([true, H(zz)]);
        }
      }
    }
    S.push(['Non-character code points (valid UTF-8)', list]);
  }
  S.push(['Unicode specials (i.e. replacement char)', ['efbfb9', 'efbfba', 'efbfbb', 'efbfbc', 'efbfbd', 'efbfbe', 'efbfbf'].map((x) => [true, H(x)])]);
  return S;
}
export const subcategories = {};
{
  let i = 5;
  for (const [title, list] of utf8Sequences()) {
    subcategories[`6.${i}`] = title;
    let j = 1;
    for (const [valid, payload] of list) {
      def(`6.${i}.${j}`,
        `Send a text message with payload which is ${valid ? '' : 'not '}valid UTF-8 in one fragment. Payload: 0x${payload.toString('hex')}`,
        valid ? "The message is echo'ed back to us." : 'The connection is failed immediately, since the payload is not valid UTF-8.',
        (c) => {
          if (valid) {
            c.expected[V.OK] = [msg(payload)];
            c.expectedClose = cleanNormal;
          } else {
            c.expected[V.OK] = [];
            c.expectedClose = { closedByMe: false, closeCode: [INVALID_PAYLOAD], requireClean: false, closedByWrongEndpointIsFatal: true };
          }
          c.sendMessage(payload);
          c.killAfter(0.5);
        });
      j++;
    }
    i++;
  }
}

// ------------------------------------------------------------ 7 Close handling
const cat7 = { post: wrongCodeFails };
def('7.1.1', 'Send a message followed by a close frame', 'Echoed message followed by clean close with normal code.', (c) => {
  const p = T('Hello World!');
  c.expected[V.OK] = [msg(p)];
  c.expectedClose = cleanNormal;
  c.sendFrame({ opcode: 1, payload: p });
  c.killAfter(1);
}, cat7);
def('7.1.2', 'Send two close frames', 'Clean close with normal code. Second close frame ignored.', (c) => {
  c.suppressClose = true;
  c.expected[V.OK] = [];
  c.expectedClose = cleanNormal;
  c.sendClose(NORMAL);
  c.sendFrame({ opcode: 8 });
  c.killAfter(1);
}, cat7);
def('7.1.3', 'Send a ping after close message', 'Clean close with normal code, no pong.', (c) => {
  c.suppressClose = true;
  c.expected[V.OK] = [];
  c.expectedClose = cleanNormal;
  c.sendClose(NORMAL);
  c.sendFrame({ opcode: 9 });
  c.killAfter(1);
}, cat7);
def('7.1.4', 'Send text message after sending a close frame.', 'Clean close with normal code. Text message ignored.', (c) => {
  c.suppressClose = true;
  c.expected[V.OK] = [];
  c.expectedClose = cleanNormal;
  c.sendClose(NORMAL);
  c.sendFrame({ opcode: 1, payload: T('Hello World!') });
  c.killAfter(1);
}, cat7);
def('7.1.5', 'Send message fragment1 followed by close then fragment', 'Clean close with normal code.', (c) => {
  c.suppressClose = true;
  c.expected[V.OK] = [];
  c.expectedClose = cleanNormal;
  c.sendFrame({ opcode: 1, fin: false, payload: T('fragment1') });
  c.sendClose(NORMAL);
  c.sendFrame({ opcode: 0, fin: true, payload: T('fragment2') });
  c.killAfter(1);
}, cat7);
def('7.1.6', 'Send 256K message followed by close then a ping',
  'Case outcome depends on implementation defined close behavior. Message and close frame are sent back to back. If the close frame is processed before the text message write is complete (as can happen in asynchronous processing models) the close frame is processed first and the text message may not be received or may only be partially received.', (c) => {
    c.suppressClose = true;
    const p = T('Hello World!');
    c.expected[V.OK] = [msg(p)];
    c.expected[V.NON_STRICT] = [];
    c.expectedClose = cleanNormal;
    c.sendFrame({ opcode: 1, payload: T('BAsd7&jh23'), payloadLen: 256 * 1024 });
    c.sendFrame({ opcode: 1, payload: p });
    c.sendClose(NORMAL);
    c.sendFrame({ opcode: 9 });
    c.killAfter(1);
  }, {
    post: (c, r) => {
      if (r.behavior === V.OK) r.result = 'Text message was processed before close.';
      else if (r.behavior === V.NON_STRICT) r.result = 'Close was processed before text message could be returned.';
      r.behavior = V.INFORMATIONAL;
      r.behaviorClose = V.INFORMATIONAL;
    },
  });

def('7.3.1', 'Send a close frame with payload length 0 (no close code, no close reason)', 'Clean close with normal code.', (c) => {
  c.suppressClose = true;
  c.expected[V.OK] = [];
  c.expectedClose = cleanNormal;
  c.sendCloseFrame();
  c.killAfter(1);
}, cat7);
def('7.3.2', 'Send a close frame with payload length 1', 'Clean close with protocol error or drop TCP.', (c) => {
  c.suppressClose = true;
  c.expected[V.OK] = [];
  c.expectedClose = { closedByMe: true, closeCode: [PROTOCOL_ERROR], requireClean: false };
  c.sendCloseFrame(null, T('a'));
  c.killAfter(1);
}, cat7);
def('7.3.3', 'Send a close frame with payload length 2 (regular close with a code)', 'Clean close with normal code.', (c) => {
  c.suppressClose = true;
  c.expected[V.OK] = [];
  c.expectedClose = cleanNormal;
  c.sendClose(NORMAL);
  c.killAfter(1);
}, cat7);
def('7.3.4', 'Send a close frame with close code and close reason', 'Clean close with normal code.', (c) => {
  c.suppressClose = true;
  c.expected[V.OK] = [];
  c.expectedClose = cleanNormal;
  c.sendClose(NORMAL, T('Hello World!'));
  c.killAfter(1);
}, cat7);
def('7.3.5', 'Send a close frame with close code and close reason of maximum length (123)', 'Clean close with normal code.', (c) => {
  c.suppressClose = true;
  c.expected[V.OK] = [];
  c.expectedClose = cleanNormal;
  c.sendClose(NORMAL, rep('*', 123));
  c.killAfter(1);
}, cat7);
def('7.3.6', 'Send a close frame with close code and close reason which is too long (124) - total frame payload 126 octets', 'Clean close with protocol error code or dropped TCP connection.', (c) => {
  c.suppressClose = true;
  c.expected[V.OK] = [];
  c.expectedClose = { closedByMe: true, closeCode: [PROTOCOL_ERROR], requireClean: false };
  c.sendCloseFrame(NORMAL, rep('*', 124));
  c.killAfter(1);
}, cat7);
def('7.5.1', 'Send a close frame with invalid UTF8 payload', 'Clean close with protocol error or invalid utf8 code or dropped TCP.', (c) => {
  c.suppressClose = true;
  c.expected[V.OK] = [];
  c.expectedClose = { closedByMe: true, closeCode: [PROTOCOL_ERROR, INVALID_PAYLOAD], requireClean: false };
  c.sendCloseFrame(NORMAL, Buffer.concat([KOSME, H('eda080'), T('edited')]));
  c.killAfter(1);
}, cat7);
[1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999].forEach((code, i) => {
  def(`7.7.${i + 1}`, `Send close with valid close code ${code}`, 'Clean close with normal or echoed code', (c) => {
    c.expected[V.OK] = [];
    c.expectedClose = { closedByMe: true, closeCode: [NORMAL, code], requireClean: true };
    c.sendCloseFrame(code);
    c.killAfter(1);
  }, cat7);
});
[0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999].forEach((code, i) => {
  def(`7.9.${i + 1}`, `Send close with invalid close code ${code}`, 'Clean close with protocol error code or drop TCP', (c) => {
    c.expected[V.OK] = [];
    c.expectedClose = { closedByMe: true, closeCode: [PROTOCOL_ERROR], requireClean: false };
    c.sendCloseFrame(code);
    c.killAfter(1);
  }, cat7);
});
[5000, 65535].forEach((code, i) => {
  def(`7.13.${i + 1}`, `Send close with close code ${code}`, 'Actual events are undefined by the spec.', (c) => {
    c.suppressClose = true;
    c.expected[V.OK] = [];
    c.expectedClose = { closedByMe: true, closeCode: [NORMAL, code, PROTOCOL_ERROR], requireClean: false };
    c.sendCloseFrame(code);
    c.killAfter(1);
  }, {
    post: (c, r) => {
      r.behavior = V.INFORMATIONAL;
      r.behaviorClose = V.INFORMATIONAL;
      r.result = 'Actual events are undefined by the spec.';
    },
  });
});

// ------------------------------------------------------------ 10 Misc
def('10.1.1', 'Send text message with payload of length 65536 auto-fragmented with autoFragmentSize = 1300.',
  "Receive echo'ed text message (with payload as sent and transmitted frame counts as expected). Clean close with normal code.", (c) => {
    const p = rep('*', 65536);
    c.expected[V.OK] = [msg(p)];
    c.expectedClose = cleanNormal;
    c.sendMessage(p, { fragmentSize: 1300 });
    c.killAfter(10);
  }, {
    post: (c, r) => {
      const want = { 0: Math.floor(65536 / 1300), 1: 65536 % 1300 > 0 ? 1 : 0 };
      const got = { 0: c.txFrameStats[0] || 0, 1: c.txFrameStats[1] || 0 };
      if (want[0] !== got[0] || want[1] !== got[1]) {
        r.behavior = V.FAILED;
        r.result = `Frames transmitted ${JSON.stringify(got)} does not match what we expected ${JSON.stringify(want)}.`;
      }
    },
  });

// ------------------------------------------------------------ 12/13 Compression
cases.push(...DEFLATE_CASES);

// ------------------------------------------------------------ selection

export function idTuple(id) { return id.split('.').map(Number); }
export function compareIds(a, b) {
  const x = idTuple(a);
  const y = idTuple(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? -1) - (y[i] ?? -1);
    if (d) return d;
  }
  return 0;
}

export const ALL_CASES = cases.slice().sort((a, b) => compareIds(a.id, b.id));

/** Autobahn-style patterns: "1.*", "6.4.*", "7.7.3"; "*" is a wildcard. */
export function selectCases(patterns, excludes = []) {
  const toRe = (p) => (p.includes('*') ? new RegExp('^' + p.replace(/\./g, '\\.').replace(/\*/g, '.*')) : new RegExp('^' + p.replace(/\./g, '\\.') + '$'));
  const inc = patterns.map(toRe);
  const exc = excludes.map(toRe);
  return ALL_CASES.filter((c) => inc.some((r) => r.test(c.id)) && !exc.some((r) => r.test(c.id)));
}
