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
 * This node's presence in Redis, and cluster-wide counts. Each node writes its counts to a hash
 * that expires after `ttl` ms and rewrites it every `ttl / 3` ms (and soon after a change), so the
 * counts of a node that crashed disappear within `ttl`.
 */
export class Presence {
  private timer: NodeJS.Timeout | undefined;
  private soon: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly client: Redis,
    private readonly keys: PresenceKeys,
    private readonly nodeId: string,
    private readonly ttl: number,
    private readonly read: () => NodePresence,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.write(), timerDelay(Math.max(10, Math.floor(this.ttl / 3))));
    this.timer.unref();
  }

  /** A count changed: written within 50 ms (changes in between are written together). */
  changed(): void {
    if (this.soon !== undefined || this.stopped) return;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      void this.write();
    }, 50);
    this.soon.unref();
  }

  /** Writes the whole presence of this node (skipped while Redis is unreachable: written on reconnect). */
  async write(): Promise<void> {
    if (this.stopped || this.client.status !== 'ready') return;
    const presence = this.read();
    const fields: (string | number)[] = ['c', presence.connections];
    for (const [topic, count] of presence.topics) fields.push(`t:${topic}`, count);
    const key = this.keys.node(this.nodeId);
    await this.client
      .multi()
      .del(key)
      .hset(key, ...fields)
      .pexpire(key, this.ttl)
      .zadd(this.keys.nodes, Date.now(), this.nodeId)
      .exec()
      .catch(() => undefined);
  }

  /** Sum of a field over every live node (nodes whose hash expired are forgotten). */
  async sum(field: string): Promise<number> {
    if (this.client.status !== 'ready') throw new BackplaneError('Redis is unreachable: no cluster-wide count');
    try {
      const ids = await this.client.zrange(this.keys.nodes, '0', '-1');
      if (ids.length === 0) return 0;
      const pipeline = this.client.pipeline();
      // `c` is in every live node's hash; the field asked for is missing when the node has none
      // of it (a topic it has no subscribers of): that node counts 0, it is not gone.
      for (const id of ids) pipeline.hmget(this.keys.node(id), 'c', field);
      const replies = (await pipeline.exec()) ?? [];
      let total = 0;
      const gone: string[] = [];
      replies.forEach(([error, values], index) => {
        if (error) throw error;
        const [connections, value] = values as [string | null, string | null];
        if (connections === null) gone.push(ids[index]!);
        else total += Number(value ?? 0);
      });
      if (gone.length > 0) await this.client.zrem(this.keys.nodes, ...gone);
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
