import { Slab } from '../../src/io/frame-slab.js';

const slabs = new WeakMap<Buffer, Slab>();

/** The slab record of `memory`, one per buffer as frame-slab.ts keeps them (made the first time it is asked for). */
export function slabOf(memory: Buffer): Slab {
  let slab = slabs.get(memory);
  if (slab === undefined) slabs.set(memory, (slab = new Slab(memory)));
  return slab;
}
