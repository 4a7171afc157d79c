import { isUtf8 } from 'node:buffer';

/**
 * How `sockwave connect` turns typed lines into messages and messages into printable text:
 * the --binary, --base64, --hex and --json modes.
 */

/** 'text' (the default): lines go out as text; 'binary': as binary (their UTF-8 bytes); 'base64' and 'hex': decoded, as binary. */
export type DataMode = 'text' | 'binary' | 'base64' | 'hex';

export interface FormatOptions {
  mode: DataMode;
  /** Pretty-print text messages that are JSON. */
  json: boolean;
}

/** A message ready for `send()`: a string goes out as text, a Buffer as binary. */
export type Outgoing = string | Buffer;

export class EncodingError extends Error {}

const HEX = /^(?:[0-9a-fA-F]{2})*$/;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** Turns a line typed (or given to --execute) into a message, or throws {@link EncodingError}. */
export function encodeLine(line: string, mode: DataMode): Outgoing {
  switch (mode) {
    case 'text':
      return line;
    case 'binary':
      return Buffer.from(line, 'utf8');
    case 'hex': {
      const digits = line.replace(/0x/gi, '').replace(/[\s:,]/g, '');
      if (!HEX.test(digits)) throw new EncodingError(`not hex (pairs of 0-9 a-f): ${JSON.stringify(line)}`);
      return Buffer.from(digits, 'hex');
    }
    case 'base64': {
      const compact = line.replace(/\s/g, '');
      if (!BASE64.test(compact) || compact.replace(/=+$/, '').length % 4 === 1) throw new EncodingError(`not base64: ${JSON.stringify(line)}`);
      return Buffer.from(compact, compact.includes('-') || compact.includes('_') ? 'base64url' : 'base64');
    }
  }
}

/** What a received message looks like on screen, and whether it is shown as binary. */
export interface Rendered {
  text: string;
  /** Set for binary messages: a short tag for a terminal ('binary, 4 bytes'). */
  tag?: string;
  /** --binary on a pipe: the message's own bytes, written as they are. */
  raw?: Buffer;
}

/** Renders a received message for the screen (or a pipe) according to the options. */
export function renderMessage(message: string | Buffer, isBinary: boolean, options: FormatOptions, tty: boolean): Rendered {
  if (!isBinary) {
    const text = typeof message === 'string' ? message : message.toString('utf8');
    return { text: options.json ? prettyJson(text) : text };
  }
  const bytes = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  const tag = `binary, ${bytes.length} byte${bytes.length === 1 ? '' : 's'}`;
  switch (options.mode) {
    case 'hex':
      return { text: toHex(bytes), tag };
    case 'base64':
      return { text: bytes.toString('base64'), tag };
    case 'binary':
      // Raw bytes for a pipe; on a terminal, UTF-8 text when it is, hex otherwise.
      if (!tty) return { text: '', raw: bytes, tag };
      return { text: isUtf8Text(bytes) ? bytes.toString('utf8') : toHex(bytes), tag };
    case 'text':
      // A pipe gets the bytes as UTF-8, each message followed by a newline (its own line breaks
      // are not escaped); a terminal gets hex for bytes that are not text.
      if (!tty || isUtf8Text(bytes)) return { text: bytes.toString('utf8'), tag };
      return { text: toHex(bytes), tag };
  }
}

export function toHex(bytes: Buffer): string {
  return bytes.toString('hex').replace(/(..)(?!$)/g, '$1 ');
}

function prettyJson(text: string): string {
  const trimmed = text.trim();
  if (!(trimmed.startsWith('{') || trimmed.startsWith('['))) return text;
  try {
    return JSON.stringify(JSON.parse(trimmed), null, 2);
  } catch {
    return text;
  }
}

/** Valid UTF-8 without control characters other than tab and newline. */
function isUtf8Text(bytes: Buffer): boolean {
  if (!isUtf8(bytes)) return false;
  // eslint-disable-next-line no-control-regex
  return !/[\u0000-\u0008\u000B-\u001F\u007F]/.test(bytes.toString('utf8'));
}
