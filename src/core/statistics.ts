// Inference statistics: what every request and every model execution cost, recorded once on the
// main thread (so counts are exact whatever the number of workers) and read by Triton's statistics
// extension (REST /stats, gRPC ModelStatistics) and by the Prometheus metrics.
//
// Semantics follow Triton's statistics extension:
// - a request is a success or a failure, with its duration from the dataplane's intake to its answer;
// - every successful request adds its time queued and the compute time of the execution it ran in
//   (compute_input: merge + hand-off to the worker; compute_infer: session.run in the worker;
//   compute_output: hand-back + split), so each request of a batch of 8 counts the whole execution;
// - an execution is one model run; inference_count adds its rows (batch size), execution_count 1,
//   and batch_stats keeps compute times per batch size (the mean batch = inferences ÷ executions).
import type { FailureReason } from './errors.js';

export type { FailureReason } from './errors.js';

/** Durations of one execution, in nanoseconds. */
export interface ExecutionTiming {
  computeInputNs: number;
  computeInferNs: number;
  computeOutputNs: number;
}

/** Filled in by the scheduler while a request goes through it. */
export interface RequestTrace {
  queueNs: number;
  execution?: ExecutionTiming;
}

export interface ModelRef {
  model: string;
  /** '' for an unversioned model. */
  version: string;
}

/** Receives what the scheduler and the dataplane measure (statistics, metrics). */
export interface InferenceObserver {
  /** An execution leaves the scheduler; `waiting` requests stay queued. */
  dispatched(ref: ModelRef, waiting: number): void;
  execution(ref: ModelRef, batchSize: number, timing: ExecutionTiming): void;
  request(ref: ModelRef, outcome: RequestOutcome): void;
}

export type RequestOutcome =
  | { ok: true; durationNs: number; trace: RequestTrace }
  | { ok: false; durationNs: number; reason: FailureReason };

/** Calls every observer in turn. */
export function observers(...list: InferenceObserver[]): InferenceObserver {
  return {
    dispatched: (ref, waiting) => {
      for (const o of list) o.dispatched(ref, waiting);
    },
    execution: (ref, batchSize, timing) => {
      for (const o of list) o.execution(ref, batchSize, timing);
    },
    request: (ref, outcome) => {
      for (const o of list) o.request(ref, outcome);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Triton's statistics JSON

/** Cumulative count and nanoseconds (exact integers up to 2^53 ns, about 104 days of summed time). */
export interface DurationStat {
  count: number;
  ns: number;
}

export interface BatchStatistics {
  batch_size: number;
  compute_input: DurationStat;
  compute_infer: DurationStat;
  compute_output: DurationStat;
}

export interface ModelStatistics {
  name: string;
  version: string;
  /** ms since the epoch of the last successful request; 0 before the first. */
  last_inference: number;
  inference_count: number;
  execution_count: number;
  inference_stats: {
    success: DurationStat;
    fail: DurationStat;
    queue: DurationStat;
    compute_input: DurationStat;
    compute_infer: DurationStat;
    compute_output: DurationStat;
    cache_hit: DurationStat;
    cache_miss: DurationStat;
  };
  batch_stats: BatchStatistics[];
  /** Not tracked (CPU memory is per process, not per model): always empty. */
  memory_usage: { type: string; id: number; byte_size: number }[];
  /** Per-response statistics of decoupled models; Tessera's models answer once: always empty. */
  response_stats: Record<string, never>;
}

const zero = (): DurationStat => ({ count: 0, ns: 0 });
const add = (d: DurationStat, ns: number): void => {
  d.count++;
  d.ns += Math.round(ns);
};

function emptyStatistics(ref: ModelRef): ModelStatistics {
  return {
    name: ref.model,
    version: ref.version,
    last_inference: 0,
    inference_count: 0,
    execution_count: 0,
    inference_stats: {
      success: zero(),
      fail: zero(),
      queue: zero(),
      compute_input: zero(),
      compute_infer: zero(),
      compute_output: zero(),
      cache_hit: zero(),
      cache_miss: zero(),
    },
    batch_stats: [],
    memory_usage: [],
    response_stats: {},
  };
}

/** The statistics of every model version since start-up (kept across reloads of a version). */
export class StatisticsStore implements InferenceObserver {
  private readonly models = new Map<string, ModelStatistics>();
  private readonly batches = new Map<string, Map<number, BatchStatistics>>();

  dispatched(): void {}

  private of(ref: ModelRef): ModelStatistics {
    const key = `${ref.model}\0${ref.version}`;
    let stats = this.models.get(key);
    if (stats === undefined) {
      stats = emptyStatistics(ref);
      this.models.set(key, stats);
    }
    return stats;
  }

  execution(ref: ModelRef, batchSize: number, timing: ExecutionTiming): void {
    const stats = this.of(ref);
    stats.execution_count++;
    stats.inference_count += batchSize;
    const key = `${ref.model}\0${ref.version}`;
    let bySize = this.batches.get(key);
    if (bySize === undefined) this.batches.set(key, (bySize = new Map()));
    let batch = bySize.get(batchSize);
    if (batch === undefined) {
      batch = { batch_size: batchSize, compute_input: zero(), compute_infer: zero(), compute_output: zero() };
      bySize.set(batchSize, batch);
      stats.batch_stats.push(batch);
      stats.batch_stats.sort((a, b) => a.batch_size - b.batch_size);
    }
    add(batch.compute_input, timing.computeInputNs);
    add(batch.compute_infer, timing.computeInferNs);
    add(batch.compute_output, timing.computeOutputNs);
  }

  request(ref: ModelRef, outcome: RequestOutcome): void {
    const s = this.of(ref);
    const i = s.inference_stats;
    if (!outcome.ok) {
      add(i.fail, outcome.durationNs);
      return;
    }
    s.last_inference = Date.now();
    add(i.success, outcome.durationNs);
    add(i.queue, outcome.trace.queueNs);
    const e = outcome.trace.execution;
    if (e !== undefined) {
      add(i.compute_input, e.computeInputNs);
      add(i.compute_infer, e.computeInferNs);
      add(i.compute_output, e.computeOutputNs);
    }
  }

  /** A version's statistics (zeros before its first request). */
  get(ref: ModelRef): ModelStatistics {
    return structuredClone(this.of(ref));
  }
}
