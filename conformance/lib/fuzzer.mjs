// The fuzzing endpoint: one instance drives one test case over one already
// upgraded TCP connection, in either role (fuzzing client against a server
// under test, or fuzzing server against a client under test).
//
// The state machine mirrors the closing-handshake bookkeeping of the
// Autobahn fuzzer (closedByMe / failedByMe / droppedByMe / wasClean /
// remoteCloseCode ...) because the Autobahn verdicts are defined in terms of
// exactly these flags. The code is an independent implementation.

import { encodeHeader, applyMask, FrameParser, Utf8Validator, isValidCloseCode, isValidUtf8, OP, randomMaskKey } from './wire.mjs';

export const V = {
  OK: 'OK',
  NON_STRICT: 'NON-STRICT',
  INFORMATIONAL: 'INFORMATIONAL',
  UNIMPLEMENTED: 'UNIMPLEMENTED',
  FAILED: 'FAILED',
  // close-behaviour verdicts (Autobahn "behaviorClose")
  WRONG_CODE: 'WRONG CODE',
  UNCLEAN: 'UNCLEAN',
  FAILED_BY_CLIENT: 'FAILED BY CLIENT',
};

export const PASSING = new Set([V.OK, V.NON_STRICT, V.INFORMATIONAL]);

const STATE = { OPEN: 'OPEN', CLOSING: 'CLOSING', CLOSED: 'CLOSED' };

// Protocol timeouts of the fuzzer itself (Autobahn defaults: 1 s each).
const CLOSE_HANDSHAKE_TIMEOUT = 1.0;
const SERVER_DROP_TIMEOUT = 1.0;

/**
 * Case delays (killAfter / closeAfter / continueLater) can be scaled to make a
 * run shorter (--time-scale; default 1 = Autobahn's timings). Nothing goes
 * below 0.5 s so a loaded machine does not produce spurious failures.
 */
export function scaleDelay(seconds, scale) {
  return Math.max(0.5, seconds * scale);
}

function eventsEqual(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x.length !== y.length || x[0] !== y[0]) return false;
    for (let j = 1; j < x.length; j++) {
      const p = x[j];
      const q = y[j];
      if (Buffer.isBuffer(p) || Buffer.isBuffer(q)) {
        if (!Buffer.isBuffer(p) || !Buffer.isBuffer(q) || !p.equals(q)) return false;
      } else if (p !== q) return false;
    }
  }
  return true;
}

export class FuzzConnection {
  /**
   * @param {object} o
   * @param {import('node:net').Socket} o.socket  upgraded socket
   * @param {boolean} o.isServer  true when the suite is the server (client mode)
   * @param {object} o.caseDef    case definition from cases.mjs
   * @param {Buffer} [o.leftover] bytes received after the HTTP handshake
   * @param {number} [o.timeScale]
   * @param {number} [o.hardTimeout] seconds
   * @param {import('./deflate.mjs').DeflateState} [o.deflate] negotiated permessage-deflate, if any
   * @param {string[]} [o.violations] handshake-level violations already found
   */
  constructor({ socket, isServer, caseDef, leftover, timeScale = 1, hardTimeout = 30, deflate = null, violations = [] }) {
    this.socket = socket;
    this.deflate = deflate;
    this.isServer = isServer;
    this.caseDef = caseDef;
    this.timeScale = timeScale;
    // cases with their own deadline (12/13) get at least 10 s beyond it
    this.hardTimeout = Math.max(hardTimeout, (caseDef.deadline ?? 0) + 10);

    // case-visible data (Autobahn: self.received / expected / expectedClose)
    this.received = [];
    this.expected = {};
    this.expectedClose = {};
    this.suppressClose = false;

    // close bookkeeping
    this.state = STATE.OPEN;
    this.connectionWasOpen = true;
    this.closedByMe = false;
    this.failedByMe = false;
    this.droppedByMe = false;
    this.wasClean = false;
    this.wasNotCleanReason = null;
    this.localCloseCode = null;
    this.localCloseReason = null;
    this.remoteCloseCode = null;
    this.remoteCloseReason = null;
    this.peerCloseReceived = false;
    this.violations = [...violations];
    this.notes = [];
    this.txFrameStats = {};

    this.timers = new Set();
    this.closeHsTimer = null;
    this.queue = [];
    this.pumping = false;
    this.incoming = null; // current incoming data message
    this.utf8 = new Utf8Validator();
    this.startedAt = Date.now();

    this.parser = new FrameParser({
      expectMasked: isServer,
      onViolation: (reason) => this.failConnection(1002, reason, true),
      onFrame: (f) => this.onFrame(f),
      shouldContinue: () => this.state !== STATE.CLOSED,
      rsv1Allowed: !!deflate,
    });

    this.done = new Promise((resolve) => { this.resolveDone = resolve; });
    this.leftover = leftover;
  }

