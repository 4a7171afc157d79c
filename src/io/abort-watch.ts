/**
 * Watching an AbortSignal with one 'abort' listener per signal, however many waits share it. An
 * application's one shutdown signal given to many clients, attempts or `nextMessage()` calls would
 * otherwise add a listener for each, and past ten Node warns of a leak that is not there.
 */

interface Watch {
  readonly callbacks: Set<() => void>;
  readonly listener: () => void;
}

const watches = new WeakMap<AbortSignal, Watch>();

/**
 * Calls `callback` once when `signal` aborts (not when it already has: check `aborted` first).
 * Returns what stops watching; call it when the wait ends another way. The signal's listener goes
 * with the last watch.
 */
export function watchAbort(signal: AbortSignal, callback: () => void): () => void {
  let watch = watches.get(signal);
  if (watch === undefined) {
    const callbacks = new Set<() => void>();
    const listener = (): void => {
      watches.delete(signal);
      callAll(callbacks);
    };
    signal.addEventListener('abort', listener, { once: true });
    watch = { callbacks, listener };
    watches.set(signal, watch);
  }
  // Its own entry, so one function given twice is called twice and released once each.
  const entry = (): void => callback();
  const current = watch;
  current.callbacks.add(entry);
  return () => {
    if (!current.callbacks.delete(entry) || current.callbacks.size > 0) return;
    signal.removeEventListener('abort', current.listener);
    if (watches.get(signal) === current) watches.delete(signal);
  };
}

function callAll(callbacks: Set<() => void>): void {
  const due = [...callbacks];
  callbacks.clear();
  for (const callback of due) {
    // One callback's exception does not keep the others from running; it still reaches the process.
    try {
      callback();
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }
}
