import { UsageError } from '../errors.js';
import { type Backplane, type BackplaneNode, type Envelope } from './backplane.js';

/**
 * Servers in one process that share topics, broadcasts and `sendTo`: give each the same bus.
 * @example
 * const bus = new MemoryBus();
 * const a = new WebSocketServer({ backplane: new MemoryBackplane(bus) });
 * const b = new WebSocketServer({ backplane: new MemoryBackplane(bus) });
 */
export class MemoryBus {
  /** @internal */
  readonly members = new Set<BackplaneNode>();
}

/**
 * The default backplane: in memory, synchronous, for servers of one process. Without a shared
 * {@link MemoryBus} a server is a cluster of one (publishes reach its own clients only).
 */
export class MemoryBackplane implements Backplane {
  private node: BackplaneNode | undefined;
  private closed = false;

  constructor(private readonly bus: MemoryBus = new MemoryBus()) {}

  start(node: BackplaneNode): void {
    if (this.node) throw new UsageError('SW_INVALID_STATE', 'this MemoryBackplane already serves a server: give each server its own (sharing one MemoryBus)');
    this.node = node;
    this.bus.members.add(node);
  }

  /**
   * Delivers to every other server on the bus at once; false when there is none. Once closed (the
   * server left the cluster), nothing goes to the others: reported as dropped (closed) if any.
   */
  publish(envelope: Envelope): boolean {
    if (this.closed) {
      if (this.bus.members.size !== 0) this.node?.report({ type: 'dropped', count: 1, reason: 'closed' });
      return false;
    }
    let others = false;
    for (const member of this.bus.members) {
      if (member === this.node) continue;
      others = true;
      member.deliver(envelope);
    }
    return others;
  }

  presenceChanged(): void {}

  async subscriberCount(topic: string): Promise<number> {
    let count = 0;
    for (const member of this.bus.members) count += member.presence().topics.get(topic) ?? 0;
    return count;
  }

  async connectionCount(): Promise<number> {
    let count = 0;
    for (const member of this.bus.members) count += member.presence().connections;
    return count;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.node) this.bus.members.delete(this.node);
  }
}
