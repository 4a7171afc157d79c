import { defaultMaskKeys, maskCopy, type MaskKeySource } from './mask.js';
import { isControlOpcode, isKnownOpcode, MAX_CONTROL_PAYLOAD, type DataOpcode, type Opcode } from './opcodes.js';

/**
 * RFC 6455 §5.2 frame serialization. Pure functions over buffers: no I/O.
 *
 * A server frame's payload is never copied by {@link frameHeader}: the header and the payload are
 * written one after the other (the I/O layer batches them). A client frame is masked, and masking
 * must not modify the caller's buffer, so {@link encodeFrame} copies the payload once into the
 * frame it allocates and masks it there.
 */

export interface FrameOptions {
  /** FIN bit; false for all but the last frame of a fragmented message. Default true. */
  fin?: boolean | undefined;
  /** RSV1: set on the first frame of a compressed message (RFC 7692 §6). Default false. */
  rsv1?: boolean | undefined;
  /** Mask the frame with a fresh key (client role, RFC 6455 §5.3). Default: no mask. */
  mask?: MaskKeySource | false | undefined;
}

/**
 * A frame RFC 6455 allows: a defined opcode (§5.2), a payload length that is a whole number of
 * bytes, and for a control frame at most 125 bytes and no fragmentation (§5.5). RangeError if not.
 */
function checkFrame(opcode: number, length: number, fin: boolean): void {
  if (!Number.isInteger(opcode) || !isKnownOpcode(opcode) || opcode < 0) throw new RangeError(`opcode ${String(opcode)} is not defined by RFC 6455`);
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`a payload length is a whole number of bytes, not ${String(length)}`);
  if (isControlOpcode(opcode) && (length > MAX_CONTROL_PAYLOAD || !fin)) throw new RangeError(`a control frame has at most ${MAX_CONTROL_PAYLOAD} bytes and is not fragmented`);
}

/** Size of a frame header for a payload of `length` bytes. */
export function frameHeaderSize(length: number, masked: boolean): number {
  return (length < 126 ? 2 : length < 0x10000 ? 4 : 10) + (masked ? 4 : 0);
}

/**
 * Writes a frame header into `target` at `offset` and returns the offset after it.
 * When `maskKeys` is given, a fresh key is written as the header's last 4 bytes.
 */
export function writeFrameHeader(
  target: Buffer,
  offset: number,
  opcode: Opcode,
  length: number,
  fin: boolean,
  rsv1: boolean,
  maskKeys: MaskKeySource | null,
): number {
  target[offset] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  const maskBit = maskKeys ? 0x80 : 0;
  let p = offset + 2;
  if (length < 126) {
    target[offset + 1] = maskBit | length;
  } else if (length < 0x10000) {
    target[offset + 1] = maskBit | 126;
    target.writeUInt16BE(length, p);
    p += 2;
  } else {
    target[offset + 1] = maskBit | 127;
    target.writeUInt32BE(Math.floor(length / 0x100000000), p);
    target.writeUInt32BE(length >>> 0, p + 4);
    p += 8;
  }
  if (maskKeys) {
    maskKeys.fill(target, p);
    p += 4;
  }
  return p;
}

/** An unmasked frame header alone (server role), to be followed on the wire by the payload. */
export function frameHeader(opcode: Opcode, length: number, options: Omit<FrameOptions, 'mask'> = {}): Buffer {
  checkFrame(opcode, length, options.fin ?? true);
  const header = Buffer.allocUnsafe(frameHeaderSize(length, false));
  writeFrameHeader(header, 0, opcode, length, options.fin ?? true, options.rsv1 ?? false, null);
  return header;
}

/** One complete frame in one buffer; masked (with a copy of the payload) when `options.mask` is set. */
export function encodeFrame(opcode: Opcode, payload: Uint8Array, options: FrameOptions = {}): Buffer {
  if (!(payload instanceof Uint8Array)) throw new TypeError('a frame payload is bytes (a Buffer or Uint8Array): encode text first');
  checkFrame(opcode, payload.length, options.fin ?? true);
  const maskKeys = options.mask || null;
  const length = payload.length;
  const headerLength = frameHeaderSize(length, maskKeys !== null);
  const frame = Buffer.allocUnsafe(headerLength + length);
  writeFrameHeader(frame, 0, opcode, length, options.fin ?? true, options.rsv1 ?? false, maskKeys);
  if (maskKeys === null) frame.set(payload, headerLength);
  else if (length !== 0) maskCopy(payload, 0, length, frame, headerLength, frame.readUInt32LE(headerLength - 4));
  return frame;
}

/**
 * Splits a message into frames of at most `fragmentSize` payload bytes (RFC 6455 §5.4): the first
 * carries the opcode (and RSV1), the rest are continuations, the last has FIN.
 */
export function encodeMessage(
  opcode: DataOpcode,
  payload: Uint8Array,
  options: { fragmentSize?: number | undefined; rsv1?: boolean | undefined; mask?: MaskKeySource | false | undefined } = {},
): Buffer[] {
  const size = options.fragmentSize ?? Infinity;
  if (size !== Infinity && !(Number.isInteger(size) && size > 0)) throw new RangeError('fragmentSize must be a positive integer');
  if (payload.length <= size) return [encodeFrame(opcode, payload, options)];
  const frames: Buffer[] = [];
  for (let start = 0; start < payload.length; start += size) {
    const end = Math.min(start + size, payload.length);
    frames.push(
      encodeFrame(start === 0 ? opcode : 0, payload.subarray(start, end), {
        fin: end === payload.length,
        rsv1: start === 0 && (options.rsv1 ?? false),
        mask: options.mask ?? false,
      }),
    );
  }
  return frames;
}

/** The default key source, re-exported for callers that build client frames. */
export { defaultMaskKeys };
