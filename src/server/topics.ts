import { type Connection } from '../io/connection.js';

/** Topic → subscribed connections, for `publish()`. */
export class TopicRegistry {
  private readonly topics = new Map<string, Set<Connection<unknown>>>();

  add(connection: Connection<unknown>, topic: string): boolean {
    let members = this.topics.get(topic);
    if (members === undefined) this.topics.set(topic, (members = new Set()));
    if (members.has(connection)) return false;
    members.add(connection);
    return true;
  }

  remove(connection: Connection<unknown>, topic: string): boolean {
    const members = this.topics.get(topic);
    if (!members?.delete(connection)) return false;
    if (members.size === 0) this.topics.delete(topic);
    return true;
  }

  subscribers(topic: string): ReadonlySet<Connection<unknown>> {
    return this.topics.get(topic) ?? EMPTY;
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
