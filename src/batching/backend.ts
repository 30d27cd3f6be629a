// An InferenceBackend that puts a scheduler (queue policy, and adaptive batching when
// max_batch_size > 1) in front of the worker pool for every model load.
import type { InferenceBackend } from '../core/loader.js';
import type { Tensor } from '../core/tensor.js';
import type { ModelSpec } from '../runtimes/runtime.js';
import type { WorkerPool } from '../workers/pool.js';
import type { InferenceObserver } from '../core/statistics.js';
import { AdaptiveBatcher, type RequestOptions, type RunFn } from './batcher.js';

/**
 * Executions in flight per worker: 8 for models that do not batch, so a worker always has the next
 * request at hand when one ends (iris at 16 connections: 5.9k req/s with 2, 8.6k with 4, 9.9k with
 * 8, 9.2k with 16, one run); 1 for batching models, so requests queue, and merge, as soon as every
 * worker is busy.
 */
export const SLOTS_PER_WORKER = { plain: 8, batching: 1 };

export class BatchingBackend implements InferenceBackend {
  private readonly batchers = new Map<string, AdaptiveBatcher>();

  constructor(
    private readonly pool: WorkerPool,
    private readonly observer?: InferenceObserver,
  ) {}

  get size(): number {
    return this.pool.size;
  }

  load(spec: ModelSpec): ReturnType<InferenceBackend['load']> {
    return this.pool.load(spec);
  }

  async unload(key: string): Promise<void> {
    this.batchers.delete(key);
    await this.pool.unload(key);
  }

  async retire(key: string): Promise<void> {
    await this.pool.retire(key);
    this.batchers.delete(key);
  }

  /** Requests waiting in each model load's queue (for the pending-requests metric). */
  pending(): { model: string; version: string; queued: number }[] {
    return [...this.batchers.values()].map((b) => ({ model: b.spec.model, version: b.spec.version, queued: b.queued }));
  }

  /** The batcher of a model load, if it batches (for statistics and tests). */
  batcher(key: string): AdaptiveBatcher | undefined {
    return this.batchers.get(key);
  }

  infer(spec: ModelSpec, inputs: Tensor[], outputs: string[], options?: RequestOptions): Promise<Tensor[]> {
    const queue = spec.queue;
    if (queue === undefined) return this.pool.infer(spec, inputs, outputs); // (loader always sets a queue)
    let batcher = this.batchers.get(spec.key);
    if (batcher === undefined) {
      const run: RunFn = (s, i, o, clock) => this.pool.infer(s, i, o, clock);
      const perWorker = queue.maxBatchSize > 1 ? SLOTS_PER_WORKER.batching : SLOTS_PER_WORKER.plain;
      const instances = spec.instances ?? this.pool.size;
      batcher = new AdaptiveBatcher(spec, { ...queue, slots: instances * perWorker }, run, this.observer);
      this.batchers.set(spec.key, batcher);
    }
    return batcher.submit(inputs, outputs, options);
  }
}
