import { type UpgradeRequest } from '../handshake/upgrade-request.js';
import { type Connection } from '../io/connection.js';
import { type LimitEvent } from '../io/limits.js';
import { type BackplaneEvent } from './backplane.js';

/** The shapes a {@link WebSocketServer} reports and takes: its events, listen result and close options. */

export interface ServerEvents<Data> {
  connection: [connection: Connection<Data>, request: UpgradeRequest];
  /**
   * A request was refused with an HTTP status (plain HTTP requests answered 426 included). A
   * handshake that timed out is dropped without an answer: it is a `limit` (handshakeTimeout).
   */
  refused: [status: number, reason: string];
  /** A limit was hit (it is also counted in `stats().limits`). */
  limit: [event: LimitEvent];
  /**
   * The listener failed, or application code threw while a connection was being set up: an
   * admission function before the 101 (the request is answered 500), or after it `onOpen`, a
   * `connection` listener or a handler of the bytes that came with the request (that connection is
   * closed with 1011). Reported only when something listens for it.
   */
  error: [error: Error];
  listening: [];
  close: [];
  /** News from the backplane: (dis)connected, messages dropped or missed. */
  backplane: [event: BackplaneEvent];
}

export interface ListenInfo {
  host: string;
  port: number;
  /** `ws://HOST:PORT` (or wss://), IPv6 hosts in brackets. */
  url: string;
}

export interface CloseServerOptions {
  /** Close code sent to every client. Default 1001 (going away). */
  code?: number | undefined;
  reason?: string | undefined;
  /** Milliseconds to wait for clients to finish the close handshake before terminating them. Default 5000. */
  timeout?: number | undefined;
}
