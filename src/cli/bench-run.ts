import { connect } from '../client/connect.js';
import { type Connection } from '../io/connection.js';

/** What one run of the load generator is asked to do. */
export interface LoadPlan {
  url: string;
  mode: 'echo' | 'broadcast';
  connections: number;
  /** Message size in bytes. */
  size: number;
  binary: boolean;
  durationMs: number;
  deflate: boolean;
  /** TLS options for wss:// (a CA to trust, or no certificate check). */
  tls?: { ca?: Buffer; rejectUnauthorized?: boolean } | undefined;
  /** Called about once a second while the run lasts. */
  onProgress?: (progress: LoadProgress) => void;
}

export interface LoadProgress {
  elapsedMs: number;
  sent: number;
  received: number;
  /** The median round trip so far, in ms. */
  median: number | undefined;
}

export interface LoadResult {
  elapsedMs: number;
  connections: number;
  sent: number;
  received: number;
  bytesSent: number;
  bytesReceived: number;
  /** Round trips of the messages that came back to their sender, in ms, sorted. */
  latencies: Float64Array;
  /** Connections that closed or failed during the run. */
  errors: number;
}

/**
 * Runs a closed loop on each connection: send one message, wait until it comes back (the echo,
 * or in broadcast mode the sender's own message relayed to it), record the round trip, send the
 * next. In broadcast mode every connection also receives everyone else's messages.
 */
export async function runLoad(plan: LoadPlan): Promise<LoadResult> {
  const opened = await Promise.allSettled(
    Array.from({ length: plan.connections }, () => connect(plan.url, { perMessageDeflate: plan.deflate, connectTimeout: 10_000, tls: plan.tls })),
  );
  const connections = opened.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
  const failed = opened.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  if (failed) {
    // All or nothing: a run with fewer connections than asked for would mislead.
    await Promise.all(connections.map((connection) => closeConnection(connection)));
    throw failed.reason;
  }
  const latencies: number[] = [];
  let sent = 0;
  let received = 0;
  let bytesSent = 0;
  let bytesReceived = 0;
  let errors = 0;
  let running = true;
  let inFlight = 0;
  let settle: (() => void) | undefined;
  const started = performance.now();

  const loops = connections.map((connection, index) => {
    const tag = `#${index}:`;
    const padding = 'x'.repeat(Math.max(0, plan.size));
    let sentAt = 0;
    let seq = 0;
    const next = (): void => {
      if (!running || connection.status !== 'open') {
        if (inFlight === 0) settle?.();
        return;
      }
      const head = `${tag}${seq++}:`;
      const text = plan.size > head.length ? head + padding.slice(head.length) : head;
      sentAt = performance.now();
      inFlight++;
      connection.send(plan.binary ? Buffer.from(text, 'latin1') : text);
      sent++;
      bytesSent += text.length;
    };
    const own = (message: string | Buffer): boolean =>
      typeof message === 'string' ? message.startsWith(tag) : message.toString('latin1', 0, tag.length) === tag;
    connection.on('message', (message: string | Buffer) => {
      received++;
      bytesReceived += message.length;
      if (!own(message)) return;
      latencies.push(performance.now() - sentAt);
      inFlight--;
      next();
    });
    connection.on('close', () => {
      if (running) errors++;
      if (sentAt !== 0 && inFlight > 0 && running) inFlight--;
      if (inFlight === 0) settle?.();
    });
    connection.on('error', () => {});
    return next;
  });
  for (const start of loops) start();

  const progress = setInterval(() => {
    plan.onProgress?.({ elapsedMs: performance.now() - started, sent, received, median: median(latencies) });
  }, 1000);
  await new Promise((resolve) => setTimeout(resolve, plan.durationMs));
  running = false;
  clearInterval(progress);
  const elapsedMs = performance.now() - started;
  // Let the messages in flight come back (bounded), then close everyone normally.
  if (inFlight > 0) {
    await new Promise<void>((resolve) => {
      settle = resolve;
      setTimeout(resolve, 2000);
    });
  }
  await Promise.all(connections.map((connection) => closeConnection(connection)));
  const sorted = Float64Array.from(latencies).sort();
  return { elapsedMs, connections: connections.length, sent, received, bytesSent, bytesReceived, latencies: sorted, errors };
}

function closeConnection(connection: Connection): Promise<void> {
  if (connection.status === 'closed') return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      connection.terminate();
      resolve();
    }, 2000);
    connection.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    connection.close(1000, 'bench done');
  });
}

/** The value below which `fraction` of the sorted samples fall. */
export function percentile(sorted: ArrayLike<number>, fraction: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[index];
}

function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  // A recent window keeps this cheap while the run lasts.
  const recent = values.slice(-2000).sort((a, b) => a - b);
  return recent[Math.floor(recent.length / 2)];
}
