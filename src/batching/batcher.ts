// The per-model scheduler and adaptive batcher: one per model load.
//
// Queue policy (every model):
// - At most `slots` executions of the model run at once; other requests wait in this queue, ordered
//   by priority level (1 is the highest; a request without one gets the default level), then arrival.
// - A full queue (max_queue_size) refuses at once with 503/UNAVAILABLE; a request that waited past
//   its timeout (the `timeout` request parameter in µs, else the model's queue_timeout) leaves with
//   503/UNAVAILABLE "timed out in queue"; a request whose client went away leaves without running.
//   Once dispatched, a request always runs to the end (stopping a worker mid-run is not safe).
//
// Batching (max_batch_size > 1):
// - No idle wait. When a slot is free, whatever is queued goes at once (up to max_batch_size rows).
//   A lone request never waits for company.
// - When a slot frees, the queue head and every queued request compatible with it (same input names,
//   datatypes and dims but dim 0) are merged, up to max_batch_size rows. Shapes are never mixed.
// - max_batch_time bounds the wait for a slot: a request queued longer is dispatched even though no
//   slot is free (it then waits in a worker's queue instead of this one).
// - A request with more rows than max_batch_size, or whose inputs disagree on dim 0, runs alone.
// - preferred_batch_size (Triton's): when the merged group's rows are not a preferred size, it is
//   cut back to the largest preferred size that a prefix of it (in queue order) adds up to; the
//   rest stays queued, first in line. If no prefix adds up to one, the whole group goes. It never
//   makes a request wait when a slot is free.
//
// Statistics: each request's time queued and each execution's compute times (see core/statistics)
// are measured here and reported to the observer.
import { TesseraError } from '../core/errors.js';
import type { ExecutionTiming, InferenceObserver, RequestTrace } from '../core/statistics.js';
import type { Tensor } from '../core/tensor.js';
import type { ModelSpec } from '../runtimes/runtime.js';
import { epochMs, type RunClock } from '../workers/messages.js';
import { batchRows, batchSignature, mergeInputs, splitOutputs } from './merge.js';

export interface QueuePolicy {
  /** Executions of this model that may run at once. */
  slots: number;
  /** Most rows (dim 0) in one execution; 1 or less disables merging. */
  maxBatchSize: number;
  /** Longest a queued request waits for a slot before it is dispatched anyway, in ms (batching only). */
  maxBatchTimeMs: number;
  /** Batch sizes (rows, ascending) to cut a batch to when more rows are queued; empty: none. */
  preferredBatchSizes: number[];
  /** Most requests waiting; 0 means no limit. */
  maxQueueSize: number;
  /** Default longest wait in the queue, in ms; 0 means none. */
  queueTimeoutMs: number;
  /** Priority levels: 1 (highest) .. priorityLevels. */
  priorityLevels: number;
  /** Level of requests that name none. */
  defaultPriority: number;
}

/** Per-request scheduling options, from request parameters and the connection. */
export interface RequestOptions {
  priority?: number;
  timeoutMs?: number;
  /**
   * The signal that the client went away, made on demand: only a request that has to queue needs
   * one, and most never queue (creating it and its listeners costs on every request).
   */
  cancellation?: () => AbortSignal;
  /** Receives the request's time queued and its execution's compute times. */
  trace?: RequestTrace;
}

export type RunFn = (spec: ModelSpec, inputs: Tensor[], outputs: string[], clock: RunClock) => Promise<Tensor[]>;

/** A request as an execution sees it. */
type Member = Pick<Pending, 'inputs' | 'outputs' | 'rows' | 'trace'>;

interface Pending {
  inputs: Tensor[];
  outputs: string[];
  rows: number;
  trace: RequestTrace | undefined;
  signature: string;
  priority: number;
  queuedAt: number;
  resolve: (outputs: Tensor[]) => void;
  reject: (error: unknown) => void;
  cleanup: () => void;
}

export interface BatchRecord {
  requests: number;
  rows: number;
}

