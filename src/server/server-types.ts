import { type UpgradeRequest } from '../handshake/upgrade-request.js';
import { type Connection } from '../io/connection.js';
import { type LimitEvent } from '../io/limits.js';
import { type BackplaneEvent } from './backplane.js';

/** The shapes a {@link WebSocketServer} reports and takes: its events, listen result and close options. */

export interface ServerEvents<Data> {
  connection: [connection: Connection<Data>, request: UpgradeRequest];
  /** A handshake was refused (status sent) or failed. */
  refused: [status: number, reason: string];
  /** A limit was hit (it is also counted in `stats().limits`). */
  limit: [event: LimitEvent];
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
  code?: number;
  reason?: string;
  /** Milliseconds to wait for clients to finish the close handshake before terminating them. Default 5000. */
  timeout?: number;
}
