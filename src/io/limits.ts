import { type SockwaveError } from '../errors.js';

/**
 * The limits a server enforces: their names, how often each was hit (`stats().limits`), and the
 * `limit` event reporting each hit. Each has a server option (`ServerOptions`); see SECURITY.md.
 * Connections report their hits to their owner; the server counts and emits them.
 */
export type LimitName =
  /** A message (or its inflated form) over `maxPayload`: closed with 1009. */
  | 'maxPayload'
  /** A message in more than `maxFragments` frames: closed with 1008. */
  | 'maxFragments'
  /** More messages or bytes per second than `rateLimit` allows: closed with 1008. */
  | 'rateLimit'
  /** An upgrade request head over `maxHeaderBytes`: refused with 431. */
  | 'maxHeaderBytes'
  /** An upgrade request (or TLS handshake) not completed within `handshakeTimeout`: dropped. */
  | 'handshakeTimeout'
  /** `maxConnections` open already: refused with 503. */
  | 'maxConnections'
  /** `maxConnectionsPerAddress` open or opening from the same address: refused with 429. */
  | 'maxConnectionsPerAddress'
  /** A send past `maxBufferedAmount` (the outbox): the slow-consumer policy applied. */
  | 'maxBufferedAmount'
  /** A pull reader's buffer filled up: reading from the peer paused. */
  | 'receiveBuffer'
  /** The peer did not finish the close handshake within `closeTimeout`: the socket was destroyed. */
  | 'closeTimeout'
  /** A heartbeat ping went unanswered for `pongTimeout` (a half-open peer): terminated. */
  | 'pongTimeout'
  /** Nothing arrived for `idleTimeout`: closed with 1001. */
  | 'idleTimeout';

export const LIMIT_NAMES: readonly LimitName[] = [
  'maxPayload',
  'maxFragments',
  'rateLimit',
  'maxHeaderBytes',
  'handshakeTimeout',
  'maxConnections',
  'maxConnectionsPerAddress',
  'maxBufferedAmount',
  'receiveBuffer',
  'closeTimeout',
  'pongTimeout',
  'idleTimeout',
];

/** What the server's `limit` event carries. */
export interface LimitEvent {
  limit: LimitName;
  /** The peer's address ('' when unknown). */
  remoteAddress: string;
  /** The connection's id, once the handshake was done. */
  connectionId?: string | undefined;
  /** A short description (never sent to the peer beyond a close reason). */
  detail: string;
}

/** Internal: counts of limit hits. */
export class LimitCounters {
  private readonly counts = new Map<LimitName, number>(LIMIT_NAMES.map((name) => [name, 0]));

  hit(limit: LimitName): void {
    this.counts.set(limit, (this.counts.get(limit) ?? 0) + 1);
  }

  snapshot(): Record<LimitName, number> {
    return Object.fromEntries(this.counts) as Record<LimitName, number>;
  }
}

/** The limit a protocol error reports, if it is a limit's. */
export function limitOfError(error: SockwaveError): LimitName | undefined {
  switch (error.code) {
    case 'SW_MESSAGE_TOO_BIG':
      return 'maxPayload';
    case 'SW_TOO_MANY_FRAGMENTS':
      return 'maxFragments';
    case 'SW_RATE_LIMITED':
      return 'rateLimit';
    default:
      return undefined;
  }
}
