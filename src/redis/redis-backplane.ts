import { randomBytes } from 'node:crypto';
import { type Redis, type RedisOptions } from 'ioredis';
import { BackplaneError, UsageError } from '../errors.js';
import { type Backplane, type BackplaneEvent, type BackplaneNode, type Envelope } from '../server/backplane.js';
import { encodeHeader } from './envelope-codec.js';
import { HealthCheck } from './health-check.js';
import { checkNumber } from '../option-checks.js';
import { Presence } from './presence.js';
import { PublishLog, type LogEntry } from './publish-log.js';
import { isReplyError, openConnection, serverRunId, withinTime } from './redis-connection.js';
import { checkRedisUrl } from './redis-url.js';
import { StreamReader } from './stream-reader.js';

/** Options of a {@link RedisBackplane}. Times in milliseconds. */
export interface RedisBackplaneOptions {
  /**
   * `redis://[user:password@]HOST[:PORT][/DB]` (`rediss://` for TLS). Default
   * `redis://127.0.0.1:6379`. Another scheme, or a DB that is no number, throws (TypeError,
   * RangeError); a DB Redis refuses (out of range) keeps the backplane disconnected, reported.
   */
  url?: string | undefined;
  /** Prefix of every key; nodes with the same prefix form one cluster. Default `sockwave`. */
  prefix?: string | undefined;
  /**
   * The buffer bound: most messages of this node not yet acknowledged by Redis (kept while it is
   * unreachable). A publish past it is not sent to other nodes and is reported ('dropped'). The
   * replay window sent again after a Redis restart does not count. Default 10 000 (at least 1).
   */
  maxBuffered?: number | undefined;
  /** Most payload bytes in that buffer. Default 64 MiB. */
  maxBufferedBytes?: number | undefined;
  /**
   * Acknowledged messages sent again after a Redis restart (Redis without persistence loses what
   * it held). Each names the stream id it was first given: a node that joined after that does not
   * get it. Default 10 000.
   */
  replayWindow?: number | undefined;
  /** Most payload bytes in the replay window (the oldest messages leave it first). Default 64 MiB. */
  replayWindowBytes?: number | undefined;
  /**
   * About how many entries the stream keeps (how far a node that lags may fall behind), payloads
   * included, and after the last node closed too: Redis holds about `streamLength` × the average
   * message size (100 000 messages of 100 KiB are 10 GB). Set it for the largest messages you
   * publish. Default 100 000.
   */
  streamLength?: number | undefined;
  /** A node's presence expires this long after its last refresh (a crashed node's counts vanish). Default 10 000 (at least 1000). */
  presenceTtl?: number | undefined;
  /** Longest wait between reconnection attempts. Default 1000 (at least 10). */
  maxReconnectDelay?: number | undefined;
  /**
   * How long Redis may take to answer a PING (sent every this many ms on each connection) before
   * the connection is taken as lost, reported ('disconnected') and made again: a Redis host that
   * stops answering without closing the connection is otherwise never noticed. Also the longest
   * wait for a new connection's first commands (AUTH, SELECT) to be answered, and for each step
   * of `close()`. At least 2000 (a read blocks for up to 1000); 0 turns the
   * PING off. Default 5000.
   */
  responseTimeout?: number | undefined;
  /** More ioredis options (TLS, password, …) for both connections. */
  redis?: RedisOptions | undefined;
}

/** Messages XADDed and not yet answered, at most. */
const MAX_IN_FLIGHT = 512;
/** Connections that may break in a row while one message is the oldest in flight before it is given up. */
const MAX_BREAKS = 5;
/** How long one XREAD blocks (ms). */
const READ_BLOCK = 1000;
/** Distinct reasons reported with 'disconnected' in one outage, at most (each at most once). */
const MAX_REASONS = 3;
const OWNER = 'RedisBackplane';

