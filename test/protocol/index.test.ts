import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import * as protocol from '../../src/protocol/index.js';
import { ProtocolError } from '../../src/errors.js';

test('the sockwave/protocol entry point exports the sans-I/O core', () => {
  for (const name of [
    'CloseCode',
    'encodeClosePayload',
    'isValidWireCloseCode',
    'MAX_CLOSE_REASON_BYTES',
    'FrameParser',
    'encodeFrame',
    'encodeMessage',
    'frameHeader',
    'frameHeaderSize',
    'writeFrameHeader',
    'applyMask',
    'defaultMaskKeys',
    'RandomMaskKeys',
    'isControlOpcode',
    'isKnownOpcode',
    'MAX_CONTROL_PAYLOAD',
    'Opcode',
    'ProtocolSession',
    'ReadyState',
    'isValidUtf8',
    'Utf8Validator',
  ]) {
    assert.ok(name in protocol, name);
  }
});

test('isKnownOpcode accepts only 0x0–0x2 and 0x8–0xA, and isControlOpcode is true for 0x8–0xF', () => {
  for (let op = 0; op < 16; op++) {
    assert.equal(protocol.isKnownOpcode(op), op <= 2 || (op >= 8 && op <= 10), `known 0x${op.toString(16)}`);
    assert.equal(protocol.isControlOpcode(op), op >= 8, `control 0x${op.toString(16)}`);
  }
  assert.equal(protocol.MAX_CONTROL_PAYLOAD, 125);
});

test('parser errors are ProtocolErrors carrying the close code', () => {
  let error: unknown;
  const parser = new protocol.FrameParser(
    { role: 'server', maxPayload: 10 },
    { onMessage() {}, onPing() {}, onPong() {}, onClose() {}, onError: (e) => void (error = e) },
  );
  parser.push(Buffer.from([0x82, 0x0b]));
  assert.ok(error instanceof ProtocolError);
  assert.equal(error.closeCode, 1002);
  assert.equal(error.code, 'SW_PROTOCOL_ERROR');
});
