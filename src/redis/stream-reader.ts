import { type Redis } from 'ioredis';
import { type BackplaneEvent, type Envelope } from '../server/backplane.js';
import { decodeHeader, toEnvelope, type Header } from './envelope-codec.js';
import { isReplyError, serverRunId, waitReady } from './redis-connection.js';

export interface StreamReaderOptions {
  key: string;
  nodeId: string;
  /** Entries read per round trip. */
  batch: number;
  /** How long one XREAD blocks (ms) before it is sent again. */
  block: number;
  deliver: (envelope: Envelope) => void;
  report: (event: BackplaneEvent) => void;
  /** Reading (true: after each sync), or not (false: the connection broke). */
  reading: (reading: boolean) => void;
  /** The key that stands in for the run id where Redis refuses INFO (see serverRunId). */
  runKey?: string;
  /**
   * Redis refused a sync or read (an error reply): it is tried again, after 50 ms, then twice as
   * long after each failure in a row, up to `maxRetryDelay` ms (default 1000).
   */
  failed?: (error: Error) => void;
  maxRetryDelay?: number;
}

/** The first wait after a failure on a ready connection (ms). */
const FIRST_RETRY_DELAY = 50;

/**
 * One-entry reads in a row that the connection closed under, at the same place in the stream,
 * before the entry there is taken for one too large to read (see {@link OVERSIZED_ENTRY}).
 */
const BREAKS_ON_ONE_ENTRY = 3;

/**
 * Entries of at least this many bytes may be too large to read: Redis closes a connection whose
 * reply outgrows its output-buffer limit (`client-output-buffer-limit normal`, none by default),
 * and asking for the same entry again would fail again, for ever. Smaller ones are never skipped.
 */
const OVERSIZED_ENTRY = 16 * 1024;

/**
 * The entry at or after ARGV[1] without its payload: its id, its size in bytes, and its `h` field
 * (the header, '' if none); false when there is none.
 */
const ENTRY_OUTLINE = `local e = redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', 1)[1]
if not e then return false end
local size, header = 0, ''
for i = 1, #e[2] - 1, 2 do
  size = size + #e[2][i] + #e[2][i + 1]
  if e[2][i] == 'h' then header = e[2][i + 1] end
end
return {e[1], size, header}`;

/**
 * Reads the cluster's stream on its own (blocking) connection and delivers what other nodes
 * published, each message once and in each publisher's order: it remembers the last sequence
 * number per publishing node, skips numbers already seen (messages sent again after an outage)
 * and reports jumps as missed. After a reconnect it goes on after the last entry it read; when
 * Redis restarted (its run id changed, the stream is new) it reads the new stream from its start.
 */
