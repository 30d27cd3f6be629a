// An InferenceBackend that puts a scheduler (queue policy, and adaptive batching when
// max_batch_size > 1) in front of the worker pool for every model load, and runs the requests of
// microsecond models on the main thread instead when measurement says so (inline.ts).
import type { Logger } from 'pino';
import type { InferenceBackend, LoadResult, ModelSpec, RequestOptions } from '../core/backend.js';
import type { TesseraError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import type { WorkerPool } from '../workers/pool.js';
import type { InferenceObserver } from '../core/statistics.js';
import type { RunFn } from '../core/scheduling.js';
import { ModelScheduler } from './scheduler.js';
import { executionMode, InlineModel, inputElements } from './inline.js';

/**
 * Executions in flight per worker: 8 for models that do not batch, so a worker always has the next
 * request at hand when one ends (iris at 16 connections: 5.9k req/s with 2, 8.6k with 4, 9.9k with
 * 8, 9.2k with 16, one run); 1 for batching models, so requests queue, and merge, as soon as every
 * worker is busy, plus 1 spare per worker taken only by a batch of at least half max_batch_size
 * (core/scheduling.ts): under load the next batch already waits in the worker's queue when the
 * running one ends.
 */
export const SLOTS_PER_WORKER = { plain: 8, batching: 1, spareBatching: 1 };

export interface BackendOptions {
  /** Where a failed main-thread session (inline execution) is reported. */
  logger?: Logger;
}

export class BatchingBackend implements InferenceBackend {
  private readonly schedulers = new Map<string, ModelScheduler>();
  /** The inline side of each model load whose runtime can run on the main thread (inline.ts). */
  private readonly inline = new Map<string, InlineModel>();
  /** Set by close(): the error every later request gets. */
  private closedWith: (() => TesseraError) | undefined;

  constructor(
    private readonly pool: WorkerPool,
    private readonly observer?: InferenceObserver,
    private readonly options: BackendOptions = {},
  ) {}

  get size(): number {
    return this.pool.size;
  }

  /**
   * Loads a model on its workers; a model set to `execution: inline` gets its main-thread session
   * too (the load fails if it cannot), one in `auto` mode only once its run times qualify.
   */
  async load(spec: ModelSpec): Promise<LoadResult> {
    const result = await this.pool.load(spec);
    const mode = executionMode(spec);
    if (mode === 'workers') return result;
    const logger = this.options.logger;
    const inline = new InlineModel(spec, mode, this.observer, (error) =>
      logger?.warn(
        { err: error, model: spec.model, version: spec.version || undefined },
        mode === 'inline'
          ? 'the main-thread session for inline execution failed: the model (execution: inline) does not load'
          : 'the main-thread session for inline execution failed; the model runs on the workers',
      ),
    );
    if (mode === 'inline') {
      try {
        await inline.load();
      } catch (error) {
        await this.pool.unload(spec.key);
        throw error;
      }
    }
    this.inline.set(spec.key, inline);
    return result;
  }

  async unload(key: string): Promise<void> {
    this.schedulers.delete(key);
    await this.disposeInline(key);
    await this.pool.unload(key);
  }

  async retire(key: string): Promise<void> {
    // Requests still queued for this load run first (none arrive any more: its version is no
    // longer served). The pool counts only dispatched ones, and a queued request dispatched after
    // the pool unloaded the model would load it on a worker again, where nothing unloads it.
    const scheduler = this.schedulers.get(key);
    while (scheduler !== undefined && scheduler.queued > 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await this.disposeInline(key);
    await this.pool.retire(key);
    this.schedulers.delete(key);
  }

  /** Drops a load's main-thread session once its inline runs have ended. */
  private async disposeInline(key: string): Promise<void> {
    const inline = this.inline.get(key);
    if (inline === undefined) return;
    this.inline.delete(key); // no new inline run starts
    while (inline.running > 0) await new Promise((resolve) => setTimeout(resolve, 1));
    await inline.dispose();
  }

  /** Requests queued or running, over every model (the shutdown sequence waits for none). */
  busy(): number {
    let n = 0;
    for (const s of this.schedulers.values()) n += s.queued + s.running;
    for (const i of this.inline.values()) n += i.running;
    return n;
  }

  /** A model load's inline side (for status and tests); undefined when it always runs on workers. */
  inlineOf(key: string): InlineModel | undefined {
    return this.inline.get(key);
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
    const inline = this.inline.get(spec.key);
    if (inline !== undefined && inline.ready) {
      const elements = inputElements(inputs);
      if (inline.accepts(elements)) return inline.run(inputs, outputs, elements, options);
    }
    let scheduler = this.schedulers.get(spec.key);
    if (scheduler === undefined) {
      const queue = spec.queue;
      if (queue === undefined) return this.pool.infer(spec, inputs, outputs, undefined, options?.parameters); // (loader always sets a queue)
      // The request's parameters reach the runtime when its execution holds it alone. In auto mode
      // every worker execution's compute time is measured for the inline decision.
      const measure = inline?.mode === 'auto' ? inline : undefined;
      const run: RunFn =
        measure === undefined
          ? (i, o, clock, parameters) => this.pool.infer(spec, i, o, clock, parameters)
          : async (i, o, clock, parameters) => {
              const elements = inputElements(i); // before the call: the inputs' buffers move to the worker
              const out = await this.pool.infer(spec, i, o, clock, parameters);
              measure.measured(elements, clock.endedAt - clock.startedAt);
              return out;
            };
      const perWorker = queue.maxBatchSize > 1 ? SLOTS_PER_WORKER.batching : SLOTS_PER_WORKER.plain;
      const instances = spec.instances ?? this.pool.size;
      const spareSlots = queue.maxBatchSize > 1 ? instances * SLOTS_PER_WORKER.spareBatching : 0;
      scheduler = new ModelScheduler(spec, { ...queue, slots: instances * perWorker, spareSlots }, run, this.observer);
      this.schedulers.set(spec.key, scheduler);
    }
    return scheduler.submit(inputs, outputs, options);
  }
}
