// An InferenceBackend that puts a scheduler (queue policy, and adaptive batching when
// max_batch_size > 1) in front of the worker pool for every model load.
import type { InferenceBackend, ModelSpec, RequestOptions } from '../core/backend.js';
import type { TesseraError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import type { Parameters } from '../core/types.js';
import type { WorkerPool } from '../workers/pool.js';
import type { InferenceObserver } from '../core/statistics.js';
import type { RequestOptions as SchedulingOptions, RunFn } from '../core/scheduling.js';
import { ModelScheduler } from './scheduler.js';

/**
 * Executions in flight per worker: 8 for models that do not batch, so a worker always has the next
 * request at hand when one ends (iris at 16 connections: 5.9k req/s with 2, 8.6k with 4, 9.9k with
 * 8, 9.2k with 16, one run); 1 for batching models, so requests queue, and merge, as soon as every
 * worker is busy.
 */
export const SLOTS_PER_WORKER = { plain: 8, batching: 1 };

export class BatchingBackend implements InferenceBackend {
  private readonly schedulers = new Map<string, ModelScheduler>();
  /**
   * A request's parameters by its inputs array: an execution of one request runs with that array,
   * so its runtime gets the request's parameters; a merged batch (a new array) gets none.
   */
  private readonly parameters = new WeakMap<Tensor[], Parameters>();
  /** Set by close(): the error every later request gets. */
  private closedWith: (() => TesseraError) | undefined;

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
    this.schedulers.delete(key);
    await this.pool.unload(key);
  }

  async retire(key: string): Promise<void> {
    // Requests still queued for this load run first (none arrive any more: its version is no
    // longer served). The pool counts only dispatched ones, and a queued request dispatched after
    // the pool unloaded the model would load it on a worker again, where nothing unloads it.
    const scheduler = this.schedulers.get(key);
    while (scheduler !== undefined && scheduler.queued > 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await this.pool.retire(key);
    this.schedulers.delete(key);
  }

  /** Requests queued or running, over every model (the shutdown sequence waits for none). */
  busy(): number {
    let n = 0;
    for (const s of this.schedulers.values()) n += s.queued + s.running;
    return n;
  }

  /**
   * The server is stopping and its grace is over: every queued request, and every later one, gets
   * `error` (503 SHUTTING_DOWN); running executions finish.
   */
  close(error: () => TesseraError): void {
    this.closedWith = error;
    for (const s of this.schedulers.values()) s.close(error);
  }

  /** Requests waiting in each model load's queue (for the pending-requests metric). */
  pending(): { model: string; version: string; queued: number }[] {
    return [...this.schedulers.values()].map((s) => ({ model: s.identity.model, version: s.identity.version, queued: s.queued }));
  }

  /** The scheduler of a model load, once it has served a request (for statistics and tests). */
  scheduler(key: string): ModelScheduler | undefined {
    return this.schedulers.get(key);
  }

  infer(spec: ModelSpec, inputs: Tensor[], outputs: string[], options?: RequestOptions): Promise<Tensor[]> {
    if (this.closedWith !== undefined) return Promise.reject(this.closedWith());
    if (options?.parameters !== undefined) this.parameters.set(inputs, options.parameters);
    const queue = spec.queue;
    if (queue === undefined) return this.pool.infer(spec, inputs, outputs, undefined, options?.parameters); // (loader always sets a queue)
    let scheduler = this.schedulers.get(spec.key);
    if (scheduler === undefined) {
      const run: RunFn = (i, o, clock) => this.pool.infer(spec, i, o, clock, this.parameters.get(i));
      const perWorker = queue.maxBatchSize > 1 ? SLOTS_PER_WORKER.batching : SLOTS_PER_WORKER.plain;
      const instances = spec.instances ?? this.pool.size;
      scheduler = new ModelScheduler(spec, { ...queue, slots: instances * perWorker }, run, this.observer);
      this.schedulers.set(spec.key, scheduler);
    }
    return scheduler.submit(inputs, outputs, schedulingOptions(options));
  }
}

/**
 * The scheduler's options from the backend's: the backend's deadline is in ms since the epoch (the
 * request context's clock), the scheduler's on the monotonic performance.now() clock.
 */
function schedulingOptions(options: RequestOptions | undefined): SchedulingOptions | undefined {
  if (options?.deadline === undefined) return options;
  return { ...options, deadline: performance.now() + (options.deadline - Date.now()) };
}
