import { type Connection } from '../io/connection.js';

/** The server's connected clients: count, iteration, lookup by id. */
export class ClientRegistry<Data = unknown> implements Iterable<Connection<Data>> {
  private readonly byId = new Map<string, Connection<Data>>();

  get size(): number {
    return this.byId.size;
  }

  get(id: string): Connection<Data> | undefined {
    return this.byId.get(id);
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  [Symbol.iterator](): IterableIterator<Connection<Data>> {
    return this.byId.values();
  }

  /** @internal */
  add(connection: Connection<Data>): void {
    this.byId.set(connection.id, connection);
  }

  /** @internal */
  delete(connection: Connection<Data>): void {
    this.byId.delete(connection.id);
  }
}
