import { type Envelope } from '../server/backplane.js';

/**
 * How an {@link Envelope} is stored in a Redis stream entry: field `h` holds a JSON header (the
 * publishing node, its sequence number, the kind and target), field `d` the payload bytes as is.
 */
export interface Header {
  /** Publishing node id. */
  n: string;
  /** The node's sequence number: 1, 2, 3… with no gap. */
  s: number;
  k: Envelope['kind'];
  /** Binary (1) or text (0). */
  b: 0 | 1;
  /** Topic (kind 'topic'). */
  t?: string;
  /** Connection ids (kind 'direct'). */
  i?: readonly string[];
  /** Connection ids left out (kinds 'topic' and 'broadcast'). */
  x?: readonly string[];
  /** Sent again after a Redis restart: the stream id it had when first published. */
  o?: string;
}

export function encodeHeader(node: string, seq: number, envelope: Envelope): string {
  const header: Header = { n: node, s: seq, k: envelope.kind, b: envelope.binary ? 1 : 0 };
  if (envelope.kind === 'topic') header.t = envelope.topic;
  if (envelope.kind === 'direct') header.i = envelope.ids;
  else if (envelope.except !== undefined && envelope.except.length > 0) header.x = envelope.except;
  return JSON.stringify(header);
}

/** `header` (encoded) with the stream id its entry first had, for sending it again. */
export function withOrigin(header: string, id: string): string {
  return `${header.slice(0, -1)},"o":${JSON.stringify(id)}}`;
}

/** Parses a header; undefined when it is not one of ours (such entries are skipped). */
export function decodeHeader(raw: Buffer): Header | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const header = value as Partial<Header>;
  if (typeof header.n !== 'string' || !isSequenceNumber(header.s) || (header.b !== 0 && header.b !== 1)) return undefined;
  if (header.k === 'topic' ? typeof header.t !== 'string' : header.k === 'direct' ? !isStrings(header.i) : header.k !== 'broadcast') return undefined;
  if (header.x !== undefined && !isStrings(header.x)) return undefined;
  if (header.o !== undefined && typeof header.o !== 'string') return undefined;
  return header as Header;
}

export function toEnvelope(header: Header, data: Buffer): Envelope {
  const binary = header.b === 1;
  if (header.k === 'direct') return { kind: 'direct', ids: header.i ?? [], data, binary };
  if (header.k === 'topic') return { kind: 'topic', topic: header.t ?? '', data, binary, except: header.x };
  return { kind: 'broadcast', data, binary, except: header.x };
}

/** A publisher's sequence numbers are 1, 2, 3…: a foreign writer's 4.5 or -1 is not ours. */
function isSequenceNumber(value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

function isStrings(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}
