import { ProtocolError } from '../errors.js';
import { isValidUtf8 } from './utf8.js';

/**
 * Close status codes: RFC 6455 §7.4 and the IANA "WebSocket Close Code Number Registry".
 */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  /** Reserved: never sent in a frame. */
  NoStatus: 1005,
  /** Reserved: never sent in a frame; reported when the connection dropped without a close frame. */
  Abnormal: 1006,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  MandatoryExtension: 1010,
  InternalError: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
  BadGateway: 1014,
  /** Reserved: never sent in a frame. */
  TlsHandshake: 1015,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * Whether `code` may appear in a close frame on the wire (either direction).
 * RFC 6455 §7.4.1/§7.4.2 and the IANA registry: 1000–1003 and 1007–1014 are defined;
 * 3000–3999 are registered for libraries and frameworks, 4000–4999 are private use.
 * 0–999, 1004 (reserved), 1005, 1006, 1015 (never on the wire), 1016–2999 (unassigned) and
 * 5000+ are invalid; receiving one fails the connection with 1002.
 */
export function isValidWireCloseCode(code: number): boolean {
  if (code >= 1000 && code <= 1014) return code !== 1004 && code !== 1005 && code !== 1006;
  return code >= 3000 && code <= 4999;
}

/** RFC 6455 §5.5: a control payload is ≤ 125 bytes, 2 of which carry the code, so a reason ≤ 123. */
export const MAX_CLOSE_REASON_BYTES = 123;

/**
 * Builds a close frame body: empty when `code` is undefined, else the 2-byte code and the reason.
 * Throws a RangeError for a code that may not be sent or a reason over 123 bytes, and a TypeError
 * for a code that is not a number or a reason that is not a string (nothing is sent).
 */
export function encodeClosePayload(code?: number, reason = ''): Buffer {
  if (code !== undefined && typeof code !== 'number') throw new TypeError(`a close code is a number, not ${typeof code}`);
  if (typeof reason !== 'string') throw new TypeError(`a close reason is a string, not ${typeof reason}`);
  if (code === undefined) {
    if (reason !== '') throw new RangeError('a close reason needs a close code');
    return Buffer.alloc(0);
  }
  if (!Number.isInteger(code) || !isValidWireCloseCode(code)) throw new RangeError(`close code ${code} may not be sent`);
  const reasonLength = Buffer.byteLength(reason);
  if (reasonLength > MAX_CLOSE_REASON_BYTES) throw new RangeError(`close reason is ${reasonLength} bytes; at most ${MAX_CLOSE_REASON_BYTES}`);
  const payload = Buffer.allocUnsafe(2 + reasonLength);
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2, 'utf8');
  return payload;
}

/**
 * Reads a received close frame's body (RFC 6455 §5.5.1): none gives 1005 and no reason; else a
 * 2-byte code that may be sent (§7.4) and a UTF-8 reason. Returns the error that fails the
 * connection otherwise: a 1-byte body or a code that may not be sent → 1002; a reason that is not
 * UTF-8 → 1007.
 */
export function decodeClosePayload(data: Buffer): { code: number; reason: string } | ProtocolError {
  if (data.length === 0) return { code: CloseCode.NoStatus, reason: '' };
  if (data.length === 1) return new ProtocolError(CloseCode.ProtocolError, 'close frame with a 1-byte payload');
  const code = data.readUInt16BE(0);
  if (!isValidWireCloseCode(code)) return new ProtocolError(CloseCode.ProtocolError, `invalid close code ${code}`, 'SW_INVALID_CLOSE_CODE');
  const reasonBytes = data.subarray(2);
  if (!isValidUtf8(reasonBytes)) return new ProtocolError(CloseCode.InvalidPayload, 'close reason is not valid UTF-8', 'SW_INVALID_UTF8');
  return { code, reason: reasonBytes.toString('utf8') };
}
