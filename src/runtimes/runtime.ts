// The small interface every runtime implements. Runtimes live inside pool workers: nothing here is
// ever called on the main thread, where a blocking run would stall every connection.
import type { Tensor } from '../core/tensor.js';
import type { TensorMetadata } from '../core/types.js';

/** Session tuning, resolved from model settings and the pool size before it reaches a worker. */
export interface SessionSpec {
  intraOpThreads: number;
  interOpThreads: number;
  allowSpinning: boolean;
  graphOptimizationLevel: 'disabled' | 'basic' | 'extended' | 'all';
  executionMode: 'sequential' | 'parallel';
}

/** Everything a worker needs to load one model version, so any worker can load it on demand. */
export interface ModelSpec {
  /** Unique per load of a model version (a reload gets a new key). */
  key: string;
  /** The model as people name it: 'iris', or 'iris version 2'. */
  label: string;
  /** Model name and version ('' when unversioned), for statistics and metrics labels. */
  model: string;
  version: string;
  /** Absolute path of the model file. */
  path: string;
  session: SessionSpec;
  /** Workers that hold this model (Triton's instance_group count); default every worker. */
  instances?: number;
  /** Queue policy and batching (used on the main thread only). */
  queue?: {
    maxBatchSize: number;
    maxBatchTimeMs: number;
    /** Batch sizes to prefer when more rows are queued (ascending); empty: none. */
    preferredBatchSizes: number[];
    maxQueueSize: number;
    queueTimeoutMs: number;
    priorityLevels: number;
    defaultPriority: number;
  };
}

export interface RuntimeMetadata {
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  /** Outputs left out because they are not tensors (ZipMap maps, sequences), for a warning. */
  skippedOutputs: string[];
}

export interface LoadedModel {
  readonly metadata: RuntimeMetadata;
  /** Runs the model; `outputs` names the outputs to compute, in the order they are returned. */
  run(inputs: readonly Tensor[], outputs: readonly string[]): Promise<Tensor[]>;
  dispose(): Promise<void>;
}

export interface Runtime {
  readonly name: string;
  load(spec: ModelSpec): Promise<LoadedModel>;
}
