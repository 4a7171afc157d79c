/**
 * Hand-built WebSocket frames for parser tests, written byte by byte from RFC 6455 §5.2 and
 * independent of src/protocol/frame-serializer.ts (so the parser is not only tested against our
 * own serializer). Masking here is a naive byte loop, not src/protocol/mask.ts.
 */

/** The masking key of the RFC 6455 §5.7 examples. */
export const RFC_KEY: readonly number[] = [0x37, 0xfa, 0x21, 0x3d];

/** Bytes from a hex string; spaces, newlines and `:` are ignored: `hex('81 05 48 65 6c 6c 6f')`. */
export function hex(text: string): Buffer {
  const clean = text.replace(/[\s:]/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) throw new Error(`bad hex: ${text}`);
  return Buffer.from(clean, 'hex');
}

/** Bytes from a list of numbers, strings (UTF-8) and byte arrays. */
export function bytes(...parts: Array<number | string | Uint8Array | readonly number[]>): Buffer {
  const out: number[] = [];
  for (const part of parts) {
    if (typeof part === 'number') out.push(part);
    else if (typeof part === 'string') out.push(...Buffer.from(part, 'utf8'));
    else out.push(...part);
  }
  return Buffer.from(out);
}

export function concat(...parts: Uint8Array[]): Buffer {
  return Buffer.concat(parts);
}

/** Naive RFC 6455 §5.3 masking: `out[i] = data[i] ^ key[i % 4]`, into a new buffer. */
export function naiveMask(data: Uint8Array, key: Uint8Array | readonly number[], phase = 0): Buffer {
  const out = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i]! ^ key[(i + phase) % 4]!;
  return out;
}

export interface RawFrame {
  /** The 4-bit opcode, reserved ones included. */
  opcode: number;
  payload?: Uint8Array | string;
  /** Default true. */
  fin?: boolean;
  rsv1?: boolean;
  rsv2?: boolean;
  rsv3?: boolean;
  /**
   * Masking: `true` masks with {@link RFC_KEY}, an array is the key, `false`/absent leaves the
   * frame unmasked. (A server must receive masked frames: use {@link clientFrame}.)
   */
  mask?: boolean | Uint8Array | readonly number[];
  /** The declared payload length, when it must differ from the payload given (truncated frames). */
  length?: number | bigint;
  /** Force a length form: 7-bit, 16-bit (126) or 64-bit (127). Default: the minimal one. */
  lengthForm?: 7 | 16 | 64;
}

/** One frame, possibly truncated or malformed on purpose. */
export function rawFrame(frame: RawFrame): Buffer {
  const payload = typeof frame.payload === 'string' ? Buffer.from(frame.payload, 'utf8') : Buffer.from(frame.payload ?? []);
  const declared = BigInt(frame.length ?? payload.length);
  const form = frame.lengthForm ?? (declared < 126n ? 7 : declared < 0x10000n ? 16 : 64);
  const key = frame.mask === true ? RFC_KEY : frame.mask === false || frame.mask === undefined ? undefined : frame.mask;
  const head: number[] = [];
  head.push(
    ((frame.fin ?? true) ? 0x80 : 0) |
      (frame.rsv1 ? 0x40 : 0) |
      (frame.rsv2 ? 0x20 : 0) |
      (frame.rsv3 ? 0x10 : 0) |
      (frame.opcode & 0x0f),
  );
  const maskBit = key ? 0x80 : 0;
  if (form === 7) {
    if (declared > 125n) throw new Error('7-bit length form holds at most 125');
    head.push(maskBit | Number(declared));
  } else if (form === 16) {
    if (declared > 0xffffn) throw new Error('16-bit length form holds at most 65535');
    head.push(maskBit | 126, Number(declared >> 8n), Number(declared & 0xffn));
  } else {
    head.push(maskBit | 127);
    for (let shift = 56n; shift >= 0n; shift -= 8n) head.push(Number((declared >> shift) & 0xffn));
  }
  if (key) head.push(...key);
  return Buffer.concat([Buffer.from(head), key ? naiveMask(payload, key) : payload]);
}

/** A masked frame (what a client sends; what a server-role parser expects). */
export function clientFrame(frame: Omit<RawFrame, 'mask'> & { key?: readonly number[] | Uint8Array }): Buffer {
  return rawFrame({ ...frame, mask: frame.key ?? true });
}

/** An unmasked frame (what a server sends; what a client-role parser expects). */
export function serverFrame(frame: Omit<RawFrame, 'mask'>): Buffer {
  return rawFrame({ ...frame, mask: false });
}

/** A close frame body: 2-byte big-endian code followed by the reason bytes. */
export function closeBody(code: number, reason: Uint8Array | string = ''): Buffer {
  const reasonBytes = typeof reason === 'string' ? Buffer.from(reason, 'utf8') : Buffer.from(reason);
  return Buffer.concat([Buffer.from([(code >> 8) & 0xff, code & 0xff]), reasonBytes]);
}

/** The size of a frame's header: 2, plus 2 or 8 length bytes, plus 4 when masked. */
export function headerLength(payloadLength: number, masked: boolean): number {
  return (payloadLength < 126 ? 2 : payloadLength < 0x10000 ? 4 : 10) + (masked ? 4 : 0);
}

/** Deterministic bytes (not random-looking on purpose: a position-dependent pattern). */
export function patternBytes(length: number, salt = 0): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + salt + (i >>> 8)) & 0xff;
  return out;
}
