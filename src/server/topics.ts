import { type Connection } from '../io/connection.js';

/**
 * Topic → subscribed connections, for `publish()`. A publish reaches the subscribers as they were
 * when it began: application code it runs (a `filter`, a 'limit' listener) may subscribe and
 * unsubscribe, and the sets being published to are then changed as copies (copy-on-write), so
 * that no subscriber gets a message twice and no loop is endless. No copy is made otherwise.
 */
export class TopicRegistry {
  private readonly topics = new Map<string, Set<Connection<unknown>>>();
  /** The sets a publish is going through now. */
  private readonly lent = new Set<Set<Connection<unknown>>>();

  add(connection: Connection<unknown>, topic: string): boolean {
    let members = this.writable(topic);
    if (members === undefined) this.topics.set(topic, (members = new Set()));
    if (members.has(connection)) return false;
    members.add(connection);
    return true;
  }

  remove(connection: Connection<unknown>, topic: string): boolean {
    if (!this.topics.get(topic)?.has(connection)) return false;
    const members = this.writable(topic)!;
    members.delete(connection);
    if (members.size === 0) this.topics.delete(topic);
    return true;
  }

  /** Runs `publish` over the subscribers of `topic` as they are now (see the class). */
  publishTo<T>(topic: string, publish: (subscribers: ReadonlySet<Connection<unknown>>) => T): T {
    const members = this.topics.get(topic);
    if (members === undefined) return publish(EMPTY);
    const outer = this.lent.has(members);
    this.lent.add(members);
    try {
      return publish(members);
    } finally {
      if (!outer) this.lent.delete(members);
    }
  }

  /** The set of `topic` to change: a copy in its place if a publish is going through it. */
  private writable(topic: string): Set<Connection<unknown>> | undefined {
    const members = this.topics.get(topic);
    if (members === undefined || !this.lent.has(members)) return members;
    const copy = new Set(members);
    this.topics.set(topic, copy);
    return copy;
  }

  count(topic: string): number {
    return this.topics.get(topic)?.size ?? 0;
  }

  /** Subscribers per topic. */
  counts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const [topic, members] of this.topics) counts.set(topic, members.size);
    return counts;
  }

  names(): IterableIterator<string> {
    return this.topics.keys();
  }
}

const EMPTY: ReadonlySet<Connection<unknown>> = new Set();
