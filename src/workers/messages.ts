// The messages that cross between the main thread and pool workers.
import type { ErrorKind } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import type { ModelSpec, RuntimeMetadata } from '../runtimes/runtime.js';

export type WorkerTask =
  | { op: 'load'; spec: ModelSpec }
  | { op: 'infer'; spec: ModelSpec; inputs: Tensor[]; outputs: string[] }
  | { op: 'unload'; key: string }
  | { op: 'status' };

export interface LoadResult {
  metadata: RuntimeMetadata;
  /** Milliseconds spent creating the session (0 when this worker already had it). */
  loadMs: number;
}

export interface InferResult {
  outputs: Tensor[];
  /** When session.run started and ended, in ms since the epoch (comparable across threads). */
  startedAt: number;
  endedAt: number;
}

/** Filled in by the pool from an InferResult: when the worker ran the model (ms since the epoch). */
export interface RunClock {
  startedAt: number;
  endedAt: number;
}

/** Milliseconds since the epoch with sub-ms precision, the same clock in every thread. */
export const epochMs = (): number => performance.timeOrigin + performance.now();

/** A request error found in a worker (a bad input, say), sent back with its kind for the status. */
export interface WorkerError {
  error: { kind: ErrorKind; message: string };
}
