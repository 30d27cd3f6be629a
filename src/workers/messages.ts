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
}

/** A request error found in a worker (a bad input, say), sent back with its kind for the status. */
export interface WorkerError {
  error: { kind: ErrorKind; message: string };
}
