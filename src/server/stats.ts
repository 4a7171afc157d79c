import { type Connection } from '../io/connection.js';
import { ConnectionStats } from '../io/connection-stats.js';
import { type LimitCounters, type LimitName } from '../io/limits.js';

/** A server's traffic and lifecycle figures (`server.stats()`). */
export interface ServerStats {
  /** Open connections now. */
  connections: number;
  /** Connections accepted since the server was created. */
  connectionsTotal: number;
  /** Requests refused with an HTTP status (plain HTTP requests answered 426 included); timed-out handshakes count under `limits.handshakeTimeout`. */
  refused: number;
  messagesIn: number;
  messagesOut: number;
  /** Message bytes (inflated). */
  bytesIn: number;
  bytesOut: number;
  /** Bytes on the wire (frames, compression). */
  wireBytesIn: number;
  wireBytesOut: number;
  /** Messages not sent: connection closing, or a slow consumer over its limit. */
  dropped: number;
  /** Connections terminated because a heartbeat ping went unanswered. */
  heartbeatTimeouts: number;
  /** Connections closed for being idle. */
  idleTimeouts: number;
  /** How many connections ended with each close code. */
  closeCodes: Record<number, number>;
  /** How often each limit was hit (see the `limit` event and SECURITY.md). */
  limits: Record<LimitName, number>;
}

/** Internal: the counters a server keeps beside its connections' own. */
export interface ServerCounters {
  connectionsTotal: number;
  refused: number;
  heartbeatTimeouts: number;
  idleTimeouts: number;
  closeCodes: Map<number, number>;
  limits: LimitCounters;
}

/** Adds up the closed connections' totals and the live connections' counters. */
export function summarize(counters: ServerCounters, retired: ConnectionStats, live: Iterable<Connection<unknown>>, open: number): ServerStats {
  const totals = new ConnectionStats();
  totals.add(retired);
  for (const connection of live) {
    const counted = connection.statsIfAny;
    if (counted !== undefined) totals.add(counted);
  }
  return {
    connections: open,
    connectionsTotal: counters.connectionsTotal,
    refused: counters.refused,
    messagesIn: totals.messagesIn,
    messagesOut: totals.messagesOut,
    bytesIn: totals.bytesIn,
    bytesOut: totals.bytesOut,
    wireBytesIn: totals.wireBytesIn,
    wireBytesOut: totals.wireBytesOut,
    dropped: totals.dropped,
    heartbeatTimeouts: counters.heartbeatTimeouts,
    idleTimeouts: counters.idleTimeouts,
    closeCodes: Object.fromEntries(counters.closeCodes),
    limits: counters.limits.snapshot(),
  };
}
