import { type Connection } from '../io/connection.js';
import { serialOf } from '../io/connection-id.js';

/** The server's connected clients: count, iteration, lookup by id. */
export class ClientRegistry<Data = unknown> implements Iterable<Connection<Data>> {
  /** By serial number (the id's counter: a small integer, where the id is a string made on demand). */
  private readonly bySerial = new Map<number, Connection<Data>>();

  get size(): number {
    return this.bySerial.size;
  }

  get(id: string): Connection<Data> | undefined {
    const serial = serialOf(id);
    return serial === undefined ? undefined : this.bySerial.get(serial);
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  [Symbol.iterator](): IterableIterator<Connection<Data>> {
    return this.bySerial.values();
  }

  /** @internal */
  add(connection: Connection<Data>): void {
    this.bySerial.set(connection.serial, connection);
  }

  /** @internal */
  delete(connection: Connection<Data>): void {
    this.bySerial.delete(connection.serial);
  }
}
