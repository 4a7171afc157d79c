import { EventEmitter } from 'node:events';
import { type Socket } from 'node:net';
import { linesIfRepeated, parseHeaderText, requestTarget, type HeaderMap } from '../handshake/http-head.js';
import { type ProtocolSession, type ReadyState } from '../protocol/session.js';
import { coarseClock } from './coarse-clock.js';
import { idOf, nextSerial } from './connection-id.js';
import { ConnectionStats } from './connection-stats.js';
import { type ConnectionEvents, type ConnectionInit, type ConnectionStatus } from './connection-types.js';
import { forgetPeerName } from './peer-name.js';

const STATUS: readonly ConnectionStatus[] = ['connecting', 'open', 'closing', 'closed'];

/**
 * The header lines of the connections whose head repeats a header name (they are otherwise the
 * headers' entries): aside, so that the other connections carry no slot for them.
 */
const rawLines = new WeakMap<object, ReadonlyArray<readonly [string, string]>>();

/**
 * What the application reads about a connection, for both roles: who it is with (address, URL,
 * headers), what the handshake agreed (subprotocol, extensions), the data attached to it, its
 * state, and its counters. Each is kept in the cheapest form until first read: an idle server
 * connection holds the request head's text, no parsed headers, no id string, no counters.
 * {@link ConnectionCore} adds the transport.
 */
export abstract class ConnectionInfo<Data = unknown> extends EventEmitter<ConnectionEvents> {
  /** @internal The counter behind {@link id} (see connection-id.ts). */
  readonly serial: number;
  /** The URL (client) or the request target (server), unless still inside {@link headerSource}'s text. */
  private urlSlot: string | undefined;
  /** The headers, or the request head's text until they are first read. */
  private headerSource: Readonly<HeaderMap> | string;
  /** The negotiated subprotocol ('' when none). */
  readonly protocol: string;
  /** The negotiated extensions header ('' when none). */
  readonly extensions: string;
  /** Whatever the application attached (for servers: what admission computed). */
  data: Data;
  /** The peer's address ('' if the socket could not tell), also after the socket closes. */
  readonly remoteAddress: string;
  /** The peer's port (0 if the socket could not tell), also after the socket closes. */
  readonly remotePort: number;
  /** Made with the first message or frame: an idle connection carries none. */
  private statsSlot: ConnectionStats | undefined;
  /** Round-trip time of the last answered heartbeat ping, in milliseconds. */
  rtt: number | undefined;
  /** @internal When the unanswered heartbeat ping was sent (`coarseClock.precise()` ms), 0 if none. */
  pingSentAt = 0;
  /** When bytes last arrived, in ms after {@link coarseClock.epoch} (see {@link lastActivity}). */
  protected activityAt = coarseClock.sinceEpoch(coarseClock.tick());
  /** @internal The protocol core, whose state and role these report. */
  abstract readonly session: ProtocolSession;

  constructor(socket: Socket, init: ConnectionInit<Data>) {
    super();
    // EventEmitter gives every instance a dictionary of listeners (about 180 bytes) up front; most
    // server connections never get a listener (handler objects need none). Node's EventEmitter
    // makes the dictionary on the first on()/once() when `_events` is undefined, and every other
    // method accepts undefined, so an idle connection carries none.
    (this as unknown as { _events: object | undefined })._events = undefined;
    this.serial = nextSerial();
    // A request head's text holds the target: it is cut out only if someone reads `url`.
    this.urlSlot = typeof init.headers === 'string' ? undefined : init.url;
    this.headerSource = init.headers;
    if (init.rawHeaders !== undefined) rawLines.set(this, init.rawHeaders);
    this.protocol = init.protocol ?? '';
    this.extensions = init.extensions ?? '';
    this.data = init.data as Data;
    // Kept here, so that they answer after the socket closes; Node's own copy of them on the
    // socket is let go (see forgetPeerName).
    this.remoteAddress = socket.remoteAddress ?? '';
    this.remotePort = socket.remotePort ?? 0;
    forgetPeerName(socket);
  }

  /** Unique across processes (a random per-process prefix and a counter), made when read. */
  get id(): string {
    return idOf(this.serial);
  }

  /** @internal When bytes last arrived (coarse clock ms). */
  get lastActivity(): number {
    return this.activityAt + coarseClock.epoch;
  }

  /** Which end of the connection this is. */
  get role(): 'server' | 'client' {
    return this.session.role;
  }

  /** Client: the URL connected to. Server: the request target (path and query). */
  get url(): string {
    return (this.urlSlot ??= requestTarget(this.headerSource as string));
  }

  /**
   * Server: the request's headers. Client: the response's headers. Names are lower-case; repeated
   * headers are joined (see {@link rawHeaders}).
   */
  get headers(): Readonly<HeaderMap> {
    const source = this.headerSource;
    return typeof source === 'string' ? this.parseHead(source) : source;
  }

  /**
   * The same headers as lines, [name lower-cased, value], in order: repeated ones kept apart (each
   * `set-cookie` of a client's 101, which cannot be joined: RFC 9110 §5.3).
   */
  get rawHeaders(): ReadonlyArray<readonly [string, string]> {
    const source = this.headerSource;
    const headers = typeof source === 'string' ? this.parseHead(source) : source;
    return rawLines.get(this) ?? Object.entries(headers);
  }

  /** Parses the request head's text, kept until now: headers, lines and target. */
  private parseHead(text: string): Readonly<HeaderMap> {
    this.urlSlot ??= requestTarget(text);
    const lines: Array<[string, string]> = [];
    const headers = (this.headerSource = parseHeaderText(text, lines));
    const repeated = linesIfRepeated(headers, lines);
    if (repeated !== undefined) rawLines.set(this, repeated);
    return headers;
  }

  /** 0 CONNECTING, 1 OPEN, 2 CLOSING, 3 CLOSED (the WHATWG numbering). */
  get readyState(): ReadyState {
    return this.session.readyState;
  }

  get status(): ConnectionStatus {
    return STATUS[this.session.readyState]!;
  }

  /** Traffic counters. */
  get stats(): ConnectionStats {
    return (this.statsSlot ??= new ConnectionStats());
  }

  /** @internal The traffic counters, if there was traffic to count. */
  get statsIfAny(): ConnectionStats | undefined {
    return this.statsSlot;
  }
}
