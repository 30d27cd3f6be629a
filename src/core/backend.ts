// What the dataplane needs from whatever runs models (the scheduler in front of the worker pool):
// the backend interface, and the model spec that describes one load of a model version to it.
// Declared here, implemented above (batching/, workers/): core imports no other room.
import type { QueueSettings, RequestOptions } from './scheduling.js';
import type { ModelSettings } from './settings.js';
import type { Tensor } from './tensor.js';
import type { TensorMetadata } from './types.js';

/**
 * A model's bytes, read (or made, by a runtime's `prepare` step) once per load and shared by every
 * worker, including a replacement for a worker that died: `bytes` lies over a SharedArrayBuffer,
 * which crosses to worker threads without a copy. Workers never read the model from disk again.
 */
export interface ModelArtifact {
  bytes: Uint8Array;
  /** What the bytes are (e.g. 'onnx'), for log lines and runtimes that accept several forms. */
  format: string;
  /** Small facts the prepare step found (plain data), for the runtime that loads the bytes. */
  metadata?: Record<string, unknown>;
  /** Facts for the load log line (a conversion's time, a cache hit, sizes): plain values only. */
  report?: Record<string, string | number | boolean>;
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
  /** The runtime that loads it: its name in the runtime registry. */
  runtime: string;
  /** The model's file or folder (absolute): what the runtime reads when there is no artifact yet. */
  path: string;
  /** The model's folder (relative paths in its settings resolve against it). */
  folder: string;
  /** The runtime's options (parameters.extra), validated and resolved on the main thread. */
  options: unknown;
  /** The model settings as read, for runtimes that hand them to user code. */
  settings: ModelSettings;
  /** The bytes every worker loads from, once the first load (or `prepare`) has made them. */
  artifact?: ModelArtifact;
  /** Workers that hold this model (Triton's instance_group count). */
  instances?: number;
  /** Longest one execution may run on a worker, in ms (the model's request_timeout); 0: none. */
  timeoutMs: number;
  /** Queue policy and batching (main thread only). */
  queue?: QueueSettings;
}

/** What a runtime reports about a loaded model. */
export interface RuntimeMetadata {
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  /** Outputs left out because they are not tensors (ZipMap maps, sequences), for a warning. */
  skippedOutputs: string[];
}

export interface LoadResult {
  metadata: RuntimeMetadata;
  /** The slowest worker's load time, ms. */
  loadMs: number;
}

export type { RequestOptions } from './scheduling.js';

/** What runs models: the scheduler and worker pool. */
export interface InferenceBackend {
  /** Worker threads in the pool. */
  readonly size: number;
  /** Loads a model on its workers (running the runtime's prepare step first, in one worker). */
  load(spec: ModelSpec): Promise<LoadResult>;
  unload(key: string): Promise<void>;
  /** Unloads a model load once the requests using it have finished. */
  retire(key: string): Promise<void>;
  infer(spec: ModelSpec, inputs: Tensor[], outputs: string[], options?: RequestOptions): Promise<Tensor[]>;
}
