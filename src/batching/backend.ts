// An InferenceBackend that puts an adaptive batcher in front of the worker pool for every model
// load whose settings enable batching (max_batch_size > 1); other models go straight through.
import type { InferenceBackend } from '../core/loader.js';
import type { Tensor } from '../core/tensor.js';
import type { ModelSpec } from '../runtimes/runtime.js';
import type { WorkerPool } from '../workers/pool.js';
import { AdaptiveBatcher } from './batcher.js';

export class BatchingBackend implements InferenceBackend {
  private readonly batchers = new Map<string, AdaptiveBatcher>();

  constructor(private readonly pool: WorkerPool) {}

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

  /** The batcher of a model load, if it batches (for statistics and tests). */
  batcher(key: string): AdaptiveBatcher | undefined {
    return this.batchers.get(key);
  }

  infer(spec: ModelSpec, inputs: Tensor[], outputs: string[]): Promise<Tensor[]> {
    const batch = spec.batch;
    if (batch === undefined || batch.maxBatchSize <= 1) return this.pool.infer(spec, inputs, outputs);
    let batcher = this.batchers.get(spec.key);
    if (batcher === undefined) {
      const run = (s: ModelSpec, i: Tensor[], o: string[]): Promise<Tensor[]> => this.pool.infer(s, i, o);
      batcher = new AdaptiveBatcher(spec, { ...batch, slots: this.pool.size }, run, spec.label);
      this.batchers.set(spec.key, batcher);
    }
    return batcher.submit(inputs, outputs);
  }
}
