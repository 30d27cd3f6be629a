// The adaptive batcher: one per model load with max_batch_size > 1.
//
// Semantics:
// - No idle wait. When one of the model's execution slots is free, whatever is queued is sent at
//   once (up to max_batch_size rows). A lone request never waits for company.
// - Requests queue only while every slot is busy; when a slot frees, the queue head and every queued
//   request compatible with it (same input names, datatypes and dims but dim 0) are merged, up to
//   max_batch_size rows. Incompatible requests wait for a later batch: shapes are never mixed.
// - max_batch_time bounds that wait: a request queued longer than it is dispatched even though no
//   slot is free (it then waits in a worker's queue instead of the batcher's).
// - A request with more rows than max_batch_size, or whose inputs disagree on dim 0, runs alone.
import type { Tensor } from '../core/tensor.js';
import type { ModelSpec } from '../runtimes/runtime.js';
import { batchRows, batchSignature, mergeInputs, splitOutputs } from './merge.js';

export interface BatchPolicy {
  /** Most rows (dim 0) in one execution. */
  maxBatchSize: number;
  /** Longest a queued request waits for a slot, in ms. */
  maxBatchTimeMs: number;
  /** Executions of this model that may run at once (its instances). */
  slots: number;
}

export type RunFn = (spec: ModelSpec, inputs: Tensor[], outputs: string[]) => Promise<Tensor[]>;

interface Pending {
  inputs: Tensor[];
  outputs: string[];
  rows: number;
  signature: string;
  queuedAt: number;
  resolve: (outputs: Tensor[]) => void;
  reject: (error: unknown) => void;
}

export interface BatchRecord {
  requests: number;
  rows: number;
}

export class AdaptiveBatcher {
  private readonly queue: Pending[] = [];
  private inflight = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The most recent executions (for statistics and tests). */
  readonly history: BatchRecord[] = [];

  constructor(
    private readonly spec: ModelSpec,
    private readonly policy: BatchPolicy,
    private readonly run: RunFn,
    private readonly model: string,
  ) {}

  get queued(): number {
    return this.queue.length;
  }

  submit(inputs: Tensor[], outputs: string[]): Promise<Tensor[]> {
    const rows = batchRows(inputs);
    if (rows < 0 || rows > this.policy.maxBatchSize) return this.execute([{ inputs, outputs, rows: Math.max(rows, 0) }]).then((r) => r[0]);
    return new Promise((resolve, reject) => {
      this.queue.push({ inputs, outputs, rows, signature: batchSignature(inputs), queuedAt: performance.now(), resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0 && this.inflight < this.policy.slots) this.dispatch();
    this.schedule();
  }

  /** While requests wait for a slot, wake up when the oldest has waited max_batch_time. */
  private schedule(): void {
    if (this.timer !== undefined || this.queue.length === 0) return;
    const due = this.queue[0].queuedAt + this.policy.maxBatchTimeMs - performance.now();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const now = performance.now();
      while (this.queue.length > 0 && now - this.queue[0].queuedAt >= this.policy.maxBatchTimeMs) this.dispatch();
      this.pump();
    }, Math.max(0, due));
  }

  private dispatch(): void {
    const head = this.queue.shift()!;
    const group = [head];
    let rows = head.rows;
    for (let i = 0; i < this.queue.length && rows < this.policy.maxBatchSize; ) {
      const p = this.queue[i];
      if (p.signature === head.signature && rows + p.rows <= this.policy.maxBatchSize) {
        group.push(p);
        rows += p.rows;
        this.queue.splice(i, 1);
      } else {
        i++;
      }
    }
    this.execute(group).then(
      (results) => group.forEach((p, i) => p.resolve(results[i])),
      (error: unknown) => group.forEach((p) => p.reject(error)),
    );
  }

  /** Runs one execution for a group of requests and returns each request's outputs. */
  private async execute(group: { inputs: Tensor[]; outputs: string[]; rows: number }[]): Promise<Tensor[][]> {
    this.inflight++;
    try {
      this.history.push({ requests: group.length, rows: group.reduce((n, p) => n + p.rows, 0) });
      if (this.history.length > 1000) this.history.splice(0, this.history.length - 1000);
      if (group.length === 1) return [await this.run(this.spec, group[0].inputs, group[0].outputs)];
      // Every output any request asked for, computed once; each request then gets its own.
      const union = [...new Set(group.flatMap((p) => p.outputs))];
      const outputs = await this.run(this.spec, mergeInputs(group.map((p) => p.inputs)), union);
      const split = splitOutputs(outputs, group.map((p) => p.rows), this.model);
      return group.map((p, i) => p.outputs.map((name) => split[i][union.indexOf(name)]));
    } finally {
      this.inflight--;
      queueMicrotask(() => this.pump());
    }
  }
}
