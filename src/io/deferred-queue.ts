/**
 * Keeps actions in order behind an asynchronous job (a large message being compressed or inflated
 * in the thread pool): while a job is in flight, later actions wait here and then run in the
 * order they came. Idle connections never allocate one: `items` is null until a job starts.
 */
export class DeferredQueue {
  private items: Array<{ action: () => void; bytes: number }> | null = null;
  /** Bytes carried by the waiting actions (counted in bufferedAmount). */
  bytes = 0;

  /** True while an asynchronous job is in flight. */
  get active(): boolean {
    return this.items !== null;
  }

  /** An asynchronous job starts: what follows must wait for it. */
  begin(): void {
    this.items ??= [];
  }

  push(action: () => void, bytes = 0): void {
    this.items!.push({ action, bytes });
    this.bytes += bytes;
  }

  /**
   * The job finished: runs the waiting actions in order until one of them starts another job,
   * which keeps the rest waiting behind it.
   */
  drain(): void {
    const items = this.items;
    this.items = null;
    if (items === null) return;
    // What an action throws (an application's handler) stops none of the others: rethrown after them.
    let failure: { error: unknown } | undefined;
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      this.bytes -= item.bytes;
      try {
        item.action();
      } catch (error) {
        failure ??= { error };
      }
      if (this.items !== null) {
        this.items = items.slice(i + 1).concat(this.items);
        break;
      }
    }
    if (failure !== undefined) throw failure.error;
  }
}
