/** The state behind one event handler attribute: its value and the one listener that calls it. */
interface HandlerSlot {
  value: object;
  listener: (event: Event) => unknown;
}

/**
 * HTML's event handler IDL attributes (`onopen`, `onmessage`...) over `EventTarget`: one
 * listener per type, added when a handler is first set (so it keeps its place among the listeners
 * when replaced) and removed when set to null.
 */
export class EventHandlerTarget extends EventTarget {
  readonly #handlers = new Map<string, HandlerSlot>();

  protected getEventHandler(type: string): unknown {
    return this.#handlers.get(type)?.value ?? null;
  }

  protected setEventHandler(type: string, handler: unknown): void {
    // [LegacyTreatNonObjectAsNull]: anything but an object (functions included) is null.
    const value = (typeof handler === 'object' || typeof handler === 'function') && handler !== null ? handler : null;
    const slot = this.#handlers.get(type);
    if (value === null) {
      if (slot === undefined) return;
      this.#handlers.delete(type);
      super.removeEventListener(type, slot.listener);
      return;
    }
    if (slot !== undefined) {
      slot.value = value;
      return;
    }
    const created: HandlerSlot = {
      value,
      listener: (event: Event): unknown => {
        const current = created.value;
        // A non-callable object is kept as the attribute's value, and does nothing. The handler's
        // result is returned: an async handler's rejection is then reported by EventTarget as a
        // listener's (an uncaught exception), not left as an unhandled rejection.
        return typeof current === 'function' ? (current as (this: EventTarget, event: Event) => unknown).call(this, event) : undefined;
      },
    };
    this.#handlers.set(type, created);
    super.addEventListener(type, created.listener);
  }
}
