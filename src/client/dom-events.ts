/**
 * The DOM pieces the WHATWG WebSocket API needs that Node.js 20 does not have: `CloseEvent`
 * (websockets.spec.whatwg.org, "The CloseEvent interface"), and the WebIDL conversions its
 * attributes and `WebSocket.close()` use. Node 20 already has `Event`, `EventTarget`,
 * `MessageEvent`, `DOMException` and `Blob` as globals.
 */

/** The CloseEventInit dictionary. */
export interface CloseEventInit {
  bubbles?: boolean | undefined;
  cancelable?: boolean | undefined;
  composed?: boolean | undefined;
  /** Default false. */
  wasClean?: boolean | undefined;
  /** Default 0; converted as a WebIDL `unsigned short` (modulo 2^16). */
  code?: number | undefined;
  /** Default ''; converted as a WebIDL `USVString`. */
  reason?: string | undefined;
}

/** The close event of a WebSocket: how the connection ended. */
class SockwaveCloseEvent extends Event {
  readonly #wasClean: boolean;
  readonly #code: number;
  readonly #reason: string;

  constructor(type: string, eventInitDict: CloseEventInit | null = {}) {
    // (Event's own check does not see a missing type through the two arguments passed on.)
    if (arguments.length === 0) throw new TypeError('CloseEvent: the type argument is required');
    // (WebIDL: a dictionary given as null is an empty one.)
    const init = eventInitDict ?? {};
    super(type, init);
    this.#wasClean = Boolean(init.wasClean ?? false);
    this.#code = toUnsignedShort(init.code ?? 0);
    // (Only undefined is a member not given: null is converted, to "null".)
    this.#reason = init.reason === undefined ? '' : toUSVString(init.reason);
  }

  /** True if the connection closed cleanly (both close frames exchanged, then the TCP close). */
  get wasClean(): boolean {
    return this.#wasClean;
  }

  /** The WebSocket connection close code (1005 when the close frame had none, 1006 when there was none). */
  get code(): number {
    return this.#code;
  }

  /** The WebSocket connection close reason. */
  get reason(): string {
    return this.#reason;
  }

  get [Symbol.toStringTag](): string {
    return 'CloseEvent';
  }
}

Object.defineProperty(SockwaveCloseEvent, 'name', { value: 'CloseEvent' });
for (const name of ['wasClean', 'code', 'reason']) {
  Object.defineProperty(SockwaveCloseEvent.prototype, name, { enumerable: true });
}

/** A `CloseEvent` instance: the close event of a WebSocket, how the connection ended. */
export interface CloseEvent extends Event {
  /** True if the connection closed cleanly (both close frames exchanged, then the TCP close). */
  readonly wasClean: boolean;
  /** The WebSocket connection close code (1005 when the close frame had none, 1006 when there was none). */
  readonly code: number;
  /** The WebSocket connection close reason. */
  readonly reason: string;
}

/** The `CloseEvent` constructor. */
export interface CloseEventConstructor {
  new (type: string, eventInitDict?: CloseEventInit | null): CloseEvent;
  readonly prototype: CloseEvent;
}

/**
 * `CloseEvent`: the runtime's own when it has one (Node.js 23 and later), else sockwave's, so that
 * `event instanceof CloseEvent` holds for whichever a program uses.
 */
export const CloseEvent: CloseEventConstructor =
  (globalThis as { CloseEvent?: CloseEventConstructor }).CloseEvent ?? SockwaveCloseEvent;

/**
 * The `error` event of a WebSocket: a plain `Event` named 'error', as the standard has it. Beyond
 * the standard, sockwave puts what went wrong on it (non-enumerable), for Node programs to log;
 * browsers deliberately tell scripts nothing.
 */
export interface WebSocketErrorEvent extends Event {
  /** Why the connection failed, when known. */
  readonly error?: Error;
}

/** Creates the `error` event, carrying `error` as a non-enumerable property. @internal */
export function createErrorEvent(error: Error | undefined): WebSocketErrorEvent {
  const event = new Event('error');
  if (error !== undefined) Object.defineProperty(event, 'error', { value: error, enumerable: false });
  return event;
}

/** WebIDL `unsigned short`: ToNumber, then truncate and wrap modulo 2^16 (NaN and ±∞ give 0). @internal */
export function toUnsignedShort(value: unknown): number {
  const x = Number(value);
  if (!Number.isFinite(x)) return 0;
  const truncated = Math.trunc(x);
  return ((truncated % 65536) + 65536) % 65536;
}

/**
 * WebIDL `[Clamp] unsigned short`: ToNumber; NaN gives 0; clamp to 0..65535; round to the nearest
 * integer, ties to even. @internal
 */
export function toClampedUnsignedShort(value: unknown): number {
  const x = Number(value);
  if (Number.isNaN(x)) return 0;
  const clamped = Math.min(Math.max(x, 0), 65535);
  const floor = Math.floor(clamped);
  const fraction = clamped - floor;
  if (fraction > 0.5) return floor + 1;
  if (fraction < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** WebIDL `DOMString`: ToString (a Symbol is a TypeError). @internal */
export function toDOMString(value: unknown): string {
  return `${value as string}`;
}

/** WebIDL `USVString`: ToString, then every lone surrogate becomes U+FFFD. @internal */
export function toUSVString(value: unknown): string {
  // (A template literal converts as ToString does: a Symbol throws a TypeError, which String() would not.)
  return `${value as string}`.replace(LONE_SURROGATE, '\uFFFD');
}
