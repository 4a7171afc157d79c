/**
 * `sockwave/protocol`: the sans-I/O RFC 6455 core, for those who bring their own transport.
 */
export { ProtocolError } from '../errors.js';
export { CloseCode, encodeClosePayload, isValidWireCloseCode, MAX_CLOSE_REASON_BYTES } from './close-codes.js';
export { FrameParser, type FrameParserHandler, type FrameParserOptions } from './frame-parser.js';
export { encodeFrame, encodeMessage, frameHeader, frameHeaderSize, writeFrameHeader, type FrameOptions } from './frame-serializer.js';
export { applyMask, defaultMaskKeys, RandomMaskKeys, type MaskKeySource } from './mask.js';
export { isControlOpcode, isKnownOpcode, MAX_CONTROL_PAYLOAD, Opcode, type ControlOpcode, type DataOpcode } from './opcodes.js';
export { ProtocolSession, ReadyState, type SessionHandler, type SessionOptions } from './session.js';
export { isValidUtf8, Utf8Validator } from './utf8.js';
