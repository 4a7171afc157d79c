/**
 * The backplane: how the servers of one cluster (processes on one machine, machines behind a load
 * balancer) share `publish(topic)`, `broadcast` and `sendTo(ids)`. A server hands every such
 * message to its backplane, then delivers it to its own clients; the backplane carries it to the
 * other nodes, each of which frames it once and fans it out to its own clients.
 *
 * The default is {@link MemoryBackplane} (one process, no set-up). `sockwave/redis` has a Redis one.
 */

/** A message crossing the backplane. `data` is the message payload (not framed). */
export type Envelope =
  | { kind: 'topic'; topic: string; data: Buffer; binary: boolean; except?: readonly string[] | undefined }
  | { kind: 'broadcast'; data: Buffer; binary: boolean; except?: readonly string[] | undefined }
  | { kind: 'direct'; ids: readonly string[]; data: Buffer; binary: boolean };

/** What one node has: its open connections and its subscribers per topic. */
export interface NodePresence {
  connections: number;
  topics: ReadonlyMap<string, number>;
}

/** Something the backplane wants the server's user to know (the server's 'backplane' event). */
export type BackplaneEvent =
  /** Connected to the backplane again (after start or an outage); buffered messages are being sent. */
  | { type: 'connected' }
  /**
   * The backplane is unreachable; publishes are buffered (up to the bound) meanwhile. Reported
   * when it becomes so, and again while it stays so when the reason (`error`, if the backplane
   * knows one) changes: a first connection that fails is reported too. RedisBackplane always
   * gives the reason.
   */
  | { type: 'disconnected'; error?: Error | undefined }
  /**
   * Publishes of this node that will never reach the other nodes: the buffer was full while the
   * backplane was unreachable or too slow (`buffer-full`), or the backplane was closed with
   * messages still buffered (`closed`), or the backplane refused the message (`rejected`: Redis
   * answered it with an error, or closed the connection each time it was sent; `error` says which,
   * and drops with different errors are reported apart).
   * `unconfirmed`: the backplane was closed after handing them on and before it confirmed them;
   * other nodes may or may not get them. Local receivers got them all.
   */
  | { type: 'dropped'; count: number; reason: 'buffer-full' | 'closed' | 'rejected' | 'unconfirmed'; error?: Error | undefined }
  /**
   * Messages of another node that this node will never receive: its sequence numbers jumped (the
   * messages were lost inside the backplane, e.g. a restart of Redis beyond the replay window).
   */
  | { type: 'missed'; node: string; count: number };

/** The server's side of the backplane: what a backplane calls. */
export interface BackplaneNode {
  /** A message published on another node: deliver it to this node's clients. */
  deliver(envelope: Envelope): void;
  /** This node's current presence (read when the backplane publishes presence). */
  presence(): NodePresence;
  /** Reports an event to the server's user. */
  report(event: BackplaneEvent): void;
}

/** A transport between the nodes of a cluster. One instance per server. */
export interface Backplane {
  /** Called once by the server that owns it. Must not throw for an unreachable backplane: it buffers and reconnects. */
  start(node: BackplaneNode): void;
  /** Sends a message to every other node. Returns false when no other node will get it (dropped and reported, or a cluster of one). */
  publish(envelope: Envelope): boolean;
  /** This node's presence changed (a connection opened or closed, a subscription changed). */
  presenceChanged(): void;
  /** Subscribers of `topic` on every live node. Rejects when the backplane is unreachable. */
  subscriberCount(topic: string): Promise<number>;
  /** Open connections on every live node. Rejects when the backplane is unreachable. */
  connectionCount(): Promise<number>;
  /** Leaves the cluster (its presence disappears at once) and releases the transport. */
  close(): Promise<void>;
}