export class StreamReader {
  private lastId = '$';
  private runId: string | undefined;
  /**
   * Where the stream stood when this node joined: an entry first published at or before it, from
   * a node not heard from since, is older than this node (Redis restarted with its stream kept,
   * or a node sent its replay window again) and is not delivered.
   */
  private joinedAfter: StreamId | undefined;
  private readonly lastSeq = new Map<string, number>();
  /**
   * Entries asked for per XREAD: halved after a read that failed (a reply larger than Redis lets a
   * client's output buffer hold makes it close the connection, and asking the same again would
   * fail again, for ever), doubled back after each one that succeeds, up to `options.batch`.
   */
  private batch: number;
  /** The wait before the next try after a failure on a ready connection. */
  private retryDelay = FIRST_RETRY_DELAY;
  /** Where the last one-entry reads broke (the connection closed under them), and how many in a row. */
  private brokenAt: string | undefined;
  private breaks = 0;
  /** Ends the wait before the next try. */
  private wake: (() => void) | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly client: Redis,
    private readonly options: StreamReaderOptions,
  ) {
    this.batch = options.batch;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    let synced = false;
    this.client.on('close', () => {
      synced = false;
      this.options.reading(false);
    });
    while (!this.stopped) {
      if (!(await waitReady(this.client, () => this.stopped))) return;
      /** Entries the XREAD under way asks for (0 before it is sent). */
      let asked = 0;
      try {
        if (!synced) {
          await this.sync();
          synced = true;
          this.options.reading(true);
        }
        if (this.breaks >= BREAKS_ON_ONE_ENTRY) {
          // (Once per so many breaks: a Redis that refuses the script is not asked on every turn.)
          this.breaks = 0;
          await this.skipOversized();
        }
        asked = this.batch;
        const reply = await this.client.callBuffer('XREAD', 'COUNT', this.batch, 'BLOCK', this.options.block, 'STREAMS', this.options.key, this.lastId);
        this.batch = Math.min(this.options.batch, this.batch * 2);
        this.retryDelay = FIRST_RETRY_DELAY;
        this.brokenAt = undefined;
        this.breaks = 0;
        this.handle(reply);
      } catch (error) {
        // The connection broke (or is being closed): wait for the next 'ready'.
        synced = false;
        this.batch = Math.max(1, this.batch >> 1);
        if (asked === 1 && !isReplyError(error)) this.brokeOnOneEntry();
        if (this.client.status === 'ready' && !this.stopped) {
          // Redis answered, and refused (a command the ACL denies, a key of another type…): said
          // so, and asked again later, less and less often while it goes on refusing.
          // (Other failures while the status still says ready are a connection closing: its
          // 'close' follows, and ioredis reports why.)
          // This node receives nothing meanwhile: it is not connected to the cluster (reported,
          // with the refusal as the reason), until a read succeeds again.
          if (isReplyError(error)) {
            this.options.failed?.(error as Error);
            this.options.reading(false);
          }
          const delay = this.retryDelay;
          this.retryDelay = Math.min(this.retryDelay * 2, Math.max(FIRST_RETRY_DELAY, this.options.maxRetryDelay ?? 1000));
          await new Promise<void>((resolve) => {
            const timer = setTimeout(done, delay);
            // (stop() does not wait for it.)
            this.wake = done;
            function done(): void {
              clearTimeout(timer);
              resolve();
            }
          });
          this.wake = undefined;
        }
      }
    }
  }

  /** Where to read from after (re)connecting. */
  private async sync(): Promise<void> {
    const runId = await serverRunId(this.client, this.options.runKey);
    if (this.runId === undefined) {
      // A node that joins reads what is published from now on.
      const last = firstEntryId(await this.client.call('XREVRANGE', this.options.key, '+', '-', 'COUNT', '1'));
      this.lastId = last ?? '0-0';
      // An empty stream: Redis's clock (which stream ids follow) says when "now" is.
      this.joinedAfter = last !== undefined ? parseStreamId(last) : beforeTime(await this.client.call('TIME'));
    } else if (runId !== this.runId) {
      this.lastId = '0-0';
    }
    this.runId = runId;
  }

  private brokeOnOneEntry(): void {
    if (this.brokenAt === this.lastId) this.breaks++;
    else {
      this.brokenAt = this.lastId;
      this.breaks = 1;
    }
  }

  /**
   * Reads of the one entry after {@link lastId} keep breaking the connection: if that entry is
   * large enough to be the cause, reading goes on after it, and it is reported as missed (when it
   * is one this node would have delivered). Needs EVAL; a Redis that refuses it rejects (reported
   * as a refusal, and asked again after as many breaks).
   */
  private async skipOversized(): Promise<void> {
    const dash = this.lastId.indexOf('-');
    if (dash < 0) return;
    const next = `${this.lastId.slice(0, dash)}-${BigInt(this.lastId.slice(dash + 1)) + 1n}`;
    const outline: unknown = await this.client.callBuffer('EVAL', ENTRY_OUTLINE, 1, this.options.key, next);
    if (!Array.isArray(outline) || !Buffer.isBuffer(outline[0]) || typeof outline[1] !== 'number' || outline[1] < OVERSIZED_ENTRY) return;
    this.lastId = outline[0].toString('latin1');
    this.brokenAt = undefined;
    const header = Buffer.isBuffer(outline[2]) ? decodeHeader(outline[2]) : undefined;
    if (header !== undefined && this.isNew(this.lastId, header)) this.options.report({ type: 'missed', node: header.n, count: 1 });
  }

  private handle(reply: unknown): void {
    if (!Array.isArray(reply)) return;
    for (const stream of reply) {
      const entries: unknown = Array.isArray(stream) ? stream[1] : undefined;
      if (!Array.isArray(entries)) continue;
      for (const entry of entries) {
        if (!Array.isArray(entry) || !Buffer.isBuffer(entry[0]) || !Array.isArray(entry[1])) continue;
        this.lastId = entry[0].toString('latin1');
        this.entry(this.lastId, entry[1] as unknown[]);
      }
    }
  }

  private entry(id: string, fields: unknown[]): void {
    let headerBytes: Buffer | undefined;
    let data: Buffer | undefined;
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const name = fields[i];
      const value = fields[i + 1];
      if (!Buffer.isBuffer(name) || !Buffer.isBuffer(value)) continue;
      if (name.length === 1 && name[0] === 0x68) headerBytes = value;
      else if (name.length === 1 && name[0] === 0x64) data = value;
    }
    const header = headerBytes && decodeHeader(headerBytes);
    if (header && data && this.isNew(id, header)) this.options.deliver(toEnvelope(header, data));
  }

  /**
   * Whether entry `id` is one to deliver: another node's, not seen yet, and not older than this
   * node (see {@link joinedAfter}). Its number is recorded, and a jump reported as missed.
   */
  private isNew(id: string, header: Header): boolean {
    if (header.n === this.options.nodeId) return false;
    const last = this.lastSeq.get(header.n);
    if (last === undefined && this.joinedAfter !== undefined && !isAfter(parseStreamId(header.o ?? id), this.joinedAfter)) return false;
    if (last !== undefined && header.s <= last) return false;
    if (last !== undefined && header.s > last + 1) this.options.report({ type: 'missed', node: header.n, count: header.s - last - 1 });
    this.lastSeq.set(header.n, header.s);
    return true;
  }
}

function firstEntryId(reply: unknown): string | undefined {
  if (!Array.isArray(reply) || reply.length === 0) return undefined;
  const entry: unknown = reply[0];
  if (!Array.isArray(entry)) return undefined;
  const id: unknown = entry[0];
  return typeof id === 'string' ? id : Buffer.isBuffer(id) ? id.toString('latin1') : undefined;
}

/** A stream entry id, `MS-SEQ`, as two numbers (undefined parts: 0). */
type StreamId = readonly [number, number];

function parseStreamId(id: string): StreamId {
  const dash = id.indexOf('-');
  return dash < 0 ? [Number(id) || 0, 0] : [Number(id.slice(0, dash)) || 0, Number(id.slice(dash + 1)) || 0];
}

function isAfter(id: StreamId, than: StreamId): boolean {
  return id[0] > than[0] || (id[0] === than[0] && id[1] > than[1]);
}

/** The last id before Redis's TIME reply ([seconds, microseconds]): ids from that millisecond on are after it. */
function beforeTime(reply: unknown): StreamId {
  const [seconds, micros] = Array.isArray(reply) ? reply.map((part) => Number(part)) : [];
  const ms = Number.isFinite(seconds) && Number.isFinite(micros) ? seconds! * 1000 + Math.floor(micros! / 1000) : 0;
  return [ms - 1, Number.MAX_SAFE_INTEGER];
}
