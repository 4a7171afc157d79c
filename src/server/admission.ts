import { type UpgradeRequest } from '../handshake/upgrade-request.js';
import { type ConnectionHandler, type DataRequired } from '../io/connection.js';

/**
 * Admission (the 4D style): for each upgrade request the server calls `onConnection(request)`,
 * which may be async, and which either accepts, by returning a handler for that connection (with
 * the typed `data` the connection will carry), or refuses with an HTTP status.
 */

/**
 * Accepting a connection: its handler, its data, and optionally the subprotocol and extra headers.
 * Admission must give `data` when the server's `Data` type does not admit `undefined`
 * (see {@link AdmissionResult}).
 */
export interface ConnectionSetup<Data = unknown> extends ConnectionHandler<Data> {
  /** Travels to the connection as `connection.data` (a user, a session...). */
  data?: Data | undefined;
  /** The subprotocol to answer with; must be one the client offered. Default: the server's choice. */
  protocol?: string | undefined;
  /** Extra headers on the 101 response. */
  headers?: Readonly<Record<string, string | readonly string[]>> | undefined;
}

/** Refusing a connection: an HTTP status, headers and a short plain-text body (none on a 304). */
export class Refusal {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  readonly body: string;
  constructor(status: number, options: { headers?: Readonly<Record<string, string | readonly string[]>> | undefined; body?: string | undefined } = {}) {
    if (!Number.isInteger(status) || status < 300 || status > 599) throw new RangeError(`a refusal needs a 3xx–5xx status, not ${status}`);
    // RFC 9110 §15.4.5: a 304 has no content.
    if (status === 304 && options.body !== undefined && options.body !== '') throw new RangeError('a 304 refusal has no body');
    this.status = status;
    this.headers = options.headers ?? {};
    this.body = options.body ?? '';
  }
}

/**
 * Refuses an upgrade request: `return refuse(401, { headers: { 'WWW-Authenticate': 'Bearer' } })`.
 */
export function refuse(status: number, options?: { headers?: Readonly<Record<string, string | readonly string[]>> | undefined; body?: string | undefined }): Refusal {
  return new Refusal(status, options);
}

/**
 * What admission answers: a {@link ConnectionSetup} to accept, a {@link Refusal} to refuse.
 * Nothing (`undefined`) accepts with no handler and no data, so it is allowed only when `Data`
 * admits `undefined` (as the default, `unknown`, does); otherwise the setup must carry `data`,
 * and `connection.data` is then never undefined. `WebSocketServer<{ user: string }>` thus
 * refuses, at compile time, an admission that returns `{}` or may return nothing.
 */
export type AdmissionResult<Data> = (ConnectionSetup<Data> & DataRequired<Data>) | Refusal | (undefined extends NoInfer<Data> ? undefined | void : never);

/** Decides, for each upgrade request, whether and how to accept it. */
export type OnConnection<Data = unknown> = (request: UpgradeRequest) => AdmissionResult<Data> | Promise<AdmissionResult<Data>>;

/** The `origins` option's verdict: requests without an Origin header (non-browser clients) pass a list. */
export function originAllowed(
  allowed: readonly string[] | ((origin: string | undefined, request: UpgradeRequest) => boolean) | undefined,
  request: UpgradeRequest,
): boolean {
  if (allowed === undefined) return true;
  if (typeof allowed === 'function') return allowed(request.origin, request);
  return request.origin === undefined || allowed.includes(request.origin);
}
