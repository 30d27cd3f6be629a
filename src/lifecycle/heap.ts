// The V8 heap's growing factor. By default V8 adapts it between 1.1 and 4 from the GC and
// allocation speeds it measures: under steady traffic the server's main heap then keeps growing
// for ten minutes and more, to ~4x what survives a collection, while nothing leaks (the soak of
// 2026-12-01: committed heap 98 -> 120 MiB, the heap used after collections flat at 26-48 MiB, the
// rest of the RSS flat). A fixed factor keeps memory at a size set by the live data, so a memory
// limit can be chosen once; collections come more often, which the soak and the heap-growth
// benchmark measure (benchmarks/heap-growth.mjs).
import { setFlagsFromString } from 'node:v8';

/**
 * Sets V8's heap growing factor to 1 + percent/100 for the whole process (V8 flags are per process:
 * the worker threads' heaps too); 0 is V8's adaptive factor. V8 reads this flag each time it
 * computes a heap limit, so setting it after start-up takes effect from the next collection.
 */
export function setHeapGrowingPercent(percent: number): void {
  setFlagsFromString(`--heap-growing-percent=${percent}`);
}