/**
 * A backplane over one Redis stream (`PREFIX:bus`): every node appends what it publishes (XADD,
 * trimmed to about `streamLength` entries) and reads what the others appended (XREAD on a second
 * connection). Delivery: each message reaches every node once (numbered per publisher; repeats are
 * dropped, jumps reported as 'missed'), in each publisher's order; a node skips its own messages.
 * Presence (connections and subscribers per topic) lives in keys that expire after `presenceTtl`.
 *
 * @example
 * import { RedisBackplane } from 'sockwave/redis';
 * const server = new WebSocketServer({ port: 8080, backplane: new RedisBackplane({ url: 'redis://127.0.0.1:6379' }) });
 */
export class RedisBackplane implements Backplane {
  /** This node's id: random, new for every instance (a restarted node is a new node). */
  readonly nodeId: string;
  private readonly url: string;
  private readonly streamKey: string;
  private readonly streamLength: number;
  private readonly log: PublishLog;
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly responseTimeout: number;
  private readonly healthChecks: HealthCheck[] = [];
  private node: BackplaneNode | undefined;
  private reader: StreamReader | undefined;
  private presence: Presence | undefined;
  private runId: string | undefined;
  /** The publishing connection is ready (and resynced). */
  private ready = false;
  /** The reader has synced and reads. */
  private reading = false;
  private connected = false;
  private epoch = 0;
  private inFlight = 0;
  private closed = false;
  /** Drops not reported yet, by reason and error message. */
  private readonly drops = new Map<string, Extract<BackplaneEvent, { type: 'dropped' }>>();
  private dropReport: NodeJS.Immediate | undefined;
  /** The last error a connection gave since the backplane was last connected. */
  private lastError: Error | undefined;
  /** The messages of the errors reported with 'disconnected' since the backplane was last connected. */
  private readonly reportedErrors = new Set<string>();
  /**
   * This node dropped the publishing connection itself (no answer, or a command that failed
   * without one): the break that follows is not Redis refusing the oldest entry in flight.
   */
  private droppedPub = false;
  /** The wait before resync() asks again, after Redis refused (ms). */
  private resyncDelay = 0;
  private resyncTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: RedisBackplaneOptions = {}) {
    // Each at least what keeps the feature working: 0 messages buffered would drop every publish,
    // a presence TTL of 0 expires each write at once (and rewrites it every 10 ms), and no delay
    // between reconnections spins. The replay window may be 0 (none).
    for (const [name, min] of [['maxBuffered', 1], ['maxBufferedBytes', 1], ['replayWindow', 0], ['replayWindowBytes', 0], ['streamLength', 1], ['presenceTtl', 1000], ['maxReconnectDelay', 10]] as const) {
      checkNumber(OWNER, name, options[name], { integer: true, min });
    }
    checkNumber(OWNER, 'responseTimeout', options.responseTimeout, { integer: true });
    this.responseTimeout = options.responseTimeout ?? 5000;
    if (this.responseTimeout !== 0 && this.responseTimeout < 2 * READ_BLOCK) {
      throw new RangeError(`${OWNER}: responseTimeout must be 0 (no PING) or at least ${2 * READ_BLOCK} ms, not ${this.responseTimeout}`);
    }
    checkRedisUrl(OWNER, options.url);
    this.url = options.url ?? 'redis://127.0.0.1:6379';
    this.nodeId = randomBytes(8).toString('hex');
    const prefix = options.prefix ?? 'sockwave';
    this.streamKey = `${prefix}:bus`;
    this.streamLength = options.streamLength ?? 100_000;
    this.log = new PublishLog({
      maxMessages: options.maxBuffered ?? 10_000,
      maxBytes: options.maxBufferedBytes ?? 64 * 1024 * 1024,
      replayWindow: options.replayWindow ?? 10_000,
      replayWindowBytes: options.replayWindowBytes ?? 64 * 1024 * 1024,
    });
    const maxDelay = options.maxReconnectDelay ?? 1000;
    // Auto-pipelining: the XADDs of one turn of the event loop go out in one write.
    // (A handshake never answered is given as long as a PING is: none with responseTimeout 0.)
    this.pub = openConnection(this.url, maxDelay, { ...options.redis, lazyConnect: true, enableAutoPipelining: true }, this.responseTimeout);
    this.sub = openConnection(this.url, maxDelay, { ...options.redis, lazyConnect: true }, this.responseTimeout);
    this.keys = { nodes: `${prefix}:nodes`, node: (id: string) => `${prefix}:node:${id}` };
    this.runKey = `${prefix}:run`;
  }

  private readonly keys: { nodes: string; node(id: string): string };
  /** Stands in for Redis's run id where Redis refuses INFO. */
  private readonly runKey: string;

  /** Messages buffered or in flight (not yet acknowledged by Redis). */
  get buffered(): number {
    return this.log.size;
  }

  start(node: BackplaneNode): void {
    if (this.node) throw new UsageError('SW_INVALID_STATE', 'this RedisBackplane already serves a server: give each server its own');
    this.node = node;
    this.presence = new Presence(this.pub, this.keys, this.nodeId, this.options.presenceTtl ?? 10_000, () => node.presence());
    this.reader = new StreamReader(this.sub, {
      key: this.streamKey,
      nodeId: this.nodeId,
      batch: 1000,
      block: READ_BLOCK,
      deliver: (envelope) => node.deliver(envelope),
      report: (event) => node.report(event),
      reading: (reading) => {
        this.reading = reading;
        this.linkChanged();
      },
      runKey: this.runKey,
      failed: (error) => this.connectionError(error),
      maxRetryDelay: this.options.maxReconnectDelay ?? 1000,
    });
    this.pub.on('ready', () => void this.resync());
    this.pub.on('close', () => this.lost());
    // Errors come back as 'close' and failed commands; ioredis also emits them here, and they say
    // why Redis is out of reach (refused, a wrong password…).
    const onError = (error: Error): void => this.connectionError(error);
    this.pub.on('error', onError);
    this.sub.on('error', onError);
    this.pub.connect().catch(() => undefined);
    this.sub.connect().catch(() => undefined);
    this.presence.start();
    this.reader.start();
    if (this.responseTimeout > 0) {
      const pubUnresponsive = (error: Error): void => {
        this.droppedPub = true;
        onError(error);
      };
      // (Each connection's traffic shows the other's check that Redis answers.)
      for (const [client, unresponsive, peer] of [[this.pub, pubUnresponsive, this.sub], [this.sub, onError, this.pub]] as const) {
        const check = new HealthCheck(client, this.responseTimeout, unresponsive, peer);
        check.start();
        this.healthChecks.push(check);
      }
    }
  }

  publish(envelope: Envelope): boolean {
    if (this.closed) return this.drop('closed');
    // A copy: the log keeps the bytes until Redis has them (longer during an outage, or in the
    // replay window), while the caller may reuse its Buffer once publish() returns, as the local
    // subscribers' copy was already framed.
    const entry = this.log.add((seq) => encodeHeader(this.nodeId, seq, envelope), Buffer.from(envelope.data));
    if (!entry) return this.drop();
    this.pump();
    return true;
  }

  presenceChanged(): void {
    this.presence?.changed();
  }

  subscriberCount(topic: string): Promise<number> {
    return this.counter(`t:${topic}`);
  }

  connectionCount(): Promise<number> {
    return this.counter('c');
  }

  /**
   * Sends what is buffered (waiting up to `drainTimeout` ms while Redis is reachable), leaves the
   * cluster, disconnects. What could not be sent is reported as dropped ('closed'); what was sent
   * and not acknowledged, as dropped ('unconfirmed'): other nodes may have it or not. A Redis that
   * stopped answering is waited on for at most `responseTimeout` ms per step.
   */
  async close(drainTimeout = 2000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const check of this.healthChecks) check.stop();
    clearTimeout(this.resyncTimer);
    const deadline = Date.now() + drainTimeout;
    while (this.log.size > 0 && this.ready && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    const { unsent, unconfirmed } = this.log.clear();
    if (unsent > 0) this.node?.report({ type: 'dropped', count: unsent, reason: 'closed' });
    if (unconfirmed > 0) this.node?.report({ type: 'dropped', count: unconfirmed, reason: 'unconfirmed' });
    const stepTimeout = this.responseTimeout > 0 ? this.responseTimeout : 5000;
    this.sub.disconnect();
    const [left] = await Promise.all([withinTime((this.presence?.stop() ?? Promise.resolve()).then(() => true), stepTimeout), this.reader?.stop()]);
    // A Redis that did not answer in time is not asked to QUIT.
    if (left !== true || (await withinTime(this.pub.quit().then(() => true), stepTimeout)) !== true) this.pub.disconnect();
  }

  private counter(field: string): Promise<number> {
    if (!this.presence) return Promise.reject(new UsageError('SW_INVALID_STATE', 'the backplane is not started: its server starts it'));
    // Before 'connected' (and while disconnected) the counts may miss nodes, this one included.
    if (!this.connected) return Promise.reject(new BackplaneError('not connected to Redis: no cluster-wide count'));
    const presence = this.presence;
    // This node's latest changes may not be written yet: written first.
    return presence.flush().then(() => presence.sum(field));
  }

  /** Connected (again): after a Redis restart the replay window goes out again, then the buffer. */
  private async resync(): Promise<void> {
    clearTimeout(this.resyncTimer);
    this.resyncTimer = undefined;
    const epoch = this.epoch;
    let runId: string;
    try {
      runId = await serverRunId(this.pub, this.runKey);
    } catch (error) {
      // Lost again: the next 'ready' retries.
      if (epoch !== this.epoch || this.closed || this.pub.status !== 'ready') return;
      // Redis answered, and refused: no 'ready' event will come. Said why, and asked again later,
      // less and less often while it goes on refusing. (Another failure while the status still
      // says ready is a connection closing: asked again too, in case no 'close' follows.)
      if (isReplyError(error)) this.connectionError(error as Error);
      const maxDelay = this.options.maxReconnectDelay ?? 1000;
      this.resyncDelay = Math.min(Math.max(50, this.resyncDelay * 2), maxDelay);
      this.resyncTimer = setTimeout(() => {
        this.resyncTimer = undefined;
        if (epoch === this.epoch && !this.closed) void this.resync();
      }, this.resyncDelay);
      this.resyncTimer.unref();
      return;
    }
    if (epoch !== this.epoch || this.closed) return;
    this.resyncDelay = 0;
    if (this.runId !== undefined && runId !== this.runId) this.log.replay();
    this.runId = runId;
    this.ready = true;
    this.linkChanged();
    void this.presence?.rewrite();
    this.pump();
  }

  private lost(): void {
    // The connection broke with entries in flight. When it breaks again and again with the same
    // entry the oldest among them (Redis closes the connection on it: one larger than its
    // proto-max-bulk-len, say), sending it again would block every later message for ever: after
    // MAX_BREAKS in a row it is given up, reported as rejected.
    // A connection this node dropped itself (Redis did not answer in time, or a command failed
    // without an answer) says nothing of the entry.
    const oldest = this.droppedPub ? undefined : this.log.oldestInFlight();
    this.droppedPub = false;
    if (oldest !== undefined && (oldest.breaks = (oldest.breaks ?? 0) + 1) >= MAX_BREAKS) {
      this.log.discard(oldest);
      const size = oldest.header.length + oldest.data.length;
      this.drop('rejected', new BackplaneError(`Redis closed the connection each of the ${MAX_BREAKS} times a message of ${size} bytes was sent (larger than its proto-max-bulk-len?): given up`));
    }
    this.epoch++;
    this.inFlight = 0;
    this.log.rewind();
    this.ready = false;
    this.linkChanged();
  }

  /**
   * 'connected' once both connections work (publishing, and reading from the right place);
   * 'disconnected' when one fails, with the last error ioredis gave (or one saying the connection
   * closed).
   */
  private linkChanged(): void {
    const connected = this.ready && this.reading;
    if (connected === this.connected || this.closed) return;
    this.connected = connected;
    if (connected) {
      this.lastError = undefined;
      this.reportedErrors.clear();
      this.node?.report({ type: 'connected' });
    } else {
      // A connection Redis closed without an error (it stopped, say) is said so.
      const error = this.lastError ?? new BackplaneError('the connection to Redis closed');
      this.reportedErrors.add(error.message);
      this.node?.report({ type: 'disconnected', error });
    }
  }

  /**
   * An error from either connection (or Redis refusing what the backplane needs). While the
   * backplane is not connected, a reason not yet reported in this outage (the first attempt's, or
   * a new one) is reported as 'disconnected' with it, once: attempts repeat every
   * `maxReconnectDelay` ms, with the same error or with a few that take turns (a server that is
   * not Redis fails each attempt in two ways, say). At most MAX_REASONS per outage.
   */
  private connectionError(error: Error): void {
    if (this.closed) return;
    this.lastError = error;
    if (this.connected || this.reportedErrors.has(error.message) || this.reportedErrors.size >= MAX_REASONS) return;
    this.reportedErrors.add(error.message);
    this.node?.report({ type: 'disconnected', error });
  }

  private pump(): void {
    if (!this.ready) return;
    const epoch = this.epoch;
    while (this.inFlight < MAX_IN_FLIGHT && this.log.hasUnsent()) {
      const entry = this.log.takeUnsent()!;
      this.inFlight++;
      this.pub
        .xadd(this.streamKey, 'MAXLEN', '~', this.streamLength, '*', 'h', entry.header, 'd', entry.data)
        .then(
          (id) => this.acked(epoch, entry, id ?? undefined),
          (error: unknown) => this.failed(epoch, entry, error),
        );
    }
  }

  private acked(epoch: number, entry: LogEntry, id: string | undefined): void {
    if (epoch !== this.epoch) return;
    this.inFlight--;
    this.log.ack(entry, id);
    this.pump();
  }

  private failed(epoch: number, entry: LogEntry, error: unknown): void {
    if (epoch !== this.epoch) return;
    // Only a reply from Redis is a refusal; anything else (a connection breaking, its status not
    // yet updated) is an outage: the entry stays in the log and goes again after it.
    if (this.pub.status !== 'ready') return this.lost();
    if (!isReplyError(error)) {
      // Failed without an answer on a connection still ready (a timeout of the client, say): what
      // Redis did with it is unknown, and no event would follow to resend it. The connection is
      // made again: its 'close' runs the outage path (the entry goes again, receivers drop a
      // repeat), its 'ready' the resync.
      // (A stream that no longer takes writes is closing already: its 'close' comes.)
      if (this.droppedPub || this.pub.stream?.writable === false) return;
      this.droppedPub = true;
      this.lastError = new BackplaneError(`a publish failed without an answer from Redis (${error instanceof Error ? error.message : String(error)}): the connection is made again`, { cause: error });
      this.pub.disconnect(true);
      return;
    }
    // Redis refused this command: sending it again would fail again.
    this.inFlight--;
    this.log.discard(entry);
    // (Not ioredis's error itself: it holds the command's arguments, the message included.)
    this.drop('rejected', new BackplaneError(`Redis refused the message: ${(error as Error).message}`));
    this.pump();
  }

  /**
   * Counts a message other nodes will not get: one published after close() (reported at once), or
   * one Redis refused or the full buffer could not take (reported once per turn of the event loop
   * for each reason and error: a Redis out of memory refuses every publish alike).
   */
  private drop(reason: 'buffer-full' | 'rejected' | 'closed' = 'buffer-full', error?: Error): false {
    if (reason === 'closed') {
      this.node?.report({ type: 'dropped', count: 1, reason });
      return false;
    }
    const key = `${reason}\n${error?.message ?? ''}`;
    const pending = this.drops.get(key);
    if (pending) pending.count++;
    else this.drops.set(key, error ? { type: 'dropped', count: 1, reason, error } : { type: 'dropped', count: 1, reason });
    this.dropReport ??= setImmediate(() => {
      this.dropReport = undefined;
      const events = [...this.drops.values()];
      this.drops.clear();
      for (const event of events) this.node?.report(event);
    });
    return false;
  }
}
