// The messages that cross between the main thread and pool workers.
import type { Tensor } from '../core/tensor.js';
import type { ModelSpec, RuntimeMetadata } from '../runtimes/runtime.js';

export type WorkerTask =
  | { op: 'load'; spec: ModelSpec }
  | { op: 'infer'; spec: ModelSpec; inputs: Tensor[]; outputs: string[] }
  | { op: 'unload'; key: string };

export interface LoadResult {
  metadata: RuntimeMetadata;
  /** Milliseconds spent creating the session (0 when this worker already had it). */
  loadMs: number;
}

export interface InferResult {
  outputs: Tensor[];
}