  // ---------------------------------------------------------------- lifecycle

  run() {
    const s = this.socket;
    s.setNoDelay(true);
    s.on('data', (d) => { if (this.state !== STATE.CLOSED) this.parser.push(d); });
    s.on('error', () => {});
    s.on('close', () => this.connectionLost());
    s.resume();
    this.hardTimer = setTimeout(() => {
      this.notes.push(`case exceeded hard time limit of ${this.hardTimeout}s`);
      this.wasClean = false;
      this.droppedByMe = true;
      this.state = STATE.CLOSED;
      s.destroy();
    }, this.hardTimeout * 1000);
    try {
      this.caseDef.onOpen(this);
    } catch (e) {
      this.notes.push(`internal error in case: ${e.stack || e}`);
      this.drop();
    }
    if (this.leftover && this.leftover.length && this.state !== STATE.CLOSED) this.parser.push(this.leftover);
    return this.done;
  }

  connectionLost() {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.hardTimer);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.state !== STATE.CLOSED) this.state = STATE.CLOSED;
    if (this.deflate) this.deflate.close();
    if (!this.wasClean && !this.droppedByMe && this.wasNotCleanReason == null) {
      this.wasNotCleanReason = 'peer dropped the TCP connection without previous WebSocket closing handshake';
    }
    this.duration = Date.now() - this.startedAt;
    this.resolveDone(judge(this));
  }

  later(seconds, fn) {
    const t = setTimeout(() => { this.timers.delete(t); if (!this.finished) fn(); }, seconds * 1000);
    this.timers.add(t);
    return t;
  }

  // ------------------------------------------------------- case-facing API

  /** Autobahn killAfter: fail the connection (1001) if it is still around. */
  killAfter(seconds) {
    this.later(scaleDelay(seconds, this.timeScale), () => {
      if (this.state !== STATE.CLOSED) this.failConnection(1001, 'Going Away', false);
    });
  }

  /** Autobahn closeAfter: start a closing handshake (close frame w/o code). */
  closeAfter(seconds) {
    this.later(scaleDelay(seconds, this.timeScale), () => {
      if (this.state !== STATE.CLOSED) this.sendClose();
    });
  }

  continueLater(seconds, fn) {
    this.later(scaleDelay(seconds, this.timeScale), () => {
      if (this.state !== STATE.CLOSED) fn();
    });
  }

  get isOpen() { return this.state === STATE.OPEN; }

  /**
   * Send one raw frame. payloadLen repeats `payload` up to that length
   * (Autobahn payload_len); chopsize writes the octets in chops of that
   * size; sync forces the frame into its own TCP write.
   */
  sendFrame({ opcode, payload = Buffer.alloc(0), fin = true, rsv = 0, payloadLen = null, chopsize = null, sync = false }) {
    let pl = Buffer.from(payload);
    if (payloadLen != null) {
      const rep = Buffer.alloc(payloadLen);
      if (pl.length) for (let i = 0; i < payloadLen; i += pl.length) pl.copy(rep, i, 0, Math.min(pl.length, payloadLen - i));
      pl = rep;
    }
    this.sendData(this.encodeOwnFrame({ opcode, payload: pl, fin, rsv }), { sync, chopsize });
  }

  /** Encode one frame of ours (masked when the suite is the client). */
  encodeOwnFrame({ opcode, payload, fin = true, rsv = 0 }) {
    const maskKey = this.isServer ? null : randomMaskKey();
    const header = encodeHeader({ opcode, fin, rsv, length: payload.length, maskKey });
    const body = maskKey ? applyMask(payload, maskKey) : payload;
    this.txFrameStats[opcode] = (this.txFrameStats[opcode] || 0) + 1;
    return Buffer.concat([header, body]);
  }

  /** Send a data message, optionally fragmented into frames of fragmentSize. */
  sendMessage(payload, { binary = false, fragmentSize = null } = {}) {
    if (this.state !== STATE.OPEN) return;
    const opcode = binary ? OP.BINARY : OP.TEXT;
    const pl = Buffer.from(payload);
    if (!fragmentSize || pl.length <= fragmentSize) {
      this.sendFrame({ opcode, payload: pl });
      return;
    }
    for (let i = 0, first = true; i < pl.length; i += fragmentSize, first = false) {
      const done = i + fragmentSize >= pl.length;
      this.sendFrame({ opcode: first ? opcode : OP.CONT, payload: pl.subarray(i, i + fragmentSize), fin: done });
    }
  }

  /**
   * Send a data message compressed with the negotiated permessage-deflate
   * (RSV1 on the first frame); the compressed payload is split into frames
   * of fragmentSize octets (Autobahn autoFragmentSize). Resolves when queued.
   */
  async sendCompressedMessage(payload, { binary = false, fragmentSize = 0 } = {}) {
    if (!this.deflate) throw new Error('permessage-deflate not negotiated');
    const data = this.deflate.compress(Buffer.from(payload));
    if (this.state !== STATE.OPEN) return;
    const opcode = binary ? OP.BINARY : OP.TEXT;
    const frames = [];
    if (!fragmentSize || data.length <= fragmentSize) {
      frames.push(this.encodeOwnFrame({ opcode, payload: data, rsv: 4 }));
    } else {
      for (let i = 0, first = true; i < data.length; i += fragmentSize, first = false) {
        const done = i + fragmentSize >= data.length;
        frames.push(this.encodeOwnFrame({ opcode: first ? opcode : OP.CONT, payload: data.subarray(i, i + fragmentSize), fin: done, rsv: first ? 4 : 0 }));
      }
    }
    // all frames of the message in one write (TCP would coalesce them anyway)
    this.sendData(frames.length === 1 ? frames[0] : Buffer.concat(frames), {});
  }

  // Streaming API (Autobahn beginMessage / beginMessageFrame /
  // sendMessageFrameData / endMessage): one frame whose payload is written in
  // several chops, possibly with delays in between. FIN is not set on that
  // frame; endMessage() sends an empty final continuation frame.
  beginMessage(binary = false) { this.streamOpcode = binary ? OP.BINARY : OP.TEXT; this.streamFirst = true; }
  beginMessageFrame(length) {
    if (this.state !== STATE.OPEN) return;
    const opcode = this.streamFirst ? this.streamOpcode : OP.CONT;
    this.streamFirst = false;
    this.streamKey = this.isServer ? null : randomMaskKey();
    this.streamOffset = 0;
    this.txFrameStats[opcode] = (this.txFrameStats[opcode] || 0) + 1;
    this.sendData(encodeHeader({ opcode, fin: false, length, maskKey: this.streamKey }), {});
  }
  sendMessageFrameData(data) {
    if (this.state !== STATE.OPEN) return;
    const buf = Buffer.from(data);
    const out = this.streamKey ? applyMask(buf, this.streamKey, this.streamOffset) : buf;
    this.streamOffset += buf.length;
    this.sendData(out, {});
  }
  endMessage() {
    if (this.state !== STATE.OPEN) return;
    this.sendFrame({ opcode: OP.CONT, payload: Buffer.alloc(0), fin: true });
  }

  /** Close frame with explicit code/reason; only when OPEN (like Autobahn). */
  sendCloseFrame(code = null, reason = null, isReply = false) {
    if (this.state !== STATE.OPEN) return;
    const parts = [];
    if (code != null) { const b = Buffer.alloc(2); b.writeUInt16BE(code); parts.push(b); }
    if (reason != null) parts.push(Buffer.from(reason));
    this.sendFrame({ opcode: OP.CLOSE, payload: Buffer.concat(parts) });
    this.state = STATE.CLOSING;
    this.closedByMe = !isReply;
    this.localCloseCode = code;
    this.localCloseReason = reason;
    if (this.closedByMe) {
      this.closeHsTimer = this.later(CLOSE_HANDSHAKE_TIMEOUT, () => {
        if (this.state !== STATE.CLOSED) {
          this.wasClean = false;
          this.wasNotCleanReason = 'peer did not respond (in time) in closing handshake';
          this.drop();
        }
      });
    }
  }

  /** User-level close (Autobahn sendClose). */
  sendClose(code = null, reason = null) { this.sendCloseFrame(code, reason, false); }

  /** Record a case-specific event such as ("timeout", "A"). */
  record(...event) { this.received.push(event); }

  // --------------------------------------------------------------- internals

  sendData(buf, { sync = false, chopsize = null }) {
    if (chopsize && chopsize > 0) {
      for (let i = 0; i < buf.length; i += chopsize) this.queue.push(buf.subarray(i, i + chopsize));
      this.pump();
    } else if (sync || this.queue.length || this.pumping) {
      this.queue.push(buf);
      this.pump();
    } else {
      this.write(buf);
    }
  }

  write(buf, cb) {
    const s = this.socket;
    if (this.state === STATE.CLOSED || s.destroyed || !s.writable) { if (cb) cb(); return; }
    s.write(buf, cb ? () => cb() : undefined);
  }

  async pump() {
    if (this.pumping) return;
    this.pumping = true;
    while (this.queue.length) {
      const item = this.queue.shift();
      if (this.state === STATE.CLOSED) continue;
      await new Promise((r) => this.write(item, r));
      // re-enter the event loop so every chop gets its own TCP write/segment
      // (Autobahn re-enters its reactor after ~10 us for the same purpose)
      await new Promise((r) => setImmediate(r));
    }
    this.pumping = false;
  }

  drop() {
    if (this.state === STATE.CLOSED) return;
    this.droppedByMe = true;
    this.state = STATE.CLOSED;
    const s = this.socket;
    // flush what was written (e.g. our close reply), then FIN; force after a bit
    s.end();
    const t = setTimeout(() => s.destroy(), 500);
    t.unref?.();
  }

  /** Fail the WebSocket connection (Autobahn with failByDrop = false). */
  failConnection(code, reason, isViolation) {
    if (isViolation) this.violations.push(reason);
    if (this.state === STATE.CLOSED) return;
    this.failedByMe = true;
    if (this.state !== STATE.CLOSING) this.sendCloseFrame(code, Buffer.from(reason).subarray(0, 123), false);
    else this.drop();
  }

  finishWhenDone() {
    for (const k of Object.keys(this.expected)) {
      if (!eventsEqual(this.received, this.expected[k])) return;
    }
    if (this.expectedClose.closedByMe && !this.suppressClose) this.sendClose(this.expectedClose.closeCode[0]);
  }

  onFrame({ opcode, fin, rsv, payload }) {
    if (this.state === STATE.CLOSED) return;
    if (this.peerCloseReceived) {
      this.violations.push(`frame (opcode ${opcode}) received after the peer's close frame`);
      return;
    }
    if (opcode >= 8) {
      if (opcode === OP.CLOSE) this.onCloseFrame(payload);
      else if (opcode === OP.PING) {
        if (this.state === STATE.OPEN) this.sendFrame({ opcode: OP.PONG, payload });
      } else if (opcode === OP.PONG) {
        this.received.push(['pong', payload]);
        this.finishWhenDone();
      }
      return;
    }
    if (opcode === OP.TEXT || opcode === OP.BINARY) {
      this.incoming = { binary: opcode === OP.BINARY, parts: [], utf8ok: true, complete: true, compressed: !!this.deflate && (rsv & 4) !== 0 };
      if (!this.incoming.binary) this.utf8.reset();
    } else if (opcode !== OP.CONT || !this.incoming) {
      return; // already reported as violation by the parser
    }
    const m = this.incoming;
    if (!m.binary && m.utf8ok && !m.compressed) {
      const r = this.utf8.validate(payload);
      m.utf8ok = r.valid;
      m.complete = r.complete;
      if (!r.valid) this.failConnection(1007, 'encountered invalid UTF-8 while processing text message', true);
    }
    m.parts.push(payload);
    if (fin) {
      this.incoming = null;
      let data = Buffer.concat(m.parts);
      if (m.compressed) {
        const r = this.deflate.decompress(data, this.caseDef.maxMessageSize ?? 16 * 1024 * 1024);
        const n = this.deflate.rxMessages + 1;
        if (r.error) {
          this.failConnection(1007, `permessage-deflate: message #${n} (${data.length} compressed octets): ${r.error}`, true);
          return;
        }
        data = r.output;
        if (!m.binary && !isValidUtf8(data)) {
          this.failConnection(1007, `permessage-deflate: message #${n}: decompressed text message is not valid UTF-8`, true);
          return;
        }
      } else if (!m.binary && m.utf8ok && !m.complete) {
        this.failConnection(1007, 'UTF-8 text message payload ended within a code point', true);
      }
      if (this.deflate) this.deflate.rxMessages++;
      if (!this.failedByMe) {
        if (this.caseDef.onMessage) {
          try {
            this.caseDef.onMessage(this, data, m.binary, { compressed: m.compressed, wireLength: m.parts.reduce((a, b) => a + b.length, 0) });
          } catch (e) {
            this.notes.push(`internal error in case: ${e.stack || e}`);
            this.drop();
          }
          return;
        }
        this.received.push(['message', data, m.binary]);
        this.finishWhenDone();
      }
    }
  }

  onCloseFrame(payload) {
    this.peerCloseReceived = true;
    const code = payload.length >= 2 ? payload.readUInt16BE(0) : null;
    const reason = payload.length > 2 ? payload.subarray(2) : null;
    this.remoteCloseCode = code;
    this.remoteCloseReason = reason;
    if (code != null && !isValidCloseCode(code)) {
      this.failConnection(1002, `invalid close code ${code} in the peer's close frame`, true);
    }
    if (reason != null && !isValidUtf8(reason)) {
      this.failConnection(1007, "invalid UTF-8 in the peer's close reason", true);
    }
    if (this.state === STATE.CLOSED) return;
    if (this.state === STATE.CLOSING) {
      // reply to our close (or a simultaneous close)
      if (this.closeHsTimer) { clearTimeout(this.closeHsTimer); this.timers.delete(this.closeHsTimer); this.closeHsTimer = null; }
      this.wasClean = true;
      if (this.isServer) this.drop();
      else {
        this.later(SERVER_DROP_TIMEOUT, () => {
          if (this.state !== STATE.CLOSED) {
            this.wasClean = false;
            this.wasNotCleanReason = 'server did not drop TCP connection (in time)';
            this.drop();
          }
        });
      }
    } else if (this.state === STATE.OPEN) {
      // the peer initiates the closing handshake: reply with 1000
      this.wasClean = true;
      this.sendCloseFrame(1000, null, true);
      if (this.isServer) this.drop();
      else {
        // we expect the server to drop TCP; if it does not, we do (that is
        // reported as "FAILED BY CLIENT", like Autobahn's killAfter path)
        this.later(SERVER_DROP_TIMEOUT, () => { if (this.state !== STATE.CLOSED) this.drop(); });
      }
    }
  }
}