export class AdaptiveBatcher {
  /** Waiting requests, sorted by priority then arrival. */
  private readonly queue: Pending[] = [];
  private inflight = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The most recent executions (for statistics and tests). */
  readonly history: BatchRecord[] = [];

  constructor(
    readonly spec: ModelSpec,
    private readonly policy: QueuePolicy,
    private readonly run: RunFn,
    private readonly observer?: InferenceObserver,
  ) {}

  get queued(): number {
    return this.queue.length;
  }

  submit(inputs: Tensor[], outputs: string[], options: RequestOptions = {}): Promise<Tensor[]> {
    const policy = this.policy;
    // Fast path: nothing waiting and a slot free means this request would be dispatched alone at once.
    if (this.queue.length === 0 && this.inflight < policy.slots) {
      if (options.trace !== undefined) options.trace.queueNs = 0;
      return this.execute([{ inputs, outputs, rows: 0, trace: options.trace }]).then((r) => r[0]);
    }
    const signal = options.cancellation?.();
    if (signal?.aborted) return Promise.reject(clientGone());
    let rows = batchRows(inputs);
    if (policy.maxBatchSize > 1 && (rows < 0 || rows > policy.maxBatchSize)) rows = -1; // runs alone
    if (policy.maxQueueSize > 0 && this.queue.length >= policy.maxQueueSize && this.inflight >= policy.slots) {
      return Promise.reject(rejected(`the queue of model ${this.spec.label} is full (max_queue_size ${policy.maxQueueSize})`));
    }
    const priority = options.priority ?? policy.defaultPriority;
    return new Promise((resolve, reject) => {
      let timeout: NodeJS.Timeout | undefined;
      const pending: Pending = {
        inputs,
        outputs,
        rows: Math.max(rows, 0),
        trace: options.trace,
        signature: rows < 0 ? `alone:${Math.random()}` : batchSignature(inputs),
        priority,
        queuedAt: performance.now(),
        resolve,
        reject,
        cleanup: () => {
          if (timeout !== undefined) clearTimeout(timeout);
          signal?.removeEventListener('abort', onAbort);
        },
      };
      const leave = (error: TesseraError): void => {
        const i = this.queue.indexOf(pending);
        if (i < 0) return; // already dispatched: it runs to the end
        this.queue.splice(i, 1);
        pending.cleanup();
        reject(error);
      };
      const onAbort = (): void => leave(clientGone());
      signal?.addEventListener('abort', onAbort, { once: true });
      const timeoutMs = options.timeoutMs ?? policy.queueTimeoutMs;
      if (timeoutMs > 0) {
        timeout = setTimeout(() => leave(rejected(`request timed out in queue after ${timeoutMs} ms (model ${this.spec.label})`)), timeoutMs);
      }
      // Insert after every request of the same or higher priority: FIFO within a level.
      let at = this.queue.length;
      while (at > 0 && this.queue[at - 1].priority > priority) at--;
      this.queue.splice(at, 0, pending);
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0 && this.inflight < this.policy.slots) this.dispatch();
    this.schedule();
  }

  /** While batching requests wait for a slot, wake up when the oldest has waited max_batch_time. */
  private schedule(): void {
    if (this.policy.maxBatchSize <= 1 || this.policy.maxBatchTimeMs <= 0) return;
    if (this.timer !== undefined || this.queue.length === 0) return;
    const oldest = Math.min(...this.queue.map((p) => p.queuedAt));
    const due = oldest + this.policy.maxBatchTimeMs - performance.now();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const now = performance.now();
      while (this.queue.some((p) => now - p.queuedAt >= this.policy.maxBatchTimeMs)) this.dispatch();
      this.pump();
    }, Math.max(0, due));
  }

  private dispatch(): void {
    // Pick the members first (queue positions), then take them out: a preferred batch size may
    // leave some of them queued, untouched.
    const head = this.queue[0];
    const picked = [0];
    let rows = head.rows;
    for (let i = 1; i < this.queue.length && rows < this.policy.maxBatchSize; i++) {
      const p = this.queue[i];
      if (p.signature === head.signature && rows + p.rows <= this.policy.maxBatchSize) {
        picked.push(i);
        rows += p.rows;
      }
    }
    const count = this.preferredCount(picked.map((i) => this.queue[i].rows), rows);
    const group: Pending[] = [];
    for (let k = count - 1; k >= 0; k--) group.unshift(...this.queue.splice(picked[k], 1));
    for (const p of group) p.cleanup();
    const now = performance.now();
    for (const p of group) if (p.trace !== undefined) p.trace.queueNs = (now - p.queuedAt) * 1e6;
    this.execute(group).then(
      (results) => group.forEach((p, i) => p.resolve(results[i])),
      (error: unknown) => group.forEach((p) => p.reject(error)),
    );
  }

  /**
   * How many of the picked requests (rows in queue order) to run: all of them, unless they are not
   * a preferred batch size and a shorter prefix adds up to one exactly (the largest such prefix).
   */
  private preferredCount(rows: number[], total: number): number {
    const preferred = this.policy.preferredBatchSizes;
    if (preferred.length === 0 || rows.length < 2 || preferred.includes(total)) return rows.length;
    let sum = 0;
    let keep = rows.length;
    for (let i = 0; i < rows.length - 1; i++) {
      sum += rows[i];
      if (preferred.includes(sum)) keep = i + 1;
    }
    return keep;
  }

  /** Runs one execution for a group of requests and returns each request's outputs. */
  private async execute(group: Member[]): Promise<Tensor[][]> {
    this.inflight++;
    this.observer?.dispatched({ model: this.spec.model, version: this.spec.version }, this.queue.length);
    const dispatchedAt = epochMs();
    const clock: RunClock = { startedAt: dispatchedAt, endedAt: dispatchedAt };
    try {
      this.history.push({ requests: group.length, rows: group.reduce((n, p) => n + p.rows, 0) });
      if (this.history.length > 1000) this.history.splice(0, this.history.length - 1000);
      let results: Tensor[][];
      if (group.length === 1) {
        results = [await this.run(this.spec, group[0].inputs, group[0].outputs, clock)];
      } else {
        // Every output any request asked for, computed once; each request then gets its own.
        const union = [...new Set(group.flatMap((p) => p.outputs))];
        const outputs = await this.run(this.spec, mergeInputs(group.map((p) => p.inputs)), union, clock);
        const split = splitOutputs(outputs, group.map((p) => p.rows), this.spec.label);
        results = group.map((p, i) => p.outputs.map((name) => split[i][union.indexOf(name)]));
      }
      this.record(group, dispatchedAt, clock);
      return results;
    } finally {
      this.inflight--;
      queueMicrotask(() => this.pump());
    }
  }

  /** Reports a finished execution: its rows (dim 0; 1 for inputs without one) and compute times. */
  private record(group: Member[], dispatchedAt: number, clock: RunClock): void {
    if (this.observer === undefined) return;
    const doneAt = epochMs();
    const ns = (ms: number): number => Math.max(0, ms) * 1e6;
    const timing: ExecutionTiming = {
      computeInputNs: ns(clock.startedAt - dispatchedAt),
      computeInferNs: ns(clock.endedAt - clock.startedAt),
      computeOutputNs: ns(doneAt - clock.endedAt),
    };
    let rows = 0;
    for (const p of group) {
      rows += p.rows > 0 ? p.rows : Math.max(1, batchRows(p.inputs));
      if (p.trace !== undefined) p.trace.execution = timing;
    }
    this.observer.execution({ model: this.spec.model, version: this.spec.version }, rows, timing);
  }
}

const clientGone = (): TesseraError => new TesseraError('unavailable', 'the client went away', { reason: 'CANCELED' });
const rejected = (message: string): TesseraError => new TesseraError('unavailable', message, { reason: 'REJECTED' });
