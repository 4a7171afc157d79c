import { type Envelope } from './backplane.js';
import { type Connection } from '../io/connection.js';
import { FanOut, fanOutTo } from './fan-out.js';
import { type ClientRegistry } from './registry.js';
import { type TopicRegistry } from './topics.js';

/**
 * A message published on another node, delivered to this node's clients: framed once (compressed
 * once per compression key) and the same bytes written to each receiver, as for a local publish.
 */
export function deliverEnvelope(envelope: Envelope, clients: ClientRegistry<unknown>, topics: TopicRegistry): number {
  const message = new FanOut('publish', envelope.data, { binary: envelope.binary });
  if (envelope.kind === 'topic') return topics.publishTo(envelope.topic, (subscribers) => fanOutTo(subscribers, message, { except: envelope.except }) as number);
  if (envelope.kind === 'broadcast') return fanOutTo(clients, message, { except: envelope.except }) as number;
  let count = 0;
  for (const id of envelope.ids) {
    const connection = clients.get(id);
    if (connection && message.deliver(connection)) count++;
  }
  return count;
}

/** The ids of `except` (which may hold connections), to cross the backplane. */
export function exceptIds(except: readonly (Connection<unknown> | string)[]): string[] {
  return except.map((item) => (typeof item === 'string' ? item : item.id));
}