// ------------------------------------------------------------------ verdicts

/** Autobahn Case.onConnectionLost + per-case post hooks + suite combination. */
export function judge(c) {
  const caseDef = c.caseDef;
  const r = {
    behavior: V.FAILED,
    result: 'Actual events differ from any expected.',
    behaviorClose: V.FAILED,
    resultClose: 'TCP connection was dropped without close handshake',
  };
  for (const k of Object.keys(c.expected)) {
    if (eventsEqual(c.received, c.expected[k])) {
      r.behavior = k;
      r.result = 'Actual events match at least one expected.';
      break;
    }
  }
  const ec = c.expectedClose;
  if (c.connectionWasOpen) {
    if (ec.closedByMe !== c.closedByMe) {
      r.behaviorClose = V.FAILED;
      r.resultClose = 'The connection was failed by the wrong endpoint';
    } else if (ec.requireClean && !c.wasClean) {
      r.behaviorClose = V.UNCLEAN;
      r.resultClose = 'The spec requires the connection to be failed cleanly here';
    } else if (c.remoteCloseCode != null && !ec.closeCode.includes(c.remoteCloseCode)) {
      r.behaviorClose = V.WRONG_CODE;
      r.resultClose = `The close code should have been ${ec.closeCode.join(',')} or empty`;
    } else if (!c.isServer && c.droppedByMe) {
      r.behaviorClose = V.FAILED_BY_CLIENT;
      r.resultClose = 'It is preferred that the server close the TCP connection';
    } else {
      r.behaviorClose = V.OK;
      r.resultClose = 'Connection was properly closed';
    }
    if (ec.closedByWrongEndpointIsFatal && ec.closedByMe !== c.closedByMe) {
      // for UTF-8 cases: the peer did not detect the invalid payload itself
      r.behavior = V.FAILED;
      r.result = 'The peer did not fail the connection itself (closed by the wrong endpoint)';
    }
  } else {
    r.behaviorClose = V.FAILED;
    r.resultClose = 'The WebSocket opening handshake was never completed!';
  }

  // case-specific post-processing (e.g. category 7: WRONG CODE fails the case)
  if (caseDef.post) caseDef.post(c, r);

  // Suite-level combination into one verdict (see README):
  //  - the behaviour verdict counts first (FAILED / UNIMPLEMENTED stay so)
  //  - a FAILED / UNCLEAN / WRONG CODE close behaviour fails the case
  //  - FAILED BY CLIENT (server did not drop TCP first) downgrades OK to NON-STRICT
  //  - any protocol violation by the peer fails the case (unless informational)
  let verdict = r.behavior;
  const reasons = [];
  if (r.behavior === V.FAILED || r.behavior === V.UNIMPLEMENTED) reasons.push(r.result);
  if (verdict !== V.INFORMATIONAL && r.behaviorClose !== V.INFORMATIONAL) {
    if ([V.FAILED, V.UNCLEAN, V.WRONG_CODE].includes(r.behaviorClose)) {
      if (verdict !== V.UNIMPLEMENTED) verdict = V.FAILED;
      reasons.push(`close behaviour ${r.behaviorClose}: ${r.resultClose}`);
      if (reasons[0] === r.resultClose) reasons.shift();
    } else if (r.behaviorClose === V.FAILED_BY_CLIENT && verdict === V.OK) {
      verdict = V.NON_STRICT;
      reasons.push(r.resultClose);
    }
    if (c.violations.length) {
      verdict = V.FAILED;
      reasons.push(`peer protocol violation: ${[...new Set(c.violations)].join("; ")}`);
    }
  }
  const uniq = [...new Set(reasons)];
  return {
    id: caseDef.id,
    description: caseDef.description,
    expectation: caseDef.expectation,
    verdict,
    reasons: uniq,
    behavior: r.behavior,
    behaviorClose: r.behaviorClose,
    result: r.result,
    resultClose: r.resultClose,
    expected: c.expected,
    expectedClose: c.expectedClose,
    received: c.received,
    observedClose: {
      closedByMe: c.closedByMe,
      failedByMe: c.failedByMe,
      droppedByMe: c.droppedByMe,
      wasClean: c.wasClean,
      wasNotCleanReason: c.wasNotCleanReason,
      localCloseCode: c.localCloseCode,
      remoteCloseCode: c.remoteCloseCode,
      remoteCloseReason: c.remoteCloseReason ? c.remoteCloseReason.toString('utf8') : null,
    },
    violations: c.violations,
    notes: c.notes,
    duration: c.duration,
  };
}

/** Result for a case whose WebSocket connection never opened. */
export function notOpened(caseDef, reason, notes = []) {
  return {
    id: caseDef.id,
    description: caseDef.description,
    expectation: caseDef.expectation,
    verdict: V.FAILED,
    reasons: [`The WebSocket opening handshake was never completed: ${reason}`],
    behavior: V.FAILED,
    behaviorClose: V.FAILED,
    result: 'No events (connection never opened).',
    resultClose: 'The WebSocket opening handshake was never completed!',
    expected: {},
    expectedClose: {},
    received: [],
    observedClose: null,
    violations: [],
    notes,
    duration: 0,
  };
}
