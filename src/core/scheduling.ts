// What the dataplane and the per-model scheduler agree on: a model's queue policy, the scheduling
// options of one request, the function that runs an execution, and why a request may be refused.
// Types only (bottom layer: nothing here imports from outside core/).
import type { ErrorCode } from './errors.js';
import type { RequestTrace } from './statistics.js';
import type { Tensor } from './tensor.js';
import type { Parameters } from './types.js';

/** A model's queue and batching settings, as normalised from its model settings at load. */
export interface QueueSettings {
  /** Most rows (dim 0) in one execution; 1 or less disables merging. */
  maxBatchSize: number;
  /** Longest a queued request waits for a slot before it is dispatched anyway, in ms (batching only; 0: no bound). */
  maxBatchTimeMs: number;
  /** Batch sizes (rows, ascending, none above maxBatchSize) to cut a batch to when more rows are queued; empty: none. */
  preferredBatchSizes: number[];
  /** Most requests waiting; 0 means no limit. */
  maxQueueSize: number;
  /** Default longest wait in the queue, in ms; 0 means none. */
  queueTimeoutMs: number;
  /** Priority levels: 1 (highest) .. priorityLevels. */
  priorityLevels: number;
  /** Level of requests that name none (1 .. priorityLevels; 0: the lowest). */
  defaultPriority: number;
}

/** The queue policy of one scheduler: the model's settings plus how many executions may run at once. */
export interface QueuePolicy extends QueueSettings {
  /** Executions of this model that may run at once (instances × executions per worker). */
  slots: number;
  /**
   * Batching: more executions that may be dispatched while `slots` are busy, but only with a batch
   * at least half of max_batch_size: the next batch then waits in the worker's queue when the
   * running one ends, instead of being formed only after its answer reached the main thread. A
   * trickle of requests still merges behind the busy slots. Absent: none.
   */
  spareSlots?: number;
}

/**
 * Per-request options, from the request's parameters and its context (connection, deadline): what
 * the dataplane hands the backend and the backend's scheduler reads. One type, one clock: every
 * time here is `performance.now()` milliseconds (monotonic, per process).
 */
export interface RequestOptions {
  /** 1 is the highest; absent or 0: the model's default level. */
  priority?: number;
  /** Longest wait in the queue, in ms (the `timeout` request parameter); absent: the model's queue_timeout. */
  timeoutMs?: number;
  /**
   * Absolute deadline of the whole request (the earlier of the client's and the model's
   * request_timeout), in `performance.now()` ms. A request whose deadline passes while queued leaves
   * with DEADLINE_EXCEEDED and never runs; one already past at dispatch is dropped, not run; one
   * running at its deadline is answered DEADLINE_EXCEEDED at once (its execution still ends: an
   * ONNX run cannot be interrupted, and the other requests of its batch keep their answers).
   * The scheduler keeps these deadlines in its own heap under one timer, never one per request.
   */
  deadline?: number;
  /** Set when `deadline` is the model's request_timeout (in ms), for the message that names it. */
  modelTimeoutMs?: number;
  /**
   * The signal that the client went away, made on demand: only a request that has to queue needs
   * one, and most never queue (creating it and its listeners costs on every request).
   */
  cancellation?: () => AbortSignal;
  /** Receives the request's time queued and its execution's compute times. */
  trace?: RequestTrace;
  /** The request's parameters (control keys left out), for runtimes that read them (an execution of this request alone). */
  parameters?: Parameters;
}

/**
 * When the worker ran the model, in ms since the epoch (comparable across threads); filled in by the
 * run. (workers/messages.ts has the same shape for the pool.)
 */
export interface RunClock {
  startedAt: number;
  endedAt: number;
}

/**
 * Runs one execution of a model: `outputs` names the outputs to compute, in the order they are
 * returned. The scheduler hands merged inputs when it batches; `parameters` are the request's when
 * the execution holds one request (a merged batch has none).
 */
export type RunFn = (inputs: Tensor[], outputs: string[], clock: RunClock, parameters?: Parameters) => Promise<Tensor[]>;

/** The model load a scheduler schedules for (a ModelSpec satisfies it). */
export interface ModelIdentity {
  /** Unique per load of a model version. */
  key: string;
  /** The model as people name it in messages: 'iris', or 'iris version 2'. */
  label: string;
  /** Model name and version ('' when unversioned), for statistics. */
  model: string;
  version: string;
}

/**
 * The error codes (core/errors.ts) with which the scheduler turns a request away without running it:
 * max_queue_size reached, queue timeout passed, the client's deadline passed, the client went away.
 */
export type QueueRefusal = Extract<ErrorCode, 'QUEUE_FULL' | 'QUEUE_TIMEOUT' | 'DEADLINE_EXCEEDED' | 'CANCELLED'>;
