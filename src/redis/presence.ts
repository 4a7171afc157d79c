import { type Redis } from 'ioredis';
import { BackplaneError } from '../errors.js';
import { type NodePresence } from '../server/backplane.js';
import { timerDelay } from '../io/timer-delay.js';

export interface PresenceKeys {
  /** Sorted set of node ids (score: last write, ms). */
  nodes: string;
  /** Hash of one node: `c` → connections, `t:TOPIC` → subscribers. It expires unless refreshed. */
  node(id: string): string;
}

/**
 * This node's presence in Redis, and cluster-wide counts. Each node keeps its counts in a hash that
 * expires after `ttl` ms and refreshes its expiry every `ttl / 3` ms, so the counts of a node that
 * crashed disappear within `ttl`. A change is written soon after it, and before a count: only the
 * fields that changed. The hash is written whole at first, after a reconnection or a failed write,
 * and when Redis turns out to have lost it.
 */
export class Presence {
  private timer: NodeJS.Timeout | undefined;
  private soon: NodeJS.Timeout | undefined;
  private stopped = false;
  /** What Redis holds once the writes sent so far are applied; undefined while unknown. */
  private written: NodePresence | undefined;
  /** A count changed since the last write was sent. */
  private dirty = true;
  /** When the last write was sent (ms). */
  private sentAt = 0;
  private latest: Promise<void> = Promise.resolve();
  private readonly refreshEvery: number;

  constructor(
    private readonly client: Redis,
    private readonly keys: PresenceKeys,
    private readonly nodeId: string,
    private readonly ttl: number,
    private readonly read: () => NodePresence,
  ) {
    this.refreshEvery = Math.max(10, Math.floor(ttl / 3));
  }

  start(): void {
    this.timer = setInterval(() => void this.write(), timerDelay(this.refreshEvery));
    this.timer.unref();
  }

  /** A count changed: written within 50 ms (changes in between are written together; a count may write them sooner). */
  changed(): void {
    this.dirty = true;
    if (this.soon !== undefined || this.stopped) return;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      if (this.dirty) void this.write();
    }, 50);
    this.soon.unref();
  }

  /** Redis may have lost this node's hash (it came back): writes it whole. */
  rewrite(): Promise<void> {
    this.written = undefined;
    return this.write();
  }

  /**
   * Brings Redis up to date before a count. Sends nothing when nothing changed and the hash was
   * refreshed lately; a write still in flight is awaited (the count's reads go after it on the same
   * connection anyway, but it may find the hash gone and write it again).
   */
  flush(): Promise<void> {
    if (this.dirty || this.written === undefined || Date.now() - this.sentAt >= this.refreshEvery) return this.write();
    return this.latest;
  }

  /** Writes what changed and refreshes the expiry (skipped while Redis is unreachable: written whole on reconnect). */
  write(): Promise<void> {
    if (this.stopped || this.client.status !== 'ready') return Promise.resolve();
    this.latest = this.send();
    return this.latest;
  }

  private async send(): Promise<void> {
    const key = this.keys.node(this.nodeId);
    const before = this.written;
    const after = this.dirty || before === undefined ? this.read() : before;
    this.dirty = false;
    this.written = after;
    this.sentAt = Date.now();
    const multi = this.client.multi();
    if (before === undefined) {
      multi.del(key).hset(key, ...fields(after, undefined));
    } else {
      // EXISTS first: a hash that expired or was flushed must be written whole again.
      multi.exists(key);
      const changed = fields(after, before);
      if (changed.length > 0) multi.hset(key, ...changed);
      const removed = [...before.topics.keys()].filter((topic) => !after.topics.has(topic)).map((topic) => `t:${topic}`);
      if (removed.length > 0) multi.hdel(key, ...removed);
    }
    multi.pexpire(key, this.ttl).zadd(this.keys.nodes, this.sentAt, this.nodeId);
    const replies = await multi.exec().catch(() => null);
    if (replies === null || replies.some(([error]) => error !== null)) {
      // Unknown what Redis holds now: the next write (the refresh at the latest) writes it whole.
      this.written = undefined;
      return;
    }
    if (before !== undefined && replies[0]?.[1] === 0) await this.rewrite();
  }

  /**
   * Sum of a field over every live node (nodes whose hash expired are forgotten). This node's share
   * is its own counts (as last sent, when nothing changed since), not Redis's copy: right even while
   * Redis has lost its hash (a FLUSHDB, an eviction), which is then written again.
   */
  async sum(field: string): Promise<number> {
    if (this.client.status !== 'ready') throw new BackplaneError('Redis is unreachable: no cluster-wide count');
    // (What was last sent is current after flush(), and costs no pass over every topic.)
    const own = this.written !== undefined && !this.dirty ? this.written : this.read();
    let total = field === 'c' ? own.connections : field.startsWith('t:') ? (own.topics.get(field.slice(2)) ?? 0) : 0;
    try {
      const ids = await this.client.zrange(this.keys.nodes, '0', '-1');
      let ownLost = !ids.includes(this.nodeId);
      if (ids.length > 0) {
        const pipeline = this.client.pipeline();
        // `c` is in every live node's hash; the field asked for is missing when the node has none
        // of it (a topic it has no subscribers of): that node counts 0, it is not gone.
        for (const id of ids) pipeline.hmget(this.keys.node(id), 'c', field);
        const replies = (await pipeline.exec()) ?? [];
        const gone: string[] = [];
        replies.forEach(([error, values], index) => {
          if (error) throw error;
          const id = ids[index]!;
          const [connections, value] = values as [string | null, string | null];
          if (id === this.nodeId) ownLost = connections === null;
          else if (connections === null) gone.push(id);
          else total += Number(value ?? 0);
        });
        if (gone.length > 0) await this.client.zrem(this.keys.nodes, ...gone);
      }
      if (ownLost) void this.rewrite();
      return total;
    } catch (error) {
      throw new BackplaneError('the cluster-wide count failed', { cause: error });
    }
  }

  /** Leaves at once (a clean shutdown does not wait for the expiry). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.soon);
    if (this.client.status !== 'ready') return;
    await this.client
      .multi()
      .del(this.keys.node(this.nodeId))
      .zrem(this.keys.nodes, this.nodeId)
      .exec()
      .catch(() => undefined);
  }
}

/** The hash fields of `after` (all of them, or those that differ from `before`), as HSET arguments. */
function fields(after: NodePresence, before: NodePresence | undefined): (string | number)[] {
  const list: (string | number)[] = [];
  if (after.connections !== before?.connections) list.push('c', after.connections);
  for (const [topic, count] of after.topics) if (before?.topics.get(topic) !== count) list.push(`t:${topic}`, count);
  return list;
}
