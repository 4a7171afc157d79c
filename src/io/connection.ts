import { UsageError } from '../errors.js';
import { ReadyState } from '../protocol/session.js';
import { ConnectionSender } from './connection-sender.js';
import { PAUSED } from './connection-flags.js';
import {
  type CloseInfo,
  type ConnectionEvents,
  type ConnectionHandler,
  type ConnectionInit,
  type ConnectionOwner,
  type ConnectionStatus,
  type DataRequired,
  type SendCallback,
  type SendOptions,
  type SendReport,
  type SendResult,
} from './connection-types.js';
import { MessageReader, type MessageReaderOptions, type NextMessageOptions, type PulledMessage } from './message-reader.js';
import { shown } from '../option-checks.js';
import { type WebSocketServer } from '../server/server.js';

export type { CloseInfo, ConnectionEvents, ConnectionHandler, ConnectionInit, ConnectionOwner, ConnectionStatus, DataRequired, SendCallback, SendOptions, SendReport, SendResult };

/**
 * One WebSocket connection, for both roles: what {@link ConnectionCore} receives is reported to a
 * handler object (fast, no allocation) and as EventEmitter events; {@link ConnectionSender} sends
 * (messages, control frames, the close handshake's start, backpressure); this class adds topic
 * subscriptions and the pull style.
 */
export class Connection<Data = unknown> extends ConnectionSender<Data> {
  private topicSet: Set<string> | undefined;

  /** The server this connection belongs to (undefined for a client connection). */
  get server(): WebSocketServer | undefined {
    // (The owner a server gives its connections is the server itself.)
    return this.owner as WebSocketServer | undefined;
  }

  /** Topics this connection is subscribed to. */
  get topics(): ReadonlySet<string> {
    return this.topicSet ?? NO_TOPICS;
  }

  /** Subscribes to a topic of its server (`server.publish(topic, data)`). Returns false if already. */
  subscribe(topic: string): boolean {
    if (typeof topic !== 'string') throw new TypeError(`subscribe: a topic is a string, not ${shown(topic)}`);
    if (!this.owner) throw new UsageError('SW_INVALID_STATE', 'topics exist on server connections only');
    if (this.session.readyState === ReadyState.Closed || !this.owner.subscribe(this as Connection<unknown>, topic)) return false;
    (this.topicSet ??= new Set()).add(topic);
    return true;
  }

  /** Leaves a topic. Returns false if it was not subscribed. */
  unsubscribe(topic: string): boolean {
    if (!this.topicSet?.delete(topic)) return false;
    this.owner?.unsubscribe(this as Connection<unknown>, topic);
    return true;
  }

  /**
   * The pull style: the next message, from a bounded buffer that pauses reading from the peer when
   * the application falls behind. The buffer starts with the first call of `nextMessage()`,
   * `messages()` or iteration; messages that arrived before it went to listeners only. From then
   * on it holds every message until it is read, including those that listeners also take and those
   * whose handler or listener throws: a reader left unread (a loop ended with `break`, say) pauses
   * reading from the peer once full.
   * @example
   * const conn = await connect(url);
   * for await (const { data } of conn) console.log(data);
   */
  nextMessage(options?: NextMessageOptions): Promise<PulledMessage> {
    return this.messages().next(options);
  }

  /** True when `nextMessage()` would resolve at once. */
  get hasBufferedMessage(): boolean {
    return this.reader?.hasBufferedMessage ?? false;
  }

  /** @internal Why reading is paused: {@link PauseReason} bits, 0 when it is not. */
  get pauseReasons(): number {
    return this.flags & PAUSED;
  }

  /** @internal Frame bytes the operating system has taken from this side so far (never decreases). */
  get wireBytesTaken(): number {
    return this.stats.wireBytesOut - this.unsentBytes;
  }

  /**
   * @internal A received message is still being inflated in the thread pool: its `message` event,
   * and every event received after it (a close frame's included), is still to come.
   */
  get inboundPending(): boolean {
    return this.inbox?.active === true;
  }
  /**
   * The pull-style reader of this connection: made on first use, with these limits; a later call
   * with limits changes them (see {@link MessageReader.setLimits}). Throws RangeError for a limit
   * that is not a positive integer or Infinity.
   */
  messages(options?: MessageReaderOptions): MessageReader {
    if (this.reader === undefined) return new MessageReader(this, options);
    if (options !== undefined) this.reader.setLimits(options);
    return this.reader;
  }

  /** @internal The pull reader, as it is made over this connection (see {@link messages}). */
  attachReader(reader: MessageReader): void {
    if (this.reader !== undefined && this.reader !== reader) throw new UsageError('SW_INVALID_STATE', 'this connection has a pull reader already: use its messages()');
    this.reader = reader;
  }

  [Symbol.asyncIterator](): AsyncIterator<PulledMessage> {
    return this.messages()[Symbol.asyncIterator]();
  }

  protected beforeClosed(): void {
    if (this.topicSet === undefined) return;
    for (const topic of this.topicSet) this.owner?.unsubscribe(this as Connection<unknown>, topic);
    this.topicSet = undefined;
  }
}

const NO_TOPICS: ReadonlySet<string> = new Set();
